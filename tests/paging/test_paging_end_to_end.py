"""The whole paging loop through real parts: a signed SNS ALARM -> incident -> escalation
on a Celery worker process (Redis in CI) -> an SMS request at a Twilio-compatible HTTP
server -> a signed SMS reply "4" -> acknowledged, and nothing more is sent."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from escalation.models import EscalationPolicy, EscalationStep
from incidents.models import Incident
from notifications.models import Notification
from tests.conftest import WORKER_BASE_URL
from tests.factories import IntegrationFactory, UserFactory
from tests.helpers import alarm_message
from tests.sns_peer import SnsPeer
from tests.sns_signing import signed_envelope
from tests.twilio_server import AUTH_TOKEN, FakeTwilio
from tests.twilio_signing import twilio_signature
from tests.waiting import wait_for

pytestmark = pytest.mark.broker

BASE = WORKER_BASE_URL


@pytest.fixture
def peer() -> Iterator[SnsPeer]:
    peer = SnsPeer().start()
    yield peer
    peer.stop()


def test_alarm_to_sms_to_reply_acknowledges_and_stops_paging(
    celery_worker: Any, twilio_server: FakeTwilio, peer: SnsPeer, settings: Any
) -> None:
    settings.SNS_CERT_URL_PATTERN = peer.cert_url_pattern
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.KLAXON_BASE_URL = BASE
    twilio_server.clear()
    alice = UserFactory(username="alice", phone="+15005550101")  # SMS now, voice in 5 min
    bob = UserFactory(username="bob", phone="+15005550102")
    policy = EscalationPolicy.objects.create(name="Platform", repeat=0)
    for position, user in enumerate((alice, bob)):
        step = EscalationStep.objects.create(policy=policy, position=position, delay_minutes=1)
        step.users.set([user])
    integration = IntegrationFactory(escalation_policy=policy)

    envelope = signed_envelope(message=alarm_message("ALARM"), cert_url=peer.cert_url)

    response = Client().post(
        integration.inbound_path, data=json.dumps(envelope), content_type="text/plain"
    )
    assert response.status_code == 200, response.content
    incident = Incident.objects.get(integration=integration)

    # The worker escalates and sends alice's SMS through the real twilio client.
    [sms] = wait_for(lambda: twilio_server.sent(to="+15005550101"), "alice's SMS")
    assert sms.form["Body"].startswith(f"Klaxon #{incident.pk} TRIGGERED: ")
    assert sms.form["StatusCallback"] == f"{BASE}/webhooks/twilio/status/"
    page = wait_for(
        lambda: Notification.objects.filter(
            incident=incident, channel="sms", status=Notification.Status.SENT
        ).first(),
        "the SMS row to be marked sent",
    )
    assert page.provider_id.startswith("SM")

    # alice replies "4"; Twilio posts it to our webhook, signed.
    reply = {"From": "+15005550101", "To": "+15005550006", "Body": "4", "MessageSid": "SMx"}
    url = f"{BASE}/webhooks/twilio/sms/"
    answer = Client().post(
        "/webhooks/twilio/sms/",
        reply,
        HTTP_X_TWILIO_SIGNATURE=twilio_signature(AUTH_TOKEN, url, reply),
    )
    assert answer.status_code == 200
    assert f"Acknowledged #{incident.pk}" in answer.content.decode()

    incident.refresh_from_db()
    assert incident.state == Incident.State.ACKNOWLEDGED and incident.acknowledged_by == alice
    assert incident.events.filter(kind="acknowledged", via="sms").exists()
    # No further pages: the voice call due in 5 minutes is cancelled, step 2 (bob) will
    # not run, and nothing else reached Twilio.
    voice = Notification.objects.get(incident=incident, channel="voice")
    assert voice.status == Notification.Status.CANCELLED
    assert incident.next_escalation_at is None
    time.sleep(1.0)
    assert [r.form["To"] for r in twilio_server.requests] == ["+15005550101"]
    assert not Notification.objects.filter(user=bob).exists()
