"""Old rows go, a batch at a time, each table by its own retention; what is kept stays."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from incidents.models import Incident, IncidentEvent
from integrations.models import InboundMessage
from notifications.models import Notification
from retention import services
from retention.models import PruneRun
from tests.factories import IncidentFactory, IntegrationFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def inbound(days_ago: float, **fields: Any) -> InboundMessage:
    return InboundMessage.objects.create(
        integration=fields.pop("integration", None),
        received_at=NOW - timedelta(days=days_ago),
        outcome="created",
        **fields,
    )


def line(incident: Incident) -> IncidentEvent:
    return IncidentEvent.objects.create(incident=incident, kind="note", at=NOW, message="x")


def test_each_table_keeps_its_days_and_loses_what_is_older(
    settings: Any, monkeypatch: Any
) -> None:
    settings.RETENTION_INBOUND_DAYS = 30
    settings.RETENTION_TIMELINE_DAYS = 90
    settings.RETENTION_NOTIFICATIONS_DAYS = 60
    monkeypatch.setattr(services, "BATCH", 3)  # several batches
    integration = IntegrationFactory()
    old_rows = [inbound(31 + n, integration=integration) for n in range(7)]
    new_rows = [inbound(29, integration=integration), inbound(1, integration=integration)]

    long_resolved = IncidentFactory(
        integration=integration, state="resolved", resolved_at=NOW - timedelta(days=91)
    )
    recently_resolved = IncidentFactory(
        integration=integration, state="resolved", resolved_at=NOW - timedelta(days=89)
    )
    still_open = IncidentFactory(integration=integration)
    for incident in (long_resolved, recently_resolved, still_open):
        for _ in range(4):
            line(incident)
    # A recent Inbound Log row that wrote a line of the long-resolved incident.
    linked = inbound(1, integration=integration, event=long_resolved.events.first())

    user = UserFactory(phone="+15005550001")
    method = user.contact_methods.get(kind="phone")

    def notification(days_ago: int, status: str) -> Notification:
        row = Notification.objects.create(
            user=user, contact_method=method, purpose="test", channel="sms",
            destination=method.value, due_at=NOW, status=status,
        )  # fmt: skip
        Notification.objects.filter(pk=row.pk).update(created_at=NOW - timedelta(days=days_ago))
        return row

    gone = [notification(61, s) for s in ("sent", "delivered", "failed", "cancelled")]
    kept = [notification(61, "queued"), notification(59, "sent")]

    deleted = services.retention_prune(now=NOW)

    assert deleted == {"inbound": 7, "timeline": 4, "notifications": 4}
    assert not InboundMessage.objects.filter(pk__in=[r.pk for r in old_rows]).exists()
    assert InboundMessage.objects.filter(pk__in=[r.pk for r in new_rows]).count() == 2
    assert not long_resolved.events.exists()
    assert Incident.objects.filter(pk=long_resolved.pk).exists()  # reports keep it
    assert recently_resolved.events.count() == 4 and still_open.events.count() == 4
    linked.refresh_from_db()
    assert linked.event_id is None  # the row stays, without its line
    assert not Notification.objects.filter(pk__in=[n.pk for n in gone]).exists()
    assert Notification.objects.filter(pk__in=[n.pk for n in kept]).count() == 2
    assert {run.table: run.deleted for run in PruneRun.objects.all()} == deleted


def test_zero_days_keeps_a_table_for_ever(settings: Any) -> None:
    settings.RETENTION_INBOUND_DAYS = 0
    settings.RETENTION_TIMELINE_DAYS = 0
    settings.RETENTION_NOTIFICATIONS_DAYS = 0
    inbound(4000)
    assert services.retention_prune(now=NOW) == {}
    assert InboundMessage.objects.count() == 1


def test_the_settings_page_shows_each_tables_retention_and_last_pruning(
    client: Client, settings: Any
) -> None:
    settings.RETENTION_INBOUND_DAYS = 30
    settings.RETENTION_NOTIFICATIONS_DAYS = 0
    inbound(40)
    services.retention_prune(now=NOW)
    client.force_login(UserFactory(is_staff=True))
    page = client.get("/settings/").content.decode()
    assert "Retention" in page and "30 days" in page and "for ever" in page
    assert "1 row before" in page
