"""Pruning: rows older than their table's retention are deleted, a batch at a time.

At 300 requests a second the Inbound Log gains 26M rows a day. Each table keeps what its
setting says (``RETENTION_*_DAYS``, 0 = keep for ever): Inbound Log rows by when they
were received; the timelines of incidents resolved before the cutoff (the incidents
themselves stay, for reports); finished notifications (sent, delivered, failed,
cancelled). Each batch of ``BATCH`` rows is its own short transaction found through an
index (by id from the oldest), so pruning never holds long locks and ingest goes on
beside it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Model, QuerySet
from django.utils import timezone

from incidents.models import IncidentEvent
from integrations.models import InboundMessage
from notifications.models import Notification
from retention.models import PruneRun

logger = logging.getLogger(__name__)

BATCH = 5000
FINISHED = ["sent", "delivered", "failed", "cancelled"]


def _in_batches(next_ids: Callable[[], list[int]], delete: Callable[[list[int]], int]) -> int:
    deleted = 0
    while ids := next_ids():
        with transaction.atomic():
            deleted += delete(ids)
    return deleted


def _delete(model: type[Model]) -> Callable[[list[int]], int]:
    # The ORM's delete: one DELETE when nothing points at the rows, and the right
    # cascade or SET NULL when something does (an Inbound Log row's timeline line).
    return lambda ids: (
        model._default_manager.filter(pk__in=ids).delete()[1].get(model._meta.label, 0)
    )


def _ids(queryset: QuerySet[Any]) -> Callable[[], list[int]]:
    return lambda: list(queryset.order_by("pk").values_list("pk", flat=True)[:BATCH])


def _delete_inbound(cutoff: datetime) -> int:
    old = InboundMessage.objects.filter(received_at__lt=cutoff)
    return _in_batches(_ids(old), _delete(InboundMessage))


def _delete_timelines(cutoff: datetime) -> int:
    # Line ids of incidents resolved before the cutoff, oldest first (the lines' incident
    # index). The Inbound Log rows that point at a line lose the link, not the row.
    lines = IncidentEvent.objects.filter(
        incident__state="resolved", incident__resolved_at__lt=cutoff
    )
    return _in_batches(_ids(lines), _delete(IncidentEvent))


def _delete_notifications(cutoff: datetime) -> int:
    old = Notification.objects.filter(status__in=FINISHED, created_at__lt=cutoff)
    return _in_batches(_ids(old), _delete(Notification))


PRUNERS = {
    PruneRun.Table.INBOUND: ("RETENTION_INBOUND_DAYS", _delete_inbound),
    PruneRun.Table.TIMELINE: ("RETENTION_TIMELINE_DAYS", _delete_timelines),
    PruneRun.Table.NOTIFICATIONS: ("RETENTION_NOTIFICATIONS_DAYS", _delete_notifications),
}


def retention_prune(*, now: datetime | None = None) -> dict[str, int]:
    """Prune every table whose retention is set; record and return what each deleted."""
    now = now or timezone.now()
    deleted: dict[str, int] = {}
    for table, (setting, prune) in PRUNERS.items():
        days = int(getattr(settings, setting))
        if days <= 0:
            continue
        cutoff = now - timedelta(days=days)
        started = time.monotonic()
        deleted[table] = prune(cutoff)
        PruneRun.objects.create(
            table=table,
            at=now,
            cutoff=cutoff,
            deleted=deleted[table],
            seconds=time.monotonic() - started,
        )
        if deleted[table]:
            logger.info("pruned %d %s rows before %s", deleted[table], table, cutoff)
    return deleted


def retention_overview() -> list[tuple[str, int, PruneRun | None]]:
    """For the settings page: each table, its retention in days, and its last pruning."""
    overview = []
    for table, (setting, _) in PRUNERS.items():
        last = PruneRun.objects.filter(table=table).first()
        overview.append((PruneRun.Table(table).label, int(getattr(settings, setting)), last))
    return overview
