"""Helpers the test modules share: post an SNS delivery or a Twilio webhook as the real
sender would, build the escalation fixtures, read a page as a person does. Test modules
import from here (and from the fakes beside it), never from each other."""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlencode

from django.test import Client
from django.utils import timezone

from accounts.models import User
from escalation import engine
from escalation.models import EscalationPolicy, EscalationStep
from incidents.models import Incident, IncidentEvent
from notifications.models import Notification
from tests.conftest import FIXTURES, TWILIO_TEST_TOKEN, WORKER_BASE_URL
from tests.factories import IncidentFactory, IntegrationFactory
from tests.twilio_signing import twilio_signature as sign

# --- Alarms and SNS deliveries ------------------------------------------------------------

ALARM_FIXTURE = FIXTURES / "cloudwatch/alarm_message_console_signin_failures_alarm.json"
OK_FIXTURE = FIXTURES / "cloudwatch/alarm_message_console_signin_failures_ok.json"
# A CloudWatch alarm's SNS Message, going to ALARM and back to OK.
ALARM = ALARM_FIXTURE.read_text()
OK = OK_FIXTURE.read_text()


def alarm_message(
    state: str = "ALARM", at: str = "2026-11-21T03:15:12.884+0000", **extra: Any
) -> str:
    """The recorded alarm in ``state`` at ``at``, with any field replaced by ``extra``."""
    data = json.loads((OK_FIXTURE if state == "OK" else ALARM_FIXTURE).read_text())
    data.update({"NewStateValue": state, "StateChangeTime": at, **extra})
    return json.dumps(data)


class Page(Protocol):
    """What these helpers read of a test client response."""

    status_code: int
    content: bytes


def post_sns(client: Client, path: str, body: dict[str, Any] | str) -> Page:
    """Deliver a body to an inbound URL the way Amazon SNS does."""
    data = body if isinstance(body, str) else json.dumps(body)
    headers = {}
    if isinstance(body, dict):
        headers = {"x-amz-sns-message-type": body["Type"], "x-amz-sns-topic-arn": body["TopicArn"]}
    return client.post(path, data=data, content_type="text/plain; charset=UTF-8", headers=headers)


# --- Pages ------------------------------------------------------------------------------


def text_of(response: Page) -> str:
    """The page as a person reads it: tags dropped, entities decoded, spaces collapsed."""
    without_scripts = re.sub(r"<script.*?</script>", " ", response.content.decode(), flags=re.S)
    without_tags = re.sub(r"<[^>]+>", " ", without_scripts)
    return re.sub(r"\s+", " ", html.unescape(without_tags))


def sign_in(page: Any, username: str, password: str = "correct horse battery") -> None:
    """Sign in through the real form in a Playwright page."""
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/incidents/**")


def layer_form_data(**changes: Any) -> dict[str, Any]:
    """What the layer form posts: weekdays 09:00-17:30, bob then alice, weekly turns."""
    data = {
        "name": "Business hours",
        "order": "bob, alice",
        "position": "1",
        "start": "2026-01-05",
        "turn": "weekly",
        "turn_hours": "",
        "handoff_time": "09:00",
        "weekdays": ["0", "1", "2", "3", "4"],
        "restrict_start": "09:00",
        "restrict_end": "17:30",
    }
    data.update(changes)
    return data


# --- Escalation -------------------------------------------------------------------------


T0 = datetime(2026, 11, 21, 8, 30, tzinfo=UTC)


def make_policy(
    *steps: dict[str, Any], repeat: int = 0, name: str = "Platform"
) -> EscalationPolicy:
    """A policy with one step per dict: {"users", "schedules", "teams", "delay"}."""
    policy = EscalationPolicy.objects.create(name=name, repeat=repeat)
    for position, spec in enumerate(steps):
        step = EscalationStep.objects.create(
            policy=policy, position=position, delay_minutes=spec.get("delay", 5)
        )
        step.users.set(spec.get("users", []))
        step.schedules.set(spec.get("schedules", []))
        step.teams.set(spec.get("teams", []))
    return policy


def make_incident(policy: EscalationPolicy | None, *, due: datetime = T0) -> Incident:
    """A triggered incident on an integration with ``policy``, its first step due."""
    integration = IntegrationFactory(escalation_policy=policy)
    return IncidentFactory(
        integration=integration,
        created_at=due,
        last_seen_at=due,
        next_escalation_at=due if policy else None,
        escalation_token=engine.new_escalation_token() if policy else "",
    )


def lines(incident: Incident, kind: str = IncidentEvent.Kind.ESCALATED) -> list[str]:
    """The incident's timeline messages of one kind, oldest first."""
    return list(incident.events.filter(kind=kind).values_list("message", flat=True))


# --- Twilio webhooks --------------------------------------------------------------------


TOKEN = TWILIO_TEST_TOKEN
BASE = WORKER_BASE_URL  # the public URL Twilio signs (KLAXON_BASE_URL under twilio_webhooks)
SMS_URL = "/webhooks/twilio/sms/"
VOICE_URL = "/webhooks/twilio/voice/"
STATUS_URL = "/webhooks/twilio/status/"
ALICE_PHONE = "+15005550001"


def twilio_signature(url: str, params: dict[str, str], token: str = TOKEN) -> str:
    return sign(token, url, params)


def post(
    client: Client,
    path: str,
    params: dict[str, str],
    *,
    signed_url: str | None = None,
    token: str = TOKEN,
    sign: bool = True,
) -> Any:
    headers = {}
    if sign:
        url = BASE + path if signed_url is None else signed_url
        headers["X-Twilio-Signature"] = twilio_signature(url, params, token)
    return client.post(
        path,
        urlencode(params),
        content_type="application/x-www-form-urlencoded; charset=utf-8",
        headers=headers,
    )


def twiml(response: Any) -> ET.Element:
    assert response["Content-Type"].startswith("text/xml")
    return ET.fromstring(response.content)


def sms_text(response: Any) -> str:
    root = twiml(response)
    message = root.find("Message")
    assert message is not None, response.content
    return message.text or ""


def page(
    user: User,
    incident: Incident | None,
    *,
    channel: str = "sms",
    sid: str = "",
    purpose: str = "triggered",
    status: str = "sent",
    provider_status: str = "queued",
) -> Notification:
    """A page already sent to ``user`` (the row paging would have left)."""
    return Notification.objects.create(
        incident=incident,
        user=user,
        purpose=purpose,
        channel=channel,
        destination=ALICE_PHONE if user.get_username() == "alice" else "+15005550002",
        due_at=timezone.now(),
        status=status,
        attempts=1,
        provider_id=sid,
        provider_status=provider_status,
    )


def call(
    client: Client, notification: Notification | int, **params: str
) -> tuple[Any, ET.Element]:
    pk = notification if isinstance(notification, int) else notification.pk
    params = {"CallSid": "CA" + "1" * 32, "From": "+15005550006", "To": ALICE_PHONE, **params}
    response = post(client, f"{VOICE_URL}?n={pk}", params)
    assert response.status_code == 200, response.content
    return response, twiml(response)


def said(element: ET.Element) -> list[str]:
    return [say.text or "" for say in element.iter("Say")]
