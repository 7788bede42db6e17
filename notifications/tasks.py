"""Paging tasks (queue "critical"): thin shells over notifications.services."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from notifications import services


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=2,
    max_retries=3,
    ignore_result=True,  # the row is the result
)
def send_notification(notification_id: int) -> str:
    """Send one notification if it is still queued and due; queue its retry if the
    provider failed transiently. A duplicate of this task finds nothing to claim."""
    result = services.deliver(notification_id)
    if result.retry_at is not None:
        send_notification.apply_async((notification_id,), eta=result.retry_at)
    return result.outcome


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=2, max_retries=3)
def notify_resolved(incident_id: int) -> int:
    return services.queue_resolved(incident_id=incident_id)


@shared_task(acks_late=True)
def rekick_due_notifications() -> tuple[int, int]:
    return services.rekick_due()
