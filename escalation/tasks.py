"""Escalation tasks: thin shells over escalation.engine.

Each keeps the name it had when it lived in ``incidents/tasks.py``: messages already in
the broker (and the beat schedule, and CELERY_TASK_ROUTES) name a task by that string,
so a renamed task would leave them with nobody to run them."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.db import OperationalError

from escalation import engine

# A step task: acknowledged after it ran (a worker that dies mid-step leaves the message
# to be redelivered) and retried a few times with backoff when the database is away.
STEP_TASK: dict[str, Any] = {
    "acks_late": True,
    "autoretry_for": (OperationalError,),
    "retry_backoff": 2,
    "max_retries": 3,
}


@shared_task(name="incidents.tasks.escalate", **STEP_TASK)
def escalate(incident_id: int, token: str) -> str:
    """Run one escalation step if ``token`` is still the incident's token.

    ``acks_late``: a worker that dies mid-step leaves the message to be redelivered; the
    step either committed (the redelivery finds a stale token) or rolled back (it runs).
    Past the retries, the beat below re-kicks the step from the row."""
    return engine.escalation_run_step(incident_id=incident_id, token=token)


@shared_task(name="incidents.tasks.escalate_many", **STEP_TASK)
def escalate_many(steps: list[tuple[int, str]]) -> dict[str, int]:
    """Run many overdue steps, each as ``escalate`` would (the re-kick sends these)."""
    return engine.escalation_run_steps(steps=[(int(i), str(t)) for i, t in steps])


@shared_task(name="incidents.tasks.rekick_due_escalations", acks_late=True)
def rekick_due_escalations() -> int:
    """Beat, every ESCALATION_REKICK_SECONDS: queue every overdue step again."""
    return engine.escalation_rekick_due()
