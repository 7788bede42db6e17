"""Writes to incidents: open, append, acknowledge, resolve. Views and the inbound path
call these; nothing else changes an incident's state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from incidents import signals
from incidents.models import Incident, IncidentEvent

if TYPE_CHECKING:
    from accounts.models import User
    from integrations.models import Integration
    from integrations.sources.cloudwatch import CloudWatchAlarm

Outcome = str  # one of InboundMessage.Outcome values


@dataclass(frozen=True)
class AlarmResult:
    """What an alarm did: the outcome for the Inbound Log, the incident it touched and the
    timeline line it wrote (the caller links its log row to that line)."""

    outcome: Outcome
    incident: Incident | None
    reason: str = ""
    event: IncidentEvent | None = None


def _send_on_commit(signal: Signal, incident: Incident, channel: str) -> None:
    incident_id = incident.pk
    transaction.on_commit(
        lambda: signal.send(sender=Incident, incident_id=incident_id, channel=channel)
    )


def incident_open(
    *,
    integration: Integration,
    dedup_key: str,
    title: str,
    description: str = "",
    details: dict[str, Any] | None = None,
    state_change_at: datetime | None = None,
    message: str = "",
) -> AlarmResult:
    """Open a triggered incident. Raises IntegrityError if one is already open for the key
    (the partial unique index); callers in a race retry and append instead."""
    now = timezone.now()
    incident = Incident.objects.create(
        integration=integration,
        dedup_key=dedup_key[:512],
        title=title[:255] or "(untitled alert)",
        description=description,
        details=details or {},
        created_at=now,
        last_seen_at=now,
        last_state_change_at=state_change_at,
    )
    event = IncidentEvent.objects.create(
        incident=incident,
        kind=IncidentEvent.Kind.TRIGGERED,
        at=now,
        channel="source",
        message=message or f"Opened by {integration.name}.",
    )
    _send_on_commit(signals.incident_triggered, incident, "source")
    return AlarmResult("created", incident, event=event)


def incident_apply_alarm(*, integration: Integration, alarm: CloudWatchAlarm) -> AlarmResult:
    """The CloudWatch alarm state machine for one (integration, alarm) key.

    Must run inside a transaction: the newest incident for the key is locked so two
    messages for the same alarm are applied one after the other.
    """
    state = alarm.new_state
    if state == "INSUFFICIENT_DATA":
        if not integration.insufficient_data_as_alarm:
            return AlarmResult("ignored", None, "INSUFFICIENT_DATA is ignored by this integration")
        state = "ALARM"

    latest = (
        Incident.objects.select_for_update()
        .filter(integration=integration, dedup_key=alarm.dedup_key[:512])
        .only("id", "state", "alarm_count", "last_state_change_at")
        .order_by("-id")
        .first()
    )
    changed_at = alarm.state_change_time
    if latest and latest.last_state_change_at and changed_at < latest.last_state_change_at:
        return AlarmResult(
            "stale",
            latest,
            f"StateChangeTime {changed_at.isoformat()} is older than the last state applied "
            f"({latest.last_state_change_at.isoformat()})",
        )

    now = timezone.now()
    summary = f"{alarm.new_state}: {alarm.reason}".strip()
    if state == "ALARM":
        if latest is None or not latest.is_open:
            return incident_open(
                integration=integration,
                dedup_key=alarm.dedup_key,
                title=alarm.alarm_name,
                description=alarm.alarm_description,
                details=alarm.details(),
                state_change_at=changed_at,
                message=summary,
            )
        latest.alarm_count += 1
        latest.last_seen_at = now
        latest.last_state_change_at = changed_at
        latest.details = alarm.details()
        latest.save(
            update_fields=["alarm_count", "last_seen_at", "last_state_change_at", "details"]
        )
        event = IncidentEvent.objects.create(
            incident=latest,
            kind=IncidentEvent.Kind.APPENDED,
            at=now,
            channel="source",
            message=summary,
        )
        return AlarmResult("appended", latest, event=event)

    # OK
    if latest is None or not latest.is_open:
        if latest is not None:
            latest.last_state_change_at = changed_at
            latest.save(update_fields=["last_state_change_at"])
        return AlarmResult("ignored", latest, "OK with no open incident for this alarm")
    latest.last_state_change_at = changed_at
    latest.last_seen_at = now
    if integration.security_mode:
        latest.save(update_fields=["last_state_change_at", "last_seen_at"])
        event = IncidentEvent.objects.create(
            incident=latest,
            kind=IncidentEvent.Kind.SOURCE_OK,
            at=now,
            channel="source",
            message=f"Source reported OK (security mode: a person must resolve). {alarm.reason}",
        )
        return AlarmResult("noted", latest, event=event)
    event = _resolve(
        latest,
        at=now,
        user=None,
        channel="source",
        message=f"Resolved by source (OK). {alarm.reason}".strip(),
    )
    return AlarmResult("resolved", latest, event=event)


def _resolve(
    incident: Incident, *, at: datetime, user: User | None, channel: str, message: str
) -> IncidentEvent:
    incident.state = Incident.State.RESOLVED
    incident.resolved_at = at
    incident.resolved_by = user
    incident.save(
        update_fields=[
            "state",
            "resolved_at",
            "resolved_by",
            "last_state_change_at",
            "last_seen_at",
        ]
    )
    event = IncidentEvent.objects.create(
        incident=incident,
        kind=IncidentEvent.Kind.RESOLVED,
        at=at,
        actor=user,
        channel=channel,
        message=message,
    )
    _send_on_commit(signals.incident_resolved, incident, channel)
    return event


def incident_acknowledge(*, incident_id: int, user: User | None, channel: str) -> Incident:
    """Acknowledge a triggered incident; anything else is left as it is (idempotent)."""
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident_id)
        if incident.state != Incident.State.TRIGGERED:
            return incident
        now = timezone.now()
        incident.state = Incident.State.ACKNOWLEDGED
        incident.acknowledged_at = now
        incident.acknowledged_by = user
        incident.save(update_fields=["state", "acknowledged_at", "acknowledged_by"])
        who = user.get_username() if user else "someone"
        IncidentEvent.objects.create(
            incident=incident,
            kind=IncidentEvent.Kind.ACKNOWLEDGED,
            at=now,
            actor=user,
            channel=channel,
            message=f"Acknowledged by {who} via {channel}.",
        )
        _send_on_commit(signals.incident_acknowledged, incident, channel)
    return incident


def incident_resolve(*, incident_id: int, user: User | None, channel: str) -> Incident:
    """Resolve an open incident by a person; resolving twice changes nothing."""
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident_id)
        if not incident.is_open:
            return incident
        who = user.get_username() if user else "someone"
        _resolve(
            incident,
            at=timezone.now(),
            user=user,
            channel=channel,
            message=f"Resolved by {who} via {channel}.",
        )
    return incident


def incident_add_note(*, incident_id: int, user: User, text: str) -> IncidentEvent:
    return IncidentEvent.objects.create(
        incident_id=incident_id,
        kind=IncidentEvent.Kind.NOTE,
        at=timezone.now(),
        actor=user,
        channel="web",
        message=text,
    )
