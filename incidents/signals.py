"""The hook later layers (escalation, paging) attach to.

Each signal is sent once the transaction that changed the incident has committed, with
``incident_id`` and ``channel``. Receivers must be quick: enqueue a Celery task.
"""

from __future__ import annotations

from django.dispatch import Signal

incident_triggered = Signal()
incident_acknowledged = Signal()
incident_resolved = Signal()
