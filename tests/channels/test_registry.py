"""The channel registry: one class per kind, found by kind, built from settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

import pytest

from notifications.channels import base, push, slack, teams, webhook
from notifications.channels.base import Channel, Delivery, OutgoingMessage


def test_each_kind_has_its_channel() -> None:
    assert base.channel_for("slack") is slack.SlackChannel
    assert base.channel_for("teams") is teams.TeamsChannel
    assert base.channel_for("push") is push.PushChannel
    assert base.channel_for("webhook") is webhook.WebhookChannel


def test_an_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="no channel 'pager'; known: push, slack, teams, webhook"):
        base.channel_for("pager")


def _channel_class(kind: str) -> type[Channel]:
    class Example(Channel):
        @classmethod
        def from_settings(cls, options: Mapping[str, str] | None = None) -> Self:
            return cls()

        def send(self, message: OutgoingMessage) -> Delivery:
            return Delivery()

    Example.kind = kind
    return Example


def test_two_channels_cannot_claim_one_kind() -> None:
    with pytest.raises(ValueError, match="two channels claim the kind 'slack'"):
        base.register(_channel_class("slack"))
    assert base.CHANNELS["slack"] is slack.SlackChannel


def test_a_kind_must_fit_the_notification_column() -> None:
    with pytest.raises(ValueError, match="longer than 8"):
        base.register(_channel_class("carrier-pigeon"))


def test_every_channel_builds_from_default_settings(settings: Any) -> None:
    for kind, cls in base.CHANNELS.items():
        options = {"secret": webhook.secret_new()} if kind == "webhook" else {}
        assert isinstance(cls.from_settings(options), cls)


def test_unconfigured_slack_and_push_record_instead_of_sending(settings: Any) -> None:
    settings.SLACK_BOT_TOKEN = ""
    settings.WEBPUSH_VAPID_PRIVATE_KEY = ""
    for kind in ("slack", "push"):
        sent = (
            base.channel_for(kind)
            .from_settings()
            .send(OutgoingMessage(destination="C1", purpose=base.Purpose.TEST, text="hi"))
        )
        assert sent.outbox is True
