"""Escalation follows the incident's state: acknowledging or resolving stops it."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from incidents import escalation, signals


@receiver(signals.incident_acknowledged, dispatch_uid="escalation-stop-on-ack")
@receiver(signals.incident_resolved, dispatch_uid="escalation-stop-on-resolve")
def stop_escalation(sender: Any, *, incident_id: int, **kwargs: Any) -> None:
    # The step task checks the state under the row lock too; this clears the due time
    # so the beat stops looking at the incident, and makes queued tasks stale.
    escalation.escalation_stop(incident_id=incident_id)
