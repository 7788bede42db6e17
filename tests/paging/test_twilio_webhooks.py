"""The Twilio webhooks end to end: requests signed for real (our own HMAC-SHA1 over the
public URL and the sorted form parameters), posted form-encoded the way Twilio does, the
incident and notification changes they make, and the Inbound Log row each one leaves."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.utils import timezone

from accounts.contacts import contact_method_add
from accounts.models import User
from incidents.models import Incident, IncidentEvent
from integrations.models import InboundMessage
from notifications import messages
from notifications.delivery_status import StatusReport, target_for
from notifications.models import Notification
from notifications.replies import ACKNOWLEDGE, RESOLVE, Reply, parse_reply
from tests.factories import IncidentFactory, UserFactory
from tests.helpers import (
    ALICE_PHONE,
    BASE,
    SMS_URL,
    STATUS_URL,
    VOICE_URL,
    call,
    page,
    post,
    said,
    sms_text,
    twilio_signature,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("twilio_webhooks")]

Outcome = InboundMessage.Outcome


# --- Signing and posting like Twilio ------------------------------------------------------


def only_row() -> InboundMessage:
    """The one Inbound Log row the request must have left."""
    rows = list(InboundMessage.objects.all())
    assert len(rows) == 1, [(r.message_type, r.outcome, r.reason) for r in rows]
    row = rows[0]
    assert row.source == InboundMessage.Source.TWILIO
    assert row.integration_id is None
    return row


@pytest.fixture
def alice() -> User:
    user: User = UserFactory(username="alice", phone=ALICE_PHONE)
    return user


@pytest.fixture
def bob() -> User:
    user: User = UserFactory(username="bob", phone="+15005550002")
    return user


# --- Signature, method, base URL ----------------------------------------------------------


def test_unsigned_request_is_rejected_and_logged(client: Client, alice: User) -> None:
    incident = IncidentFactory()
    page(alice, incident)

    response = post(client, SMS_URL, {"From": ALICE_PHONE, "Body": "4"}, sign=False)

    assert response.status_code == 403
    assert response.content.decode() == "missing X-Twilio-Signature"
    incident.refresh_from_db()
    assert incident.state == Incident.State.TRIGGERED
    row = only_row()
    assert (row.outcome, row.reason) == (Outcome.REJECTED, "missing X-Twilio-Signature")
    assert row.message_type == "SMS reply"
    assert "Body=4" in row.body


def test_wrong_signature_is_rejected(client: Client, alice: User) -> None:
    incident = IncidentFactory()
    page(alice, incident)

    response = post(client, SMS_URL, {"From": ALICE_PHONE, "Body": "4"}, token="other-token")

    assert response.status_code == 403
    assert "X-Twilio-Signature does not match" in response.content.decode()
    assert "KLAXON_BASE_URL" in response.content.decode()
    incident.refresh_from_db()
    assert incident.state == Incident.State.TRIGGERED
    row = only_row()
    assert row.outcome == Outcome.REJECTED
    assert row.reason.startswith("X-Twilio-Signature does not match")


def test_tampered_parameter_is_rejected(client: Client, alice: User) -> None:
    params = {"From": ALICE_PHONE, "Body": "6"}
    signature = twilio_signature(BASE + SMS_URL, {"From": ALICE_PHONE, "Body": "4"})
    response = client.post(
        SMS_URL,
        urlencode(params),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=signature,
    )
    assert response.status_code == 403
    assert only_row().outcome == Outcome.REJECTED


def test_without_auth_token_everything_is_rejected(
    client: Client, settings: Any, alice: User
) -> None:
    settings.TWILIO_AUTH_TOKEN = ""
    response = post(client, SMS_URL, {"From": ALICE_PHONE, "Body": "4"}, token="")

    assert response.status_code == 403
    assert response.content.decode() == "Twilio is not configured (no TWILIO_AUTH_TOKEN)"
    row = only_row()
    assert (row.outcome, row.reason) == (
        Outcome.REJECTED,
        "Twilio is not configured (no TWILIO_AUTH_TOKEN)",
    )


def test_signature_is_checked_against_the_public_base_url(client: Client, alice: User) -> None:
    """The test client talks to http://testserver, as a proxy would to Klaxon: a request
    signed for that URL is refused, one signed for KLAXON_BASE_URL is accepted."""
    params = {"From": ALICE_PHONE, "Body": "hello"}

    internal = post(client, SMS_URL, params, signed_url="http://testserver" + SMS_URL)
    assert internal.status_code == 403

    public = post(client, SMS_URL, params, signed_url="https://klaxon.example.com" + SMS_URL)
    assert public.status_code == 200
    outcomes = list(InboundMessage.objects.order_by("id").values_list("outcome", flat=True))
    assert outcomes == [Outcome.REJECTED, Outcome.IGNORED]


def test_oversized_body_is_rejected_and_logged(client: Client, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    response = post(client, SMS_URL, {"From": ALICE_PHONE, "Body": "x" * 200})
    assert response.status_code == 413
    row = only_row()
    assert (row.outcome, row.body) == (Outcome.REJECTED, "")


def test_each_webhook_stays_within_a_few_queries(
    client: Client, alice: User, django_assert_max_num_queries: Any
) -> None:
    incident = IncidentFactory()
    sms = page(alice, incident, sid="SM" + "c" * 32)
    with django_assert_max_num_queries(12):
        post(client, SMS_URL, {"From": ALICE_PHONE, "Body": "4"})
    with django_assert_max_num_queries(8):
        post(client, STATUS_URL, {"MessageSid": sms.provider_id, "MessageStatus": "delivered"})
    voice_call = page(alice, incident, channel="voice")
    with django_assert_max_num_queries(10):
        post(client, f"{VOICE_URL}?n={voice_call.pk}", {"CallSid": "CA1", "Digits": "2"})
    incident.refresh_from_db()
    assert incident.state == Incident.State.RESOLVED
    assert InboundMessage.objects.count() == 3


def test_get_is_not_allowed_and_still_logged(client: Client) -> None:
    response = client.get(STATUS_URL)
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    row = only_row()
    assert row.outcome == Outcome.REJECTED
    assert row.message_type == "Status callback"
    assert "GET" in row.reason


def test_json_body_signed_with_body_sha256_is_accepted(client: Client, alice: User) -> None:
    notification = page(alice, IncidentFactory(), sid="SM" + "a" * 32)
    body = json.dumps({"MessageSid": notification.provider_id, "MessageStatus": "delivered"})
    path = f"{STATUS_URL}?bodySHA256={hashlib.sha256(body.encode()).hexdigest()}"

    response = client.post(
        path,
        body,
        content_type="application/json",
        HTTP_X_TWILIO_SIGNATURE=twilio_signature(BASE + path, {}),
    )

    assert response.status_code == 200, response.content
    notification.refresh_from_db()
    assert notification.status == Notification.Status.DELIVERED
    row = only_row()
    assert row.outcome == Outcome.STATUS_UPDATED
    assert row.message_id == notification.provider_id


def test_json_body_that_does_not_match_body_sha256_is_rejected(
    client: Client, alice: User
) -> None:
    notification = page(alice, IncidentFactory(), sid="SM" + "b" * 32)
    signed = json.dumps({"MessageSid": notification.provider_id, "MessageStatus": "sent"})
    sent = json.dumps({"MessageSid": notification.provider_id, "MessageStatus": "delivered"})
    path = f"{STATUS_URL}?bodySHA256={hashlib.sha256(signed.encode()).hexdigest()}"

    response = client.post(
        path,
        sent,
        content_type="application/json",
        HTTP_X_TWILIO_SIGNATURE=twilio_signature(BASE + path, {}),
    )

    assert response.status_code == 403
    notification.refresh_from_db()
    assert notification.status == Notification.Status.SENT
    assert only_row().outcome == Outcome.REJECTED


def test_json_body_without_body_sha256_is_rejected(client: Client, alice: User) -> None:
    body = json.dumps({"MessageSid": "SM1", "MessageStatus": "delivered"})
    response = client.post(
        STATUS_URL,
        body,
        content_type="application/json",
        HTTP_X_TWILIO_SIGNATURE=twilio_signature(BASE + STATUS_URL, {}),
    )
    assert response.status_code == 403
    row = only_row()
    assert row.outcome == Outcome.REJECTED
    assert "bodySHA256" in row.reason


# --- SMS replies: parsing -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("4", Reply(ACKNOWLEDGE)),
        (" 4. ", Reply(ACKNOWLEDGE)),
        ("ack", Reply(ACKNOWLEDGE)),
        ("ACK!", Reply(ACKNOWLEDGE)),
        ("a", Reply(ACKNOWLEDGE)),
        ("Acknowledge", Reply(ACKNOWLEDGE)),
        ("6", Reply(RESOLVE)),
        ("r", Reply(RESOLVE)),
        ("Resolve.", Reply(RESOLVE)),
        ("4 42", Reply(ACKNOWLEDGE, 42)),
        ("4 #42", Reply(ACKNOWLEDGE, 42)),
        ("ack #42", Reply(ACKNOWLEDGE, 42)),
        ("ack42", Reply(ACKNOWLEDGE, 42)),
        ("  Ack   42 ", Reply(ACKNOWLEDGE, 42)),
        ("6 42", Reply(RESOLVE, 42)),
        ("resolve: 7", Reply(RESOLVE, 7)),
        ("R #1234.", Reply(RESOLVE, 1234)),
    ],
)
def test_parse_reply_understands(body: str, expected: Reply) -> None:
    assert parse_reply(body) == expected


@pytest.mark.parametrize(
    "body",
    ["", "   ", "5", "42", "442", "ok", "thanks", "acked", "ack it", "4 42 43", "help", "4 x",
     "ack " + "9" * 19, "stop"],
)  # fmt: skip
def test_parse_reply_refuses(body: str) -> None:
    assert parse_reply(body) is None


# --- SMS replies: end to end --------------------------------------------------------------


def test_sms_4_acknowledges_the_newest_incident_still_triggered(
    client: Client, alice: User, bob: User
) -> None:
    older = IncidentFactory(title="Disk full")
    newer = IncidentFactory(title="CPU high")
    newest_but_acked = IncidentFactory(title="Memory", state=Incident.State.ACKNOWLEDGED)
    page(alice, older)
    page(alice, newer)
    page(alice, newest_but_acked)
    someone_elses = IncidentFactory()
    page(bob, someone_elses)  # bob's page is newer still, but not alice's

    response = post(client, SMS_URL, {"From": ALICE_PHONE, "Body": "4"})

    assert response.status_code == 200
    assert sms_text(response) == f"Acknowledged #{newer.pk}: CPU high."
    newer.refresh_from_db()
    assert newer.state == Incident.State.ACKNOWLEDGED
    assert newer.acknowledged_by == alice
    event = newer.events.get(kind=IncidentEvent.Kind.ACKNOWLEDGED)
    assert (event.via, event.actor) == ("sms", alice)
    for untouched in (older, someone_elses):
        untouched.refresh_from_db()
        assert untouched.state == Incident.State.TRIGGERED
    row = only_row()
    assert (row.outcome, row.incident_id) == (Outcome.ACKNOWLEDGED, newer.pk)
    assert row.message_type == "SMS reply"


def test_sms_6_with_a_number_resolves_that_incident(client: Client, alice: User) -> None:
    named = IncidentFactory(title="Queue backlog", state=Incident.State.ACKNOWLEDGED)
    latest = IncidentFactory()
    page(alice, named)
    page(alice, latest)

    response = post(client, SMS_URL, {"From": ALICE_PHONE, "Body": f"6 {named.pk}"})

    assert sms_text(response) == f"Resolved #{named.pk}: Queue backlog."
    named.refresh_from_db()
    assert (named.state, named.resolved_by) == (Incident.State.RESOLVED, alice)
    assert named.events.get(kind=IncidentEvent.Kind.RESOLVED).via == "sms"
    latest.refresh_from_db()
    assert latest.state == Incident.State.TRIGGERED
    row = only_row()
    assert (row.outcome, row.incident_id) == (Outcome.RESOLVED, named.pk)


def test_sms_6_without_number_resolves_the_newest_open_page(client: Client, alice: User) -> None:
    acked = IncidentFactory(state=Incident.State.ACKNOWLEDGED)
    page(alice, acked)

    post(client, SMS_URL, {"From": ALICE_PHONE, "Body": "resolve"})

    acked.refresh_from_db()
    assert acked.state == Incident.State.RESOLVED
    assert only_row().outcome == Outcome.RESOLVED


def test_sms_reply_matches_the_sender_in_any_formatting(client: Client, alice: User) -> None:
    incident = IncidentFactory()
    page(alice, incident)

    post(client, SMS_URL, {"From": "+1 (500) 555-0001", "Body": "ack"})

    incident.refresh_from_db()
    assert incident.acknowledged_by == alice


@pytest.mark.parametrize("who", ["stranger", "unverified"])
def test_sms_from_an_unknown_number_changes_nothing(client: Client, alice: User, who: str) -> None:
    incident = IncidentFactory()
    page(alice, incident)
    sender = "+15005550009"
    if who == "unverified":
        contact_method_add(user=UserFactory(), kind="phone", raw=sender, verified=False)

    response = post(client, SMS_URL, {"From": sender, "Body": f"4 {incident.pk}"})

    assert response.status_code == 200
    text = sms_text(response)
    assert "not registered with Klaxon" in text
    assert "profile page" in text
    incident.refresh_from_db()
    assert incident.state == Incident.State.TRIGGERED
    row = only_row()
    assert (row.outcome, row.incident_id) == (Outcome.IGNORED, None)
    assert sender in row.reason


def test_sms_unknown_text_gets_help(client: Client, alice: User) -> None:
    incident = IncidentFactory()
    page(alice, incident)

    response = post(client, SMS_URL, {"From": ALICE_PHONE, "Body": "who is this?"})

    assert sms_text(response) == (
        "Reply 4 to acknowledge or 6 to resolve your latest page, or '4 42' for incident 42."
    )
    incident.refresh_from_db()
    assert incident.state == Incident.State.TRIGGERED
    assert only_row().outcome == Outcome.IGNORED


def test_sms_ack_of_an_incident_already_acknowledged_says_by_whom(
    client: Client, alice: User, bob: User
) -> None:
    incident = IncidentFactory(
        state=Incident.State.ACKNOWLEDGED, acknowledged_by=bob, acknowledged_at=timezone.now()
    )
    page(alice, incident)

    response = post(client, SMS_URL, {"From": ALICE_PHONE, "Body": f"4 {incident.pk}"})

    assert sms_text(response) == f"#{incident.pk} was already acknowledged by bob."
    incident.refresh_from_db()
    assert incident.acknowledged_by == bob
    assert not incident.events.filter(kind=IncidentEvent.Kind.ACKNOWLEDGED).exists()
    row = only_row()
    assert (row.outcome, row.incident_id) == (Outcome.IGNORED, incident.pk)


def test_sms_4_with_nothing_triggered_says_so(client: Client, alice: User) -> None:
    page(alice, IncidentFactory(state=Incident.State.RESOLVED))

    response = post(client, SMS_URL, {"From": ALICE_PHONE, "Body": "4"})

    assert "no triggered incident" in sms_text(response)
    assert only_row().outcome == Outcome.IGNORED


def test_sms_naming_a_missing_incident_says_so(client: Client, alice: User) -> None:
    response = post(client, SMS_URL, {"From": ALICE_PHONE, "Body": "4 999999"})

    assert sms_text(response) == "There is no incident #999999."
    assert only_row().outcome == Outcome.IGNORED


def test_sms_reply_text_is_gsm7(client: Client, alice: User) -> None:
    incident = IncidentFactory(title="Latency \u201chigh\u201d \u2014 api \u2705")
    page(alice, incident)

    response = post(client, SMS_URL, {"From": ALICE_PHONE, "Body": "4"})

    assert sms_text(response) == f'Acknowledged #{incident.pk}: Latency "high" - api ?.'


# --- Voice ------------------------------------------------------------------------------------


def test_voice_answered_reads_the_incident_and_gathers_a_key(client: Client, alice: User) -> None:
    incident = IncidentFactory(title="Payments API 5xx")
    notification = page(alice, incident, channel="voice")

    _, root = call(client, notification)

    children = list(root)
    assert [child.tag for child in children] == ["Gather", "Say", "Hangup"]
    gather = children[0]
    assert gather.attrib == {
        "numDigits": "1",
        "action": f"{BASE}{VOICE_URL}?n={notification.pk}",
        "method": "POST",
        "timeout": "10",
    }
    prompt = " ".join(said(gather))
    assert prompt == f"{messages.voice_triggered(incident)} {messages.VOICE_MENU}"
    assert "Payments API 5xx" in prompt
    assert children[1].text == "We did not get a key. Goodbye."
    incident.refresh_from_db()
    assert incident.state == Incident.State.TRIGGERED
    row = only_row()
    assert (row.outcome, row.incident_id, row.message_type) == (
        Outcome.ANSWERED,
        incident.pk,
        "Voice",
    )


def test_voice_key_1_acknowledges(client: Client, alice: User) -> None:
    incident = IncidentFactory()
    notification = page(alice, incident, channel="voice")

    _, root = call(client, notification, Digits="1")

    assert root.find("Hangup") is not None
    assert root.find("Gather") is None
    assert "acknowledged" in " ".join(said(root))
    incident.refresh_from_db()
    assert (incident.state, incident.acknowledged_by) == (Incident.State.ACKNOWLEDGED, alice)
    event = incident.events.get(kind=IncidentEvent.Kind.ACKNOWLEDGED)
    assert (event.via, event.actor) == ("voice", alice)
    row = only_row()
    assert (row.outcome, row.incident_id) == (Outcome.ACKNOWLEDGED, incident.pk)


def test_voice_key_2_resolves(client: Client, alice: User) -> None:
    incident = IncidentFactory()
    notification = page(alice, incident, channel="voice")

    _, root = call(client, notification, Digits="2")

    assert root.find("Hangup") is not None
    incident.refresh_from_db()
    assert (incident.state, incident.resolved_by) == (Incident.State.RESOLVED, alice)
    assert incident.events.get(kind=IncidentEvent.Kind.RESOLVED).via == "voice"
    assert only_row().outcome == Outcome.RESOLVED


def test_voice_key_3_escalates_now(client: Client, alice: User) -> None:
    later = timezone.now() + timedelta(minutes=30)
    incident = IncidentFactory(next_escalation_at=later, escalation_token="before")
    notification = page(alice, incident, channel="voice")

    _, root = call(client, notification, Digits="3")

    assert "Escalating" in " ".join(said(root))
    incident.refresh_from_db()
    assert incident.state == Incident.State.TRIGGERED
    assert incident.next_escalation_at is not None
    assert abs(incident.next_escalation_at - timezone.now()) < timedelta(seconds=10)
    assert incident.escalation_token != "before"
    row = only_row()
    assert (row.outcome, row.incident_id) == (Outcome.ESCALATED, incident.pk)


def test_voice_key_3_without_escalation_changes_nothing(client: Client, alice: User) -> None:
    incident = IncidentFactory(next_escalation_at=None)
    notification = page(alice, incident, channel="voice")

    _, root = call(client, notification, Digits="3")

    assert "no further escalation" in " ".join(said(root))
    assert only_row().outcome == Outcome.IGNORED


def test_voice_other_key_prompts_again(client: Client, alice: User) -> None:
    incident = IncidentFactory()
    notification = page(alice, incident, channel="voice")

    _, root = call(client, notification, Digits="9")

    gather = root.find("Gather")
    assert gather is not None
    texts = said(gather)
    assert texts[0] == "That key is not on the menu."
    assert messages.VOICE_MENU in texts[1]
    incident.refresh_from_db()
    assert incident.state == Incident.State.TRIGGERED
    row = only_row()
    assert (row.outcome, row.incident_id) == (Outcome.ANSWERED, incident.pk)


def test_voice_key_1_on_an_acknowledged_incident_says_so(
    client: Client, alice: User, bob: User
) -> None:
    incident = IncidentFactory(
        state=Incident.State.ACKNOWLEDGED, acknowledged_by=bob, acknowledged_at=timezone.now()
    )
    notification = page(alice, incident, channel="voice")

    _, root = call(client, notification, Digits="1")

    spoken = " ".join(str(incident.pk))
    assert said(root) == [f"Incident {spoken} is already acknowledged by bob. Goodbye."]
    incident.refresh_from_db()
    assert incident.acknowledged_by == bob
    assert only_row().outcome == Outcome.IGNORED


def test_voice_on_an_acknowledged_incident_offers_only_resolve(
    client: Client, alice: User, bob: User
) -> None:
    incident = IncidentFactory(state=Incident.State.ACKNOWLEDGED, acknowledged_by=bob)
    notification = page(alice, incident, channel="voice")

    _, root = call(client, notification)

    gather = root.find("Gather")
    assert gather is not None
    prompt = " ".join(said(gather))
    assert "already acknowledged by bob" in prompt
    assert prompt.endswith("Press 2 to resolve.")
    assert "Press 1" not in prompt


def test_voice_answered_by_a_machine_hangs_up_and_marks_voicemail(
    client: Client, alice: User
) -> None:
    incident = IncidentFactory()
    notification = page(alice, incident, channel="voice")

    _, root = call(client, notification, AnsweredBy="machine_start")

    assert [child.tag for child in root] == ["Say", "Hangup"]
    assert said(root) == ["This is Klaxon with an alert. Open Klaxon to respond."]
    notification.refresh_from_db()
    assert notification.provider_status == "voicemail"
    incident.refresh_from_db()
    assert incident.state == Incident.State.TRIGGERED
    row = only_row()
    assert (row.outcome, row.incident_id) == (Outcome.ANSWERED, incident.pk)
    assert "machine_start" in row.reason


def test_voice_test_call_reads_the_test_script(client: Client, alice: User) -> None:
    notification = page(alice, None, channel="voice", purpose="test")

    _, root = call(client, notification)

    assert said(root) == [messages.voice_test()]
    assert root.find("Hangup") is not None
    assert only_row().outcome == Outcome.ANSWERED


def test_voice_for_a_missing_notification_hangs_up(client: Client) -> None:
    _, root = call(client, 987654)

    assert root.find("Hangup") is not None
    assert root.find("Gather") is None
    assert only_row().outcome == Outcome.IGNORED


# --- Delivery status callbacks --------------------------------------------------------------


def timeline(incident: Incident) -> list[str]:
    return list(
        incident.events.filter(kind=IncidentEvent.Kind.NOTIFIED).values_list("message", flat=True)
    )


def test_sms_delivered(client: Client, alice: User) -> None:
    incident = IncidentFactory()
    notification = page(alice, incident, sid="SM" + "1" * 32)

    response = post(
        client,
        STATUS_URL,
        {"MessageSid": notification.provider_id, "SmsSid": notification.provider_id,
         "MessageStatus": "delivered", "SmsStatus": "delivered"},
    )  # fmt: skip

    assert response.status_code == 200
    notification.refresh_from_db()
    assert (notification.status, notification.provider_status) == ("delivered", "delivered")
    assert timeline(incident) == [f"SMS to alice ({ALICE_PHONE}) delivered."]
    event = incident.events.get(kind=IncidentEvent.Kind.NOTIFIED)
    assert event.via == "sms"
    assert event.data == {
        "notification_id": notification.pk,
        "status": "delivered",
        "user_id": alice.pk,
    }
    row = only_row()
    assert (row.outcome, row.incident_id, row.message_type) == (
        Outcome.STATUS_UPDATED,
        incident.pk,
        "Status callback",
    )


def test_sms_undelivered_fails_with_the_error_code(client: Client, alice: User) -> None:
    incident = IncidentFactory()
    notification = page(alice, incident, sid="SM" + "2" * 32)

    post(
        client,
        STATUS_URL,
        {"MessageSid": notification.provider_id, "MessageStatus": "undelivered",
         "ErrorCode": "30003"},
    )  # fmt: skip

    notification.refresh_from_db()
    assert notification.status == Notification.Status.FAILED
    assert notification.error_code == "30003"
    assert notification.error == "Twilio reported undelivered (error 30003)"
    assert timeline(incident) == [
        f"SMS to alice ({ALICE_PHONE}) failed: Twilio reported undelivered (error 30003)."
    ]
    assert only_row().outcome == Outcome.STATUS_UPDATED


def test_call_not_answered_fails(client: Client, alice: User) -> None:
    incident = IncidentFactory()
    notification = page(alice, incident, channel="voice", sid="CA" + "3" * 32)

    post(client, STATUS_URL, {"CallSid": notification.provider_id, "CallStatus": "no-answer"})

    notification.refresh_from_db()
    assert (notification.status, notification.error) == ("failed", "no answer")
    assert notification.provider_status == "no-answer"
    assert timeline(incident) == [f"Voice call to alice ({ALICE_PHONE}) failed: no answer."]
    assert only_row().outcome == Outcome.STATUS_UPDATED


def test_call_answered_by_a_person_is_delivered(client: Client, alice: User) -> None:
    incident = IncidentFactory()
    notification = page(alice, incident, channel="voice", sid="CA" + "4" * 32)

    post(
        client,
        STATUS_URL,
        {"CallSid": notification.provider_id, "CallStatus": "completed", "AnsweredBy": "human"},
    )

    notification.refresh_from_db()
    assert notification.status == Notification.Status.DELIVERED
    assert timeline(incident) == [f"Voice call to alice ({ALICE_PHONE}) delivered."]


def test_call_completed_after_voicemail_fails(client: Client, alice: User) -> None:
    incident = IncidentFactory()
    notification = page(alice, incident, channel="voice", sid="CA" + "5" * 32)
    call(client, notification, AnsweredBy="machine_end_beep")

    post(client, STATUS_URL, {"CallSid": notification.provider_id, "CallStatus": "completed"})

    notification.refresh_from_db()
    assert notification.status == Notification.Status.FAILED
    assert notification.error == "answered by voicemail (not acknowledged)"
    assert timeline(incident) == [
        f"Voice call to alice ({ALICE_PHONE}) failed: answered by voicemail (not acknowledged)."
    ]
    rows = list(InboundMessage.objects.order_by("id").values_list("message_type", "outcome"))
    assert rows == [("Voice", Outcome.ANSWERED), ("Status callback", Outcome.STATUS_UPDATED)]


def test_call_completed_with_machine_answered_by_fails_even_without_the_marker(
    client: Client, alice: User
) -> None:
    notification = page(alice, IncidentFactory(), channel="voice", sid="CA" + "6" * 32)

    post(
        client,
        STATUS_URL,
        {"CallSid": notification.provider_id, "CallStatus": "completed",
         "AnsweredBy": "machine_start"},
    )  # fmt: skip

    notification.refresh_from_db()
    assert notification.status == Notification.Status.FAILED
    assert only_row().outcome == Outcome.STATUS_UPDATED


def test_status_never_moves_backwards(client: Client, alice: User) -> None:
    incident = IncidentFactory()
    notification = page(alice, incident, sid="SM" + "7" * 32)
    sid = notification.provider_id

    post(client, STATUS_URL, {"MessageSid": sid, "MessageStatus": "delivered"})
    post(client, STATUS_URL, {"MessageSid": sid, "MessageStatus": "sent"})
    post(client, STATUS_URL, {"MessageSid": sid, "MessageStatus": "delivered"})

    notification.refresh_from_db()
    assert (notification.status, notification.provider_status) == ("delivered", "delivered")
    assert timeline(incident) == [f"SMS to alice ({ALICE_PHONE}) delivered."]
    outcomes = list(InboundMessage.objects.order_by("id").values_list("outcome", flat=True))
    assert outcomes == [Outcome.STATUS_UPDATED, Outcome.IGNORED, Outcome.IGNORED]


def test_sms_sent_updates_the_provider_status_only(client: Client, alice: User) -> None:
    incident = IncidentFactory()
    notification = page(alice, incident, sid="SM" + "8" * 32, provider_status="queued")

    post(client, STATUS_URL, {"MessageSid": notification.provider_id, "MessageStatus": "sent"})

    notification.refresh_from_db()
    assert (notification.status, notification.provider_status) == ("sent", "sent")
    assert timeline(incident) == []
    assert only_row().outcome == Outcome.STATUS_UPDATED


def test_status_for_an_unknown_sid_is_ignored(client: Client, alice: User) -> None:
    notification = page(alice, IncidentFactory(), sid="SM" + "9" * 32)

    response = post(client, STATUS_URL, {"MessageSid": "SM" + "0" * 32, "MessageStatus": "failed"})

    assert response.status_code == 200
    notification.refresh_from_db()
    assert notification.status == Notification.Status.SENT
    row = only_row()
    assert (row.outcome, row.incident_id) == (Outcome.IGNORED, None)
    assert "SM" + "0" * 32 in row.reason


@pytest.mark.parametrize(
    ("channel", "status", "provider_status", "answered_by", "expected"),
    [
        ("sms", "accepted", "", "", ("sent", "")),
        ("sms", "delivered", "", "", ("delivered", "")),
        ("sms", "failed", "", "", ("failed", "Twilio reported failed")),
        ("sms", "read", "", "", (None, "")),
        ("voice", "busy", "", "", ("failed", "busy")),
        ("voice", "canceled", "", "", ("failed", "call canceled")),
        ("voice", "ringing", "", "", (None, "")),
        ("voice", "completed", "", "", ("delivered", "")),
        ("voice", "completed", "voicemail", "human", ("failed", "answered by voicemail (not "
                                                               "acknowledged)")),
    ],
)  # fmt: skip
def test_target_for(
    channel: str,
    status: str,
    provider_status: str,
    answered_by: str,
    expected: tuple[str | None, str],
) -> None:
    target = target_for(
        StatusReport(channel, "X", status, answered_by=answered_by), provider_status
    )
    assert (target.status, target.error) == expected
