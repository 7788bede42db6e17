"""The generic JSON webhook (integrations.sources.webhook)."""

from __future__ import annotations

import json

import pytest

from integrations.sources import webhook
from integrations.sources.events import TITLE_MAX_LENGTH, SourceError, stable_hash
from tests.sources.fixtures import fixture_bytes, fixture_json


def test_common_keys_give_title_description_and_severity() -> None:
    [event] = webhook.parse(fixture_bytes("webhook", "titled.json"))
    assert event.source == "webhook"
    assert event.action == "trigger"
    assert event.title == "Certificate for shop.example.net expires in 6 days"
    assert event.description.startswith("The TLS certificate")
    assert event.severity == "warning"
    assert event.details["days_left"] == 6


def test_dedup_key_is_a_stable_hash_of_the_body() -> None:
    [event] = webhook.parse(fixture_bytes("webhook", "titled.json"))
    data = fixture_json("webhook", "titled.json")
    assert event.dedup_key == stable_hash(data)
    reordered = json.dumps(dict(reversed(list(data.items()))), indent=4).encode()
    assert webhook.parse(reordered)[0].dedup_key == event.dedup_key


def test_a_body_without_common_keys_still_makes_an_alert() -> None:
    [event] = webhook.parse(fixture_bytes("webhook", "nested.json"))
    assert event.title == "Webhook alert"
    assert event.severity == "error"
    assert event.details["event"]["monitor"]["name"] == "Status page"


def test_title_key_order_is_title_summary_message_subject_name() -> None:
    [event] = webhook.parse(b'{"name": "n", "message": "m", "summary": " "}')
    assert event.title == "m"


def test_any_json_value_is_accepted() -> None:
    [event] = webhook.parse(fixture_bytes("webhook", "array.json"))
    assert event.title == "Webhook alert"
    assert event.details == {"payload": fixture_json("webhook", "array.json")}


def test_very_long_titles_are_cut() -> None:
    [event] = webhook.parse(json.dumps({"title": "t" * 5000}).encode())
    assert len(event.title) == TITLE_MAX_LENGTH
    assert event.title.endswith("…")


def test_non_json_is_refused() -> None:
    with pytest.raises(SourceError):
        webhook.parse(b"<xml/>")
