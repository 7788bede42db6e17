"""Sending pages: one row per attempt, claimed once, real twilio client code against a
faked HTTP layer, retries for transient errors, a stop for permanent ones, email with
signed single-use action links, and the resolved follow-up."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import requests
import responses
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts.models import ContactMethod
from incidents.models import Incident, IncidentEvent
from incidents.services import incident_acknowledge, incident_resolve
from notifications import links, messages, services
from notifications.models import Notification
from notifications.tasks import send_notification
from tests import twilio_fake
from tests.factories import IncidentFactory, UserFactory

Via = IncidentEvent.Via

pytestmark = pytest.mark.django_db

Status = Notification.Status


@pytest.fixture
def live_twilio(settings: Any) -> Any:
    twilio_fake.configure(settings)
    settings.KLAXON_BASE_URL = "https://klaxon.example.com"
    settings.NOTIFY_RETRY_SECONDS = 10
    settings.NOTIFY_MAX_ATTEMPTS = 3
    return settings


@pytest.fixture
def alice(db: Any) -> Any:
    return UserFactory(username="alice", phone="+15005550001")


def page(user: Any, channel: str = "sms", *, kind: str = "phone", **incident: Any) -> Notification:
    incident.setdefault("title", "Console sign-in failures")
    incident.setdefault("details", {"account_id": "123456789012", "region_code": "eu-west-1"})
    incident.setdefault("escalation_step", 1)  # pages come from an escalation step
    method = user.contact_methods.get(kind=kind)
    return Notification.objects.create(
        incident=IncidentFactory(**incident),
        user=user,
        contact_method=method,
        purpose=Notification.Purpose.TRIGGERED,
        channel=channel,
        destination=method.value,
        due_at=timezone.now(),
    )


def incident_of(row: Notification) -> int:
    assert row.incident_id is not None
    return row.incident_id


def reload(row: Notification) -> Notification:
    row.refresh_from_db()
    return row


def test_sms_goes_through_the_twilio_client_to_the_configured_api_base(
    live_twilio: Any, alice: Any
) -> None:
    row = page(alice)
    with responses.RequestsMock() as rsps:
        twilio_fake.add_sms_ok(rsps)
        assert services.notification_deliver(notification_id=row.pk).outcome == services.SENT
        [call] = rsps.calls
    sent = twilio_fake.form(call)
    assert call.request.url == twilio_fake.messages_url()
    assert call.request.headers["Authorization"].startswith("Basic ")
    assert sent["To"] == "+15005550001" and sent["From"] == twilio_fake.FROM_NUMBER
    assert sent["StatusCallback"] == "https://klaxon.example.com/webhooks/twilio/status/"
    body = sent["Body"]
    assert body.startswith(f"Klaxon #{row.incident_id} TRIGGERED: Console sign-in failures")
    assert "acct 123456789012, eu-west-1" in body
    assert "Reply 4 to ack, 6 to resolve" in body
    assert f"https://klaxon.example.com/incidents/{row.incident_id}/" in body
    row = reload(row)
    assert row.status == Status.SENT and row.attempts == 1 and not row.outbox
    assert row.provider_id.startswith("SM") and row.body == body
    assert row.incident is not None
    assert row.incident.events.filter(
        kind=IncidentEvent.Kind.NOTIFIED, message="SMS to alice (+15005550001) sent."
    ).exists()


def test_sms_text_keeps_to_gsm7(live_twilio: Any, alice: Any) -> None:
    row = page(alice, title="“Prod” — naïve café ✓ [db]")
    with responses.RequestsMock() as rsps:
        twilio_fake.add_sms_ok(rsps)
        services.notification_deliver(notification_id=row.pk)
        body = twilio_fake.form(rsps.calls[0])["Body"]
    assert '"Prod" - naive café ? (db)' in body
    assert messages.gsm7(body) == body  # every character is already GSM-7


def test_a_duplicated_task_sends_once(live_twilio: Any, alice: Any) -> None:
    row = page(alice)
    with responses.RequestsMock() as rsps:
        twilio_fake.add_sms_ok(rsps)
        assert send_notification(row.pk) == services.SENT
        assert send_notification(row.pk) == services.NOT_QUEUED
        assert len(rsps.calls) == 1
    assert reload(row).attempts == 1


def test_a_page_planned_before_its_user_was_deactivated_is_not_sent(
    live_twilio: Any, alice: Any
) -> None:
    row = page(alice, "voice")  # the delayed voice call, say
    alice.is_active = False
    alice.save(update_fields=["is_active"])

    with responses.RequestsMock() as rsps:  # any request would fail the test: none added
        assert services.notification_deliver(notification_id=row.pk).outcome == services.CANCELLED
        assert not rsps.calls
    row = reload(row)
    assert row.status == Status.CANCELLED
    assert row.error == "user deactivated before this was sent"


def test_a_deactivated_user_gets_no_resolved_notice(live_twilio: Any, alice: Any) -> None:
    row = page(alice)
    Notification.objects.filter(pk=row.pk).update(status=Status.SENT, attempts=1)
    alice.is_active = False
    alice.save(update_fields=["is_active"])

    assert services.notification_queue_resolved(incident_id=incident_of(row)) == 0
    assert not Notification.objects.filter(purpose=Notification.Purpose.RESOLVED).exists()


def test_a_send_claimed_by_another_worker_is_not_sent_again(live_twilio: Any, alice: Any) -> None:
    row = page(alice)
    Notification.objects.filter(pk=row.pk).update(status=Status.SENDING)
    with responses.RequestsMock() as rsps:  # any request would fail the test: none added
        assert services.notification_deliver(notification_id=row.pk).outcome == services.NOT_QUEUED
        assert not rsps.calls


def test_a_send_not_due_yet_waits(live_twilio: Any, alice: Any) -> None:
    row = page(alice)
    Notification.objects.filter(pk=row.pk).update(due_at=timezone.now() + timedelta(minutes=5))
    with responses.RequestsMock():
        assert services.notification_deliver(notification_id=row.pk).outcome == services.NOT_DUE
    assert reload(row).status == Status.QUEUED


@pytest.mark.parametrize(
    "failure",
    [
        twilio_fake.error(500, 20500, "Internal Server Error"),
        twilio_fake.error(503, 20503, "Service Unavailable"),
        twilio_fake.error(429, 20429, "Too Many Requests"),
        {"body": requests.ConnectTimeout("timed out")},
        {"body": requests.ConnectionError("refused")},
    ],
    ids=["500", "503", "429", "timeout", "refused"],
)
def test_transient_errors_retry_with_backoff_then_succeed(
    live_twilio: Any, alice: Any, failure: dict[str, Any]
) -> None:
    row = page(alice)
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, twilio_fake.messages_url(), **failure)
        before = timezone.now()
        first = services.notification_deliver(notification_id=row.pk)
        assert first.outcome == services.RETRY and first.retry_at is not None
        assert timedelta(seconds=9) < first.retry_at - before < timedelta(seconds=12)
        row = reload(row)
        assert row.status == Status.QUEUED and row.attempts == 1
        assert row.error.startswith("attempt 1 failed, retrying")
        # Early: not due yet, nothing sent.
        assert services.notification_deliver(notification_id=row.pk).outcome == services.NOT_DUE
    with responses.RequestsMock() as rsps:
        twilio_fake.add_sms_ok(rsps)
        assert (
            services.notification_deliver(notification_id=row.pk, now=row.due_at).outcome
            == services.SENT
        )
    row = reload(row)
    assert row.status == Status.SENT and row.attempts == 2


def test_backoff_doubles_and_gives_up_after_the_last_attempt(live_twilio: Any, alice: Any) -> None:
    row = page(alice)
    waits = []
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, twilio_fake.messages_url(), **twilio_fake.error(500, 0, "down"))
        now = timezone.now()
        for _ in range(2):
            result = services.notification_deliver(notification_id=row.pk, now=now)
            assert result.outcome == services.RETRY and result.retry_at is not None
            waits.append((result.retry_at - now).total_seconds())
            now = result.retry_at
        assert (
            services.notification_deliver(notification_id=row.pk, now=now).outcome
            == services.FAILED
        )
        assert len(rsps.calls) == 3
    assert waits == [10.0, 20.0]
    row = reload(row)
    assert row.status == Status.FAILED and row.attempts == 3
    assert row.error.startswith("gave up: Twilio 500")


@pytest.mark.parametrize(
    ("code", "message"),
    [(21211, "The 'To' number is not a valid phone number."),
     (21610, "Attempt to send to unsubscribed recipient")],
)  # fmt: skip
def test_permanent_errors_stop_at_once_and_show(
    live_twilio: Any, alice: Any, client: Client, code: int, message: str
) -> None:
    row = page(alice)
    with responses.RequestsMock() as rsps:
        failure = twilio_fake.error(400, code, message)
        rsps.add(responses.POST, twilio_fake.messages_url(), **failure)
        assert services.notification_deliver(notification_id=row.pk).outcome == services.FAILED
        assert len(rsps.calls) == 1
    row = reload(row)
    assert row.status == Status.FAILED and row.attempts == 1
    assert row.error_code == str(code) and message in row.error
    client.force_login(alice)
    incident_page = client.get(f"/incidents/{row.incident_id}/").content.decode()
    assert f"SMS to alice (+15005550001) failed after 1 attempt(s): Twilio 400 error {code}" in (
        incident_page.replace("&#x27;", "'")
    )


def test_voice_call_asks_twilio_for_our_twiml_with_machine_detection(
    live_twilio: Any, alice: Any
) -> None:
    row = page(alice, channel="voice")
    with responses.RequestsMock() as rsps:
        twilio_fake.add_call_ok(rsps)
        assert services.notification_deliver(notification_id=row.pk).outcome == services.SENT
        sent = twilio_fake.form(rsps.calls[0])
        assert rsps.calls[0].request.url == twilio_fake.calls_url()
    assert sent["Url"] == f"https://klaxon.example.com/webhooks/twilio/voice/?n={row.pk}"
    assert sent["MachineDetection"] == "Enable"
    assert sent["StatusCallback"] == "https://klaxon.example.com/webhooks/twilio/status/"
    row = reload(row)
    assert row.provider_id.startswith("CA")
    assert "Press 1 to acknowledge" in row.body


def test_outbox_mode_records_instead_of_sending(settings: Any, alice: Any) -> None:
    settings.TWILIO_OUTBOX_MODE = True
    row = page(alice)
    with responses.RequestsMock() as rsps:
        assert services.notification_deliver(notification_id=row.pk).outcome == services.SENT
        assert not rsps.calls
    row = reload(row)
    assert row.outbox and row.status == Status.SENT and "TRIGGERED" in row.body


def test_a_page_for_an_acknowledged_incident_is_cancelled_not_sent(
    live_twilio: Any, alice: Any
) -> None:
    row = page(alice)
    Incident.objects.filter(pk=incident_of(row)).update(state=Incident.State.ACKNOWLEDGED)
    with responses.RequestsMock() as rsps:
        assert services.notification_deliver(notification_id=row.pk).outcome == services.CANCELLED
        assert not rsps.calls
    assert reload(row).status == Status.CANCELLED


def test_acknowledging_cancels_the_later_voice_call(
    alice: Any, django_capture_on_commit_callbacks: Any
) -> None:
    sms, voice = page(alice), page(alice, channel="voice")
    Notification.objects.filter(pk=voice.pk).update(
        incident=sms.incident, due_at=timezone.now() + timedelta(minutes=5)
    )
    Notification.objects.filter(pk=sms.pk).update(status=Status.SENT, attempts=1)
    with django_capture_on_commit_callbacks(execute=True):
        incident_acknowledge(incident_id=incident_of(sms), user=alice, via=Via.WEB)
    voice = reload(voice)
    assert voice.status == Status.CANCELLED
    assert voice.error == "incident acknowledged via web"
    assert reload(sms).status == Status.SENT


def test_email_has_text_html_and_signed_single_use_links(
    live_twilio: Any, alice: Any, client: Client
) -> None:
    row = page(alice, channel="email", kind="email")
    assert services.notification_deliver(notification_id=row.pk).outcome == services.SENT
    [message] = mail.outbox
    assert message.to == ["alice@example.com"]
    assert message.subject == f"[Klaxon] #{row.incident_id} TRIGGERED: Console sign-in failures"
    assert isinstance(message, mail.EmailMultiAlternatives)
    html = str(message.alternatives[0][0])
    assert "Acknowledge" in html and "Console sign-in failures" in html
    ack_url = re.search(r"Acknowledge: (\S+)", str(message.body))
    assert ack_url is not None
    path = ack_url.group(1).removeprefix("https://klaxon.example.com")

    # Opening the link (a mail scanner, a preview) changes nothing.
    shown = client.get(path)
    assert shown.status_code == 200 and b"Acknowledge incident" in shown.content
    assert Incident.objects.get(pk=incident_of(row)).state == Incident.State.TRIGGERED

    # Pressing the button acknowledges, as alice, via email, without signing in.
    done = client.post(path)
    assert done.status_code == 200
    incident = Incident.objects.get(pk=incident_of(row))
    assert incident.state == Incident.State.ACKNOWLEDGED and incident.acknowledged_by == alice
    assert incident.events.filter(kind="acknowledged", via="email").exists()

    # Single use: the same link, and the resolve link from the same email, are spent.
    again = client.post(path)
    assert again.status_code == 400 and b"already used" in again.content
    resolve_path = re.search(r"Resolve: (\S+)", str(message.body)).group(1)  # type: ignore[union-attr]
    resolve_path = resolve_path.removeprefix("https://klaxon.example.com")
    assert client.post(resolve_path).status_code == 400
    assert Incident.objects.get(pk=incident_of(row)).state == Incident.State.ACKNOWLEDGED


def test_email_links_expire_and_refuse_tampering(
    live_twilio: Any, alice: Any, client: Client
) -> None:
    row = page(alice, channel="email", kind="email")
    url = links.action_url(row, "resolve").removeprefix("https://klaxon.example.com")
    tampered = url[:-3] + ("AAA" if not url.endswith("AAA/") else "BBB") + "/"
    assert client.post(tampered).status_code == 400
    live_twilio.EMAIL_LINK_MAX_AGE_HOURS = -1
    expired = client.post(url)
    assert expired.status_code == 400 and b"expired" in expired.content
    assert Incident.objects.get(pk=incident_of(row)).state == Incident.State.TRIGGERED


def test_resolving_tells_everyone_who_was_paged_by_their_resolved_rules(
    settings: Any, alice: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.TWILIO_OUTBOX_MODE = True
    bob = UserFactory(username="bob", phone="")  # email only
    carol = UserFactory(username="carol", phone="+15005550003")
    sms = page(alice)
    incident = sms.incident
    assert incident is not None
    for user, channel, kind in ((bob, "email", "email"), (carol, "sms", "phone")):
        method = user.contact_methods.get(kind=kind)
        Notification.objects.create(
            incident=incident, user=user, contact_method=method, purpose="triggered",
            channel=channel, destination=method.value, due_at=timezone.now(),
        )  # fmt: skip
    services.notification_deliver(notification_id=sms.pk)
    bob_page = Notification.objects.get(user=bob)
    services.notification_deliver(notification_id=bob_page.pk)
    # carol's page was never attempted (cancelled on resolve): she is not told.

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        incident_resolve(incident_id=incident.pk, user=alice, via=Via.WEB)
    # The resolve queues the follow-ups; sending them is queued on their own commit.
    for _ in range(3):
        if not callbacks:
            break
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            pass
    resolved = Notification.objects.filter(purpose="resolved").order_by("user__username")
    assert [(n.user.username, n.channel, n.status) for n in resolved] == [
        ("alice", "sms", "sent"),
        ("bob", "email", "sent"),
    ]
    assert resolved[0].body.startswith(f"Klaxon #{incident.pk} RESOLVED: ")
    assert Notification.objects.get(user=carol, purpose="triggered").status == Status.CANCELLED
    # A second resolve signal queues nothing new.
    assert services.notification_queue_resolved(incident_id=incident.pk) == 0


def test_the_beat_requeues_lost_sends_and_fails_stuck_ones(
    settings: Any, alice: Any, monkeypatch: Any
) -> None:
    settings.TWILIO_OUTBOX_MODE = True
    settings.NOTIFY_STUCK_SECONDS = 300
    lost, stuck, fresh = page(alice), page(alice), page(alice)
    long_ago = timezone.now() - timedelta(minutes=10)
    Notification.objects.filter(pk=lost.pk).update(due_at=long_ago)
    Notification.objects.filter(pk=stuck.pk).update(due_at=long_ago, status=Status.SENDING)
    Notification.objects.filter(pk=stuck.pk).update(updated_at=long_ago)

    requeued, failed = services.notification_rekick_due()

    assert (requeued, failed) == (1, 1)
    assert reload(lost).status == Status.SENT  # its task ran (eagerly) and sent it
    stuck = reload(stuck)
    assert stuck.status == Status.FAILED and "not retried" in stuck.error
    assert reload(fresh).status == Status.QUEUED  # due now: its own task will send it


def test_test_sends_and_verification_codes_need_no_incident(settings: Any, alice: Any) -> None:
    settings.TWILIO_OUTBOX_MODE = True
    phone = alice.contact_methods.get(kind=ContactMethod.Kind.PHONE)
    for channel in ("sms", "voice"):
        row = services.notification_queue_test(method=phone, channel=channel)
        services.notification_deliver(notification_id=row.pk)
        assert reload(row).status == Status.SENT
    with pytest.raises(ValueError):
        services.notification_queue_test(method=phone, channel="email")
    code = services.notification_send_verification_code(method=phone, code="123456")
    services.notification_deliver(notification_id=code.pk)
    assert "123456" in reload(code).body  # outbox mode keeps it, so a developer can read it


def test_a_real_verification_sms_does_not_keep_the_code(live_twilio: Any, alice: Any) -> None:
    phone = alice.contact_methods.get(kind=ContactMethod.Kind.PHONE)
    row = services.notification_send_verification_code(method=phone, code="654321")
    with responses.RequestsMock() as rsps:
        twilio_fake.add_sms_ok(rsps)
        services.notification_deliver(notification_id=row.pk)
        assert "654321" in twilio_fake.form(rsps.calls[0])["Body"]
    assert "654321" not in reload(row).body


def test_resolved_notices_are_rows_written_with_the_resolve_itself(
    settings: Any, alice: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """Durable before any broker is involved: the rows exist once the resolve commits, and
    beat sends them if the message that should have is lost."""
    settings.TWILIO_OUTBOX_MODE = True
    sms = page(alice)
    services.notification_deliver(notification_id=sms.pk)

    with django_capture_on_commit_callbacks(execute=False):  # the broker never hears
        incident_resolve(incident_id=incident_of(sms), user=alice, via=Via.WEB)
    notice = Notification.objects.get(purpose="resolved")
    assert (notice.user, notice.status) == (alice, Status.QUEUED)

    settings.NOTIFY_REKICK_GRACE_SECONDS = 0
    assert services.notification_rekick_due() == (1, 0)
    assert reload(notice).status == Status.SENT


def test_an_incident_that_never_escalated_resolves_with_no_follow_up_work(
    alice: Any, django_capture_on_commit_callbacks: Any
) -> None:
    incident = IncidentFactory()  # no escalation step ever ran: nobody was paged
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        incident_resolve(incident_id=incident.pk, user=alice, via=Via.WEB)
    assert not callbacks
    assert not Notification.objects.exists()
