from __future__ import annotations

from typing import Any

from celery import shared_task

from integrations import services

MAX_CONFIRM_RETRIES = 4


@shared_task(bind=True, acks_late=True, max_retries=MAX_CONFIRM_RETRIES)
def confirm_subscription(self: Any, inbound_message_id: int) -> str:
    """Visit the SubscribeURL of a SubscriptionConfirmation (auto-confirm).

    Retries a few times with growing delays when SNS did not answer or answered 5xx/429;
    a refusal (URL not allowed, 4xx) is final and shown in the Inbound Log."""
    row, transient = services.subscription_confirm(inbound_message_id=inbound_message_id)
    if transient and self.request.retries < MAX_CONFIRM_RETRIES:
        raise self.retry(countdown=15 * 2**self.request.retries)
    return row.confirm_result
