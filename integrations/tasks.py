from __future__ import annotations

from celery import shared_task

from integrations import services


@shared_task(acks_late=True, max_retries=3, default_retry_delay=30)
def confirm_subscription(inbound_message_id: int) -> str:
    """Visit the SubscribeURL of a SubscriptionConfirmation (auto-confirm)."""
    row = services.subscription_confirm(inbound_message_id=inbound_message_id)
    return row.confirm_result
