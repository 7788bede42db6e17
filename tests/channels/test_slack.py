"""Slack: incident messages with buttons, updated in place with the timeline in their
thread, DMs, what Slack's errors mean, and the checks on requests from Slack."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlencode

import pytest

from notifications.channels import slack
from notifications.channels.base import ChannelError, PermanentChannelError, Purpose
from tests.channels.conftest import incident, message
from tests.fakes.server import Reply
from tests.fakes.slack import BOT_TOKEN, FakeSlack


def channel(fake: FakeSlack, token: str = BOT_TOKEN, **kwargs: Any) -> slack.SlackChannel:
    return slack.SlackChannel(token=token, api_base=fake.api_base, **kwargs)


def actions(blocks: list[dict[str, Any]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for block in blocks:
        if block["type"] == "actions":
            for element in block["elements"]:
                found[element["action_id"]] = element.get("value") or element.get("url", "")
    return found


# --- Outgoing ---------------------------------------------------------------------------


def test_an_incident_is_posted_with_its_facts_and_buttons(fake_slack: FakeSlack) -> None:
    fake_slack.channels["C0INCIDENTS"] = "member"
    delivery = channel(fake_slack).send(message("C0INCIDENTS"))

    [posted] = fake_slack.messages.values()
    assert delivery.provider_id == f"C0INCIDENTS:{posted.ts}"
    assert delivery.provider_status == "posted"
    assert posted.blocks[0]["text"]["text"] == "#12 CPU high on db-1"
    fields = [f["text"] for f in posted.blocks[2]["fields"]]
    assert fields == ["*State*\nTriggered", "*Severity*\ncritical", "*Integration*\nprod AWS"]
    assert actions(posted.blocks) == {
        "klaxon_acknowledge": "12",
        "klaxon_resolve": "12",
        "klaxon_escalate": "12",
        "klaxon_open": "https://klaxon.example.com/incidents/12/",
    }
    assert posted.text == "#12 CPU high on db-1 (triggered) - Paging alice: escalation step 1 of 2"
    assert (
        fake_slack.calls("chat.postMessage")[0].headers["authorization"] == f"Bearer {BOT_TOKEN}"
    )


def test_a_follow_up_updates_the_message_in_place_and_adds_to_its_thread(
    fake_slack: FakeSlack,
) -> None:
    fake_slack.channels["C0INCIDENTS"] = "member"
    sender = channel(fake_slack)
    first = sender.send(message("C0INCIDENTS"))

    second = sender.send(
        message(
            "C0INCIDENTS",
            purpose=Purpose.ACKNOWLEDGED,
            incident=incident(state="acknowledged"),
            text="Acknowledged by alice",
            reference=first.provider_id,
        )
    )

    assert second.provider_id == first.provider_id
    assert second.provider_status == "updated"
    posted = fake_slack.messages[("C0INCIDENTS", first.provider_id.split(":")[1])]
    assert posted.updates == 1
    assert list(actions(posted.blocks)) == ["klaxon_resolve", "klaxon_escalate", "klaxon_open"]
    assert [r.text for r in posted.replies] == ["Acknowledged by alice"]
    assert posted.replies[0].thread_ts == posted.ts


def test_a_resolved_incident_keeps_only_the_link() -> None:
    blocks = slack.incident_blocks(message("C1", incident=incident(state="resolved")))
    assert list(actions(blocks)) == ["klaxon_open"]


def test_alarm_text_cannot_ping_the_channel_or_make_links(fake_slack: FakeSlack) -> None:
    fake_slack.channels["C1"] = "member"
    channel(fake_slack).send(
        message(
            "C1",
            incident=incident(title="<!channel> disk", integration="<https://evil|click>"),
            text="<@U123> & co",
        )
    )
    [posted] = fake_slack.messages.values()
    # Slack parses mentions and links in mrkdwn (and the fallback text), not in plain_text.
    mrkdwn = [posted.text] + [t for t in texts(posted.blocks) if t["type"] == "mrkdwn"]
    everything = " ".join(t if isinstance(t, str) else t["text"] for t in mrkdwn)
    assert "<!channel>" not in everything and "<@U123>" not in everything
    assert "<https://evil" not in everything
    assert "&lt;!channel&gt;" in posted.text
    assert "&lt;https://evil|click&gt;" in everything


def texts(blocks: list[dict[str, Any]]) -> list[dict[str, str]]:
    found = []
    for block in blocks:
        found += [block["text"]] if "text" in block else []
        found += block.get("fields", [])
    return found


def test_a_user_gets_a_direct_message(fake_slack: FakeSlack) -> None:
    fake_slack.users["alice@example.com"] = "U0ALICE"
    delivery = channel(fake_slack).send(message("U0ALICE"))

    assert [r.path for r in fake_slack.requests] == [
        "/api/conversations.open",
        "/api/chat.postMessage",
    ]
    assert FakeSlack.params(fake_slack.requests[0])["users"] == "U0ALICE"
    assert delivery.provider_id.startswith("D0ALICE:")


def test_an_email_destination_is_looked_up_first(fake_slack: FakeSlack) -> None:
    fake_slack.users["alice@example.com"] = "U0ALICE"
    delivery = channel(fake_slack).send(message("alice@example.com"))

    assert [r.path for r in fake_slack.requests] == [
        "/api/users.lookupByEmail",
        "/api/conversations.open",
        "/api/chat.postMessage",
    ]
    assert delivery.provider_id.startswith("D0ALICE:")
    assert channel(fake_slack).lookup_user_by_email("alice@example.com") == "U0ALICE"


@pytest.mark.parametrize(
    ("setup", "destination", "code", "words"),
    [
        (lambda f: None, "C0GONE", "channel_not_found", "does not exist"),
        (lambda f: f.channels.update(C0X="not_in_channel"), "C0X", "not_in_channel", "/invite"),
        (lambda f: f.channels.update(C0X="is_archived"), "C0X", "is_archived", "archived"),
        (lambda f: None, "nobody@example.com", "users_not_found", "no Slack user"),
        (lambda f: None, "U0NOBODY", "user_not_found", "no such Slack user"),
        (lambda f: None, "#general", "destination", "not a Slack channel id"),
    ],
)
def test_what_slack_refuses_is_permanent_and_says_what_to_do(
    fake_slack: FakeSlack, setup: Any, destination: str, code: str, words: str
) -> None:
    setup(fake_slack)
    with pytest.raises(PermanentChannelError) as failed:
        channel(fake_slack).send(message(destination))
    assert failed.value.code == code
    assert words in failed.value.message


def test_a_wrong_token_is_permanent(fake_slack: FakeSlack) -> None:
    fake_slack.channels["C1"] = "member"
    with pytest.raises(PermanentChannelError) as failed:
        channel(fake_slack, token="xoxb-revoked").send(message("C1"))
    assert failed.value.code == "invalid_auth"
    assert "SLACK_BOT_TOKEN" in failed.value.message


def test_an_inactive_account_is_permanent(fake_slack: FakeSlack) -> None:
    fake_slack.then_reply(Reply.json(200, {"ok": False, "error": "account_inactive"}))
    with pytest.raises(PermanentChannelError, match="deactivated"):
        channel(fake_slack).send(message("C1"))


def test_a_missing_scope_names_the_scope(fake_slack: FakeSlack) -> None:
    fake_slack.then_reply(
        Reply.json(200, {"ok": False, "error": "missing_scope", "needed": "users:read.email"})
    )
    with pytest.raises(PermanentChannelError, match=r"users:read\.email"):
        channel(fake_slack).send(message("someone@example.com"))


def test_updating_a_deleted_message_is_permanent(fake_slack: FakeSlack) -> None:
    fake_slack.channels["C1"] = "member"
    with pytest.raises(PermanentChannelError) as failed:
        channel(fake_slack).send(message("C1", reference="C1:1700000000.000999"))
    assert failed.value.code == "message_not_found"


def test_a_rate_limit_is_transient_with_slacks_retry_after(fake_slack: FakeSlack) -> None:
    fake_slack.then_reply(
        Reply.json(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "7"})
    )
    with pytest.raises(ChannelError) as failed:
        channel(fake_slack).send(message("C1"))
    assert (failed.value.permanent, failed.value.code, failed.value.retry_after) == (
        False,
        "ratelimited",
        7,
    )
    assert len(fake_slack.requests) == 1  # the channel does not retry by itself


@pytest.mark.parametrize(
    "reply",
    [
        Reply(503, b"<html>Service Unavailable</html>", {"Content-Type": "text/html"}),
        Reply.json(200, {"ok": False, "error": "internal_error"}),
        Reply.json(200, {"ok": False, "error": "fatal_error"}),
    ],
)
def test_slack_outages_are_transient(fake_slack: FakeSlack, reply: Reply) -> None:
    fake_slack.then_reply(reply)
    with pytest.raises(ChannelError) as failed:
        channel(fake_slack).send(message("C1"))
    assert failed.value.permanent is False
    assert failed.value.code in ("http_503", "internal_error", "fatal_error")


def test_a_slow_slack_is_a_transient_timeout(fake_slack: FakeSlack) -> None:
    fake_slack.channels["C1"] = "member"
    fake_slack.then_reply(Reply.json(200, {"ok": True, "ts": "1.2"}, delay=2.5))
    with pytest.raises(ChannelError) as failed:
        channel(fake_slack, timeout=1).send(message("C1"))
    assert (failed.value.permanent, failed.value.code) == (False, "timeout")


def test_an_unreachable_slack_is_transient() -> None:
    fake = FakeSlack().start()
    base = fake.api_base
    fake.stop()
    with pytest.raises(ChannelError) as failed:
        slack.SlackChannel(token=BOT_TOKEN, api_base=base).send(message("C1"))
    assert (failed.value.permanent, failed.value.code) == (False, "unreachable")


def test_without_a_token_messages_are_recorded_not_sent(fake_slack: FakeSlack) -> None:
    delivery = channel(fake_slack, token="").send(message("C1"))
    assert (delivery.outbox, delivery.provider_status) == (True, "recorded")
    assert delivery.subject == "#12 CPU high on db-1"
    assert fake_slack.requests == []


def test_from_settings_uses_the_configured_api_base(fake_slack: FakeSlack, settings: Any) -> None:
    settings.SLACK_BOT_TOKEN = BOT_TOKEN
    settings.SLACK_API_BASE = fake_slack.api_base
    fake_slack.channels["C1"] = "member"
    built = slack.SlackChannel.from_settings()
    assert built.send(message("C1")).provider_status == "posted"


# --- Requests from Slack ----------------------------------------------------------------

# The worked example in Slack's "Verifying requests from Slack".
DOC_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
DOC_TIMESTAMP = "1531420618"
DOC_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id="
    b"G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook"
    b"-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F3977"
    b"00885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d"
    b"10d2c447fce8b6703c"
)
DOC_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
NOW = float(DOC_TIMESTAMP) + 10


def test_slacks_documented_example_verifies() -> None:
    slack.verify_slack_request(DOC_BODY, DOC_TIMESTAMP, DOC_SIGNATURE, DOC_SECRET, NOW)


@pytest.mark.parametrize(
    ("body", "timestamp", "signature", "secret", "now", "problem"),
    [
        (DOC_BODY, DOC_TIMESTAMP, DOC_SIGNATURE, DOC_SECRET, NOW + 300, "more than 5 minutes"),
        (DOC_BODY, DOC_TIMESTAMP, DOC_SIGNATURE, DOC_SECRET, NOW - 400, "more than 5 minutes"),
        (DOC_BODY + b"&x=1", DOC_TIMESTAMP, DOC_SIGNATURE, DOC_SECRET, NOW, "does not match"),
        (DOC_BODY, DOC_TIMESTAMP, DOC_SIGNATURE, "another-secret", NOW, "does not match"),
        (DOC_BODY, DOC_TIMESTAMP, DOC_SIGNATURE[:-1] + "4", DOC_SECRET, NOW, "does not match"),
        (DOC_BODY, DOC_TIMESTAMP, "", DOC_SECRET, NOW, "not signed"),
        (DOC_BODY, "yesterday", DOC_SIGNATURE, DOC_SECRET, NOW, "not a number"),
        (DOC_BODY, DOC_TIMESTAMP, DOC_SIGNATURE, "", NOW, "SLACK_SIGNING_SECRET is not set"),
    ],
    ids=["stale", "future", "tampered", "wrong-secret", "wrong-digit", "unsigned",
         "bad-timestamp", "no-secret"],
)  # fmt: skip
def test_bad_slack_requests_are_refused_with_the_reason(
    body: bytes, timestamp: str, signature: str, secret: str, now: float, problem: str
) -> None:
    with pytest.raises(slack.SlackRequestError, match=problem):
        slack.verify_slack_request(body, timestamp, signature, secret, now)


def signed(body: bytes, secret: str = "s3cret", timestamp: int = 1_700_000_000) -> str:
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def interaction(action_id: str = "klaxon_acknowledge", value: str = "12", **extra: Any) -> bytes:
    payload = {
        "type": "block_actions",
        "user": {"id": "U0ALICE", "username": "alice", "team_id": "T0TEAM"},
        "team": {"id": "T0TEAM"},
        "channel": {"id": "C0INCIDENTS"},
        "container": {"type": "message", "message_ts": "1700000001.000001"},
        "response_url": "https://hooks.slack.com/actions/T0TEAM/1/abc",
        "actions": [{"type": "button", "action_id": action_id, "value": value}],
        **extra,
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def test_a_button_click_is_verified_and_read() -> None:
    body = interaction("klaxon_escalate", "12")
    slack.verify_slack_request(body, "1700000000", signed(body), "s3cret", 1_700_000_030)
    assert slack.parse_interaction(body) == slack.SlackAction(
        action="escalate",
        incident_number=12,
        user_id="U0ALICE",
        user_name="alice",
        team_id="T0TEAM",
        channel_id="C0INCIDENTS",
        message_ts="1700000001.000001",
        response_url="https://hooks.slack.com/actions/T0TEAM/1/abc",
    )


def test_the_buttons_we_post_are_the_buttons_we_read() -> None:
    for element in slack.action_buttons(message("C1")):
        if "value" in element:
            clicked = slack.parse_interaction(interaction(element["action_id"], element["value"]))
            assert clicked.incident_number == 12
            assert clicked.action in slack.ACTIONS


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"", "no payload"),
        (b"payload=%7Bnot-json", "not JSON"),
        (urlencode({"payload": '{"type": "view_submission"}'}).encode(), "unsupported"),
        (interaction(actions=[]), "names no action"),
        (interaction("klaxon_delete_everything"), "unknown action"),
        (interaction("someone_elses_button"), "unknown action"),
        (interaction(value="twelve"), "no incident number"),
    ],
)
def test_odd_interactions_are_refused(body: bytes, problem: str) -> None:
    with pytest.raises(slack.SlackRequestError, match=problem):
        slack.parse_interaction(body)


def command(text: str) -> bytes:
    return urlencode(
        {
            "command": "/klaxon",
            "text": text,
            "user_id": "U0ALICE",
            "user_name": "alice",
            "team_id": "T0TEAM",
            "channel_id": "C0INCIDENTS",
            "response_url": "https://hooks.slack.com/commands/T0TEAM/1/abc",
        }
    ).encode()


@pytest.mark.parametrize(
    ("text", "action", "number", "argument"),
    [
        ("oncall", "oncall", None, ""),
        ("oncall Platform primary", "oncall", None, "Platform primary"),
        ("ack 12", "acknowledge", 12, "12"),
        ("ACK #12", "acknowledge", 12, "#12"),
        ("acknowledge 7", "acknowledge", 7, "7"),
        ("resolve 12", "resolve", 12, "12"),
        ("help", "help", None, ""),
        ("", "help", None, ""),
    ],
)
def test_slash_commands_are_understood(
    text: str, action: str, number: int | None, argument: str
) -> None:
    parsed = slack.parse_slash_command(command(text))
    assert (parsed.action, parsed.incident_number, parsed.argument) == (action, number, argument)
    assert (parsed.user_id, parsed.team_id, parsed.problem) == ("U0ALICE", "T0TEAM", "")


@pytest.mark.parametrize(
    ("text", "problem"),
    [("ack", "needs an incident number"), ("ack twelve", "needs an incident number"),
     ("reboot prod", "Unknown command 'reboot'")],
)  # fmt: skip
def test_misunderstood_commands_get_help_with_the_problem(text: str, problem: str) -> None:
    parsed = slack.parse_slash_command(command(text))
    assert parsed.action == "help"
    assert problem in parsed.help_text()
    assert "/klaxon ack <incident number>" in parsed.help_text()
    assert slack.ephemeral_reply(parsed.help_text())["response_type"] == "ephemeral"
