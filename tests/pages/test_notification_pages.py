"""The Outbox page and the pages section of an incident: what was sent, to whom, and
what went wrong."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from notifications import services
from notifications.models import Notification
from tests.factories import IncidentFactory, UserFactory

pytestmark = pytest.mark.django_db


def queued(user: Any, incident: Any = None, channel: str = "sms", **extra: Any) -> Notification:
    method = user.contact_methods.get(kind="email" if channel == "email" else "phone")
    return Notification.objects.create(
        incident=incident, user=user, contact_method=method,
        purpose="triggered" if incident else "test", channel=channel,
        destination=method.value, due_at=timezone.now(), **extra,
    )  # fmt: skip


def test_outbox_shows_recorded_messages_and_their_text(settings: Any, client: Client) -> None:
    settings.TWILIO_OUTBOX_MODE = True
    alice = UserFactory(username="alice", phone="+15005550001")
    incident = IncidentFactory(title="Root login")
    row = queued(alice, incident)
    services.notification_deliver(notification_id=row.pk)
    client.force_login(alice)

    page = client.get("/notifications/outbox/").content.decode()
    assert "Outbox mode" in page
    assert "+15005550001" in page and "Sent (recorded)" in page
    assert f'href="/incidents/{incident.pk}/"' in page

    detail = client.get(f"/notifications/outbox/{row.pk}/").content.decode()
    assert f"Klaxon #{incident.pk} TRIGGERED: Root login" in detail
    assert "recorded, not sent" in detail


def test_outbox_filters_by_status_and_needs_a_login(client: Client) -> None:
    alice = UserFactory(username="alice", phone="+15005550001")
    queued(alice, status="failed", error="Twilio 400 error 21211: invalid")
    queued(alice)
    assert client.get("/notifications/outbox/").status_code == 302
    client.force_login(alice)
    failed = client.get("/notifications/outbox/", {"status": "failed"}).content.decode()
    assert failed.count('class="row"') == 1 and "21211" in failed
    everything = client.get("/notifications/outbox/", {"status": "nonsense"}).content.decode()
    assert everything.count('class="row"') == 2


def test_incident_page_lists_pages_with_failures_named(client: Client) -> None:
    alice = UserFactory(username="alice", phone="+15005550001")
    incident = IncidentFactory()
    queued(alice, incident, status="failed", attempts=1,
           error="Twilio 400 error 21610: Attempt to send to unsubscribed recipient")  # fmt: skip
    queued(alice, incident, channel="voice")
    client.force_login(alice)
    page = client.get(incident.get_absolute_url()).content.decode()
    assert "Attempt to send to unsubscribed recipient" in page
    assert page.count('class="badge long notify-') == 2
    assert "Voice call" in page


def test_incident_without_pages_says_why(client: Client) -> None:
    incident = IncidentFactory()
    client.force_login(UserFactory())
    page = client.get(incident.get_absolute_url()).content.decode()
    assert "Nobody has been paged for this incident: its integration has no escalation policy" in (
        page
    )


def test_a_broken_email_link_gets_a_page_not_an_error(client: Client) -> None:
    response = client.get("/notifications/act/not-a-token/")
    assert response.status_code == 400
    assert b"This link is not valid." in response.content


def test_a_verification_code_is_shown_only_to_its_owner(settings: Any, client: Client) -> None:
    settings.TWILIO_OUTBOX_MODE = True
    alice = UserFactory(username="alice", phone="+15005550001")
    row = services.notification_send_verification_code(
        method=alice.contact_methods.get(kind="phone"), code="246810"
    )
    services.notification_deliver(notification_id=row.pk)
    client.force_login(UserFactory(username="mallory"))
    other = client.get(f"/notifications/outbox/{row.pk}/").content.decode()
    assert "246810" not in other and "******" in other
    client.force_login(alice)
    assert "246810" in client.get(f"/notifications/outbox/{row.pk}/").content.decode()


def test_outbox_pages_back_by_id(client: Client) -> None:
    alice = UserFactory(username="alice", phone="+15005550001")
    rows = [queued(alice) for _ in range(55)]
    client.force_login(alice)
    first = client.get("/notifications/outbox/").content.decode()
    assert first.count('class="row"') == 50
    assert f"before={rows[5].pk}" in first  # the oldest row shown
    older = client.get("/notifications/outbox/", {"before": rows[5].pk}).content.decode()
    assert older.count('class="row"') == 5 and "Newest" in older and "Older" not in older
