"""Retention's task (beat, hourly): a thin shell over retention.services."""

from __future__ import annotations

from celery import shared_task

from retention import services


@shared_task(acks_late=True)
def prune_old_rows() -> dict[str, int]:
    return services.retention_prune()
