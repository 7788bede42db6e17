"""Microsoft Teams through a Workflows webhook: the Adaptive Card message, and what the
workflow's answers mean."""

from __future__ import annotations

from typing import Any

import pytest

from notifications.channels import teams
from notifications.channels.base import ChannelError, PermanentChannelError, Purpose
from tests.channels.conftest import incident, message
from tests.fakes.server import Reply, WebhookReceiver


def channel(**kwargs: Any) -> teams.TeamsChannel:
    kwargs.setdefault("allow_private", True)  # the fake workflow is on loopback
    kwargs.setdefault("timeout", 2.0)
    return teams.TeamsChannel(**kwargs)


def buttons(card: dict[str, Any]) -> dict[str, str]:
    return {a["title"]: a["url"] for a in card.get("actions", []) if a["type"] == "Action.OpenUrl"}


def test_a_triggered_incident_posts_an_adaptive_card_with_signed_action_links() -> None:
    with WebhookReceiver(status=202, body=b"") as workflow:
        delivery = channel().send(message(workflow.url("/workflows/abc/triggers/manual")))

    [request] = workflow.requests
    sent = request.json()
    assert sent["type"] == "message"
    [attachment] = sent["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    assert card["body"][0]["text"] == "#12 CPU high on db-1"
    facts = {f["title"]: f["value"] for f in card["body"][2]["facts"]}
    assert facts == {
        "State": "Triggered",
        "Severity": "critical",
        "Integration": "prod AWS",
        "Opened": "2025-03-04 05:06 UTC",
    }
    assert buttons(card) == {
        "Acknowledge": "https://klaxon.example.com/n/act/ACK-TOKEN/",
        "Resolve": "https://klaxon.example.com/n/act/RESOLVE-TOKEN/",
        "Open in Klaxon": "https://klaxon.example.com/incidents/12/",
    }
    assert request.headers["content-type"] == "application/json"
    assert delivery.provider_status == "202"
    assert delivery.subject == "#12 CPU high on db-1"


def test_buttons_follow_the_incident_state() -> None:
    acked = teams.adaptive_card(
        message("https://x.example/", incident=incident(state="acknowledged"))
    )
    assert list(buttons(acked)) == ["Resolve", "Open in Klaxon"]
    resolved = teams.adaptive_card(
        message("https://x.example/", incident=incident(state="resolved"))
    )
    assert list(buttons(resolved)) == ["Open in Klaxon"]


def test_a_test_message_is_a_card_without_incident_or_buttons() -> None:
    card = teams.adaptive_card(
        message("https://x.example/", purpose=Purpose.TEST, incident=None, text="It works")
    )
    assert [b["text"] for b in card["body"]] == ["Klaxon test message", "It works"]
    assert "actions" not in card


@pytest.mark.parametrize(
    ("reply", "permanent", "words"),
    [
        (Reply(404, b""), True, "the workflow was deleted"),
        (Reply(400, b"InvalidRequestContent"), True, "InvalidRequestContent"),
        (Reply(401, b"DirectApiAuthorizationRequired"), True, "refused the request"),
        (Reply(502, b""), False, "will try again"),
        (Reply(429, b"", {"Retry-After": "30"}), False, "will try again"),
    ],
)
def test_workflow_answers_map_to_permanent_or_transient(
    receiver: WebhookReceiver, reply: Reply, permanent: bool, words: str
) -> None:
    receiver.then_reply(reply)
    with pytest.raises(ChannelError) as failed:
        channel().send(message(receiver.url()))
    assert failed.value.permanent is permanent
    assert words in failed.value.message
    assert failed.value.message.startswith("the Teams workflow answered")


def test_a_slow_workflow_is_a_transient_timeout(receiver: WebhookReceiver) -> None:
    receiver.then_reply(Reply(202, b"", delay=1.5))
    with pytest.raises(ChannelError) as failed:
        channel(timeout=0.3).send(message(receiver.url()))
    assert (failed.value.permanent, failed.value.code) == (False, "timeout")


def test_a_workflow_url_on_a_private_address_is_refused(receiver: WebhookReceiver) -> None:
    with pytest.raises(PermanentChannelError, match="loopback"):
        channel(allow_private=False).send(message(receiver.url()))
    assert receiver.requests == []
