"""Paging tasks (queue "critical"): thin shells over notifications.services."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from config import broker
from notifications import services


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=2,
    max_retries=3,
)
def send_notification(notification_id: int) -> str:
    """Send one notification if it is still queued and due; queue its retry if the
    provider failed transiently. A duplicate of this task finds nothing to claim."""
    result = services.notification_deliver(notification_id=notification_id)
    if result.retry_at is not None:
        broker.publish(send_notification, notification_id, eta=result.retry_at)
    return result.outcome


@shared_task(acks_late=True)
def rekick_due_notifications() -> tuple[int, int]:
    return services.notification_rekick_due()
