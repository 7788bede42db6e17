"""Paging follows the incident: acknowledging or resolving cancels pages not sent yet,
and resolving tells everyone who was paged."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from incidents import signals
from notifications import services


@receiver(signals.incident_acknowledged, dispatch_uid="notifications-cancel-on-ack")
def cancel_on_ack(sender: Any, *, incident_id: int, channel: str, **kwargs: Any) -> None:
    services.cancel_pending(incident_id=incident_id, why=f"incident acknowledged via {channel}")


@receiver(signals.incident_resolved, dispatch_uid="notifications-on-resolve")
def on_resolve(sender: Any, *, incident_id: int, channel: str, **kwargs: Any) -> None:
    from notifications.tasks import notify_resolved

    services.cancel_pending(incident_id=incident_id, why=f"incident resolved via {channel}")
    notify_resolved.delay(incident_id)
