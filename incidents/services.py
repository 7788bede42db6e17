"""Writes to incidents: open, append, acknowledge, resolve. Views and the inbound path
call these; nothing else changes an incident's state.

What a person does (acknowledge, resolve, note) passes the role check in
``incidents.permissions`` first, whichever channel it came from: a viewer or a
deactivated user gets ``NotAllowed`` and nothing changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from escalation.engine import escalation_enqueue_step, new_escalation_token
from incidents import permissions
from incidents.models import AlarmKeyState, Incident, IncidentEvent
from notifications import services as paging

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
    incident_id: int | None
    reason: str = ""
    event: IncidentEvent | None = None


def _after_stop(incident_id: int, *, escalated: bool, resolved: bool, why: str) -> None:
    """What follows an acknowledgement or a resolve, in the same transaction as the change
    (the caller has already stopped escalation on the row): pages not sent yet are
    cancelled (the delayed voice call, say), and after a resolve everyone who was paged
    gets their "resolved" rules as Notification rows, sent once the transaction commits
    (beat re-sends them if the broker loses the message).

    ``escalated``: whether any escalation step ever ran. When none did, nobody was paged
    and there is nothing to cancel or tell (the common case for an alarm that clears on
    its own), so this costs no query."""
    if not escalated:
        return
    paging.notification_cancel_pending(incident_id=incident_id, why=why)
    if resolved:
        paging.notification_queue_resolved(incident_id=incident_id)


def _stop_escalation(incident: Incident) -> bool:
    """Stop escalating ``incident`` (in memory; the caller saves ``_ESCALATION_STOP``): no
    next step, and a new token so any queued step task finds itself stale. Returns whether
    a step ever ran."""
    escalated = bool(incident.escalation_step or incident.escalation_round)
    if incident.next_escalation_at is not None or incident.escalation_token:
        incident.next_escalation_at = None
        incident.escalation_token = new_escalation_token()
    return escalated


_ESCALATION_STOP = ["next_escalation_at", "escalation_token"]


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
    # Escalation starts in the same INSERT (no extra query on the ingest path): the first
    # step is due now, and the task queued on commit snapshots the policy.
    escalates = integration.escalation_policy_id is not None
    incident = Incident.objects.create(
        integration=integration,
        dedup_key=dedup_key[:512],
        title=title[:255] or "(untitled alert)",
        description=description,
        details=details or {},
        created_at=now,
        last_seen_at=now,
        last_state_change_at=state_change_at,
        next_escalation_at=now if escalates else None,
        escalation_token=new_escalation_token() if escalates else "",
    )
    event = IncidentEvent.objects.create(
        incident=incident,
        kind=IncidentEvent.Kind.TRIGGERED,
        at=now,
        via=IncidentEvent.Via.SOURCE,
        message=message or f"Opened by {integration.name}.",
    )
    if escalates:
        escalation_enqueue_step(incident_id=incident.pk, token=incident.escalation_token)
    return AlarmResult("created", incident.pk, event=event)


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

    changed_at = alarm.state_change_time
    key = alarm.dedup_key[:512]
    fast = _apply_to_open_incident(integration, key, state, alarm)
    if fast is not None:
        return fast

    # No open incident took the message. Lock the key (its state row exists even when no
    # incident does) and record this StateChangeTime if it is the newest, then decide.
    newest = _claim_alarm_key(integration.pk, key, changed_at)
    latest = (
        Incident.objects.select_for_update()
        .filter(integration=integration, dedup_key=key)
        .only("id", "state", "last_state_change_at")
        .order_by("-id")
        .first()
    )
    if latest is not None and latest.last_state_change_at is not None:
        newest = max(newest, latest.last_state_change_at)
    if changed_at < newest:
        return AlarmResult(
            "stale",
            latest.pk if latest else None,
            f"StateChangeTime {changed_at.isoformat()} is older than the last state applied "
            f"({newest.isoformat()})",
        )
    if latest is not None and latest.is_open:
        if state == "OK" and integration.security_mode:
            latest.last_state_change_at = changed_at
            latest.last_seen_at = timezone.now()
            latest.save(update_fields=["last_state_change_at", "last_seen_at"])
            message = f"Source reported OK (security mode: a person must resolve). {alarm.reason}"
            event = _add_event(latest.pk, IncidentEvent.Kind.SOURCE_OK, message)
            return AlarmResult("noted", latest.pk, event=event)
        # A concurrent request opened it after our UPDATE looked; we hold its lock now.
        again = _apply_to_open_incident(integration, key, state, alarm)
        assert again is not None, "an open, non-stale incident must take the message"
        return again
    if state == "ALARM":
        return incident_open(
            integration=integration,
            dedup_key=key,
            title=alarm.alarm_name,
            description=alarm.alarm_description,
            details=alarm.details(),
            state_change_at=changed_at,
            message=f"{alarm.new_state}: {alarm.reason}".strip(),
        )
    if latest is not None:  # OK after a person resolved: remember it for staleness
        latest.last_state_change_at = changed_at
        latest.save(update_fields=["last_state_change_at"])
    return AlarmResult(
        "ignored", latest.pk if latest else None, "OK with no open incident for this alarm"
    )


def _apply_to_open_incident(
    integration: Integration, key: str, state: str, alarm: CloudWatchAlarm
) -> AlarmResult | None:
    """The common case in one statement: a repeated ALARM appends to, or an OK resolves,
    the open incident for the key. The conditional UPDATE also takes the row lock. None
    when no open incident qualifies (none open, the message is stale, or security mode
    turns OK into a note)."""
    now = timezone.now()
    changed_at = alarm.state_change_time
    if state == "ALARM":
        appended = _update_open_incident(
            integration.pk,
            key,
            changed_at,
            "alarm_count = alarm_count + 1, last_seen_at = %s, last_state_change_at = %s, "
            "details = %s",
            [_db("last_seen_at", now), _db("last_state_change_at", changed_at),
             _db("details", alarm.details())],
        )  # fmt: skip
        if appended is None:
            return None
        incident_id = appended[0]
        summary = f"{alarm.new_state}: {alarm.reason}".strip()
        event = _add_event(incident_id, IncidentEvent.Kind.APPENDED, summary, at=now)
        return AlarmResult("appended", incident_id, event=event)
    if integration.security_mode:
        return None
    # The resolve stops escalation in the same statement, and says whether a step ever
    # ran: only then can there be pages to cancel and people to tell.
    resolved = _update_open_incident(
        integration.pk,
        key,
        changed_at,
        "state = %s, resolved_at = %s, resolved_by_id = NULL, last_seen_at = %s, "
        "last_state_change_at = %s, next_escalation_at = NULL, escalation_token = %s",
        [Incident.State.RESOLVED.value, _db("resolved_at", now), _db("last_seen_at", now),
         _db("last_state_change_at", changed_at), new_escalation_token()],
    )  # fmt: skip
    if resolved is None:
        return None
    incident_id, steps_run = resolved
    message = f"Resolved by source (OK). {alarm.reason}".strip()
    event = _add_event(incident_id, IncidentEvent.Kind.RESOLVED, message, at=now)
    _after_stop(
        incident_id, escalated=steps_run > 0, resolved=True, why="incident resolved by source"
    )
    return AlarmResult("resolved", incident_id, event=event)


def _db(field: str, value: Any) -> Any:
    """``value`` as the database expects it for Incident.<field> (raw SQL below)."""
    model_field = Incident._meta.get_field(field)
    assert isinstance(model_field, models.Field)
    return model_field.get_db_prep_value(value, connection)


def _claim_alarm_key(integration_id: int, key: str, changed_at: datetime) -> datetime:
    """Create or lock the key's state row, keep the newest StateChangeTime on it, and
    return that newest time (later than ``changed_at`` means the message is stale).

    One statement on both databases: INSERT ... ON CONFLICT DO UPDATE takes the row lock,
    so concurrent messages for a key with no incident yet are applied one at a time."""
    table = connection.ops.quote_name(AlarmKeyState._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (integration_id, dedup_key, last_state_change_at) "
            "VALUES (%s, %s, %s) ON CONFLICT (integration_id, dedup_key) DO UPDATE SET "
            f"last_state_change_at = CASE WHEN {table}.last_state_change_at > "
            f"excluded.last_state_change_at THEN {table}.last_state_change_at "
            "ELSE excluded.last_state_change_at END RETURNING last_state_change_at",
            [integration_id, key, _db("last_state_change_at", changed_at)],
        )
        (stored,) = cursor.fetchone()
    # PostgreSQL returns an aware datetime; SQLite naive UTC (or its text form).
    if isinstance(stored, str):
        stored = parse_datetime(stored)
    assert isinstance(stored, datetime), stored
    return stored if timezone.is_aware(stored) else stored.replace(tzinfo=UTC)


def _update_open_incident(
    integration_id: int, key: str, changed_at: datetime, assignments: str, values: list[Any]
) -> tuple[int, int] | None:
    """Apply ``assignments`` to the open incident for the key unless the message is older
    than its last state. Returns its id and how many escalation steps had run on it (the
    values before the update, as both are only ever changed by a step), or None when no
    row qualified."""
    table = connection.ops.quote_name(Incident._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {assignments} "
            "WHERE integration_id = %s AND dedup_key = %s AND state <> %s "
            "AND (last_state_change_at IS NULL OR last_state_change_at <= %s) "
            "RETURNING id, escalation_step + escalation_round",
            [*values, integration_id, key, Incident.State.RESOLVED.value,
             _db("last_state_change_at", changed_at)],
        )  # fmt: skip
        row = cursor.fetchone()
    return (int(row[0]), int(row[1])) if row else None


def _add_event(
    incident_id: int, kind: str, message: str, *, at: datetime | None = None
) -> IncidentEvent:
    """A timeline line written by the alarm source."""
    return IncidentEvent.objects.create(
        incident_id=incident_id,
        kind=kind,
        at=at or timezone.now(),
        via=IncidentEvent.Via.SOURCE,
        message=message,
    )


def _resolve(
    incident: Incident, *, at: datetime, user: User | None, via: IncidentEvent.Via, message: str
) -> IncidentEvent:
    incident.state = Incident.State.RESOLVED
    incident.resolved_at = at
    incident.resolved_by = user
    escalated = _stop_escalation(incident)
    incident.save(
        update_fields=[
            "state",
            "resolved_at",
            "resolved_by",
            "last_state_change_at",
            "last_seen_at",
            *_ESCALATION_STOP,
        ]
    )
    event = IncidentEvent.objects.create(
        incident=incident,
        kind=IncidentEvent.Kind.RESOLVED,
        at=at,
        actor=user,
        via=via,
        message=message,
    )
    _after_stop(
        incident.pk, escalated=escalated, resolved=True, why=f"incident resolved via {via}"
    )
    return event


def incident_acknowledge(*, incident_id: int, user: User, via: IncidentEvent.Via) -> Incident:
    """Acknowledge a triggered incident; anything else is left as it is (idempotent).
    Raises NotAllowed when ``user`` may not respond, Incident.DoesNotExist when there is
    no such incident."""
    permissions.incident_check_actor(
        incident_id=incident_id, user=user, action=permissions.ACKNOWLEDGE, via=via
    )
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident_id)
        if incident.state != Incident.State.TRIGGERED:
            return incident
        now = timezone.now()
        incident.state = Incident.State.ACKNOWLEDGED
        incident.acknowledged_at = now
        incident.acknowledged_by = user
        escalated = _stop_escalation(incident)
        incident.save(
            update_fields=["state", "acknowledged_at", "acknowledged_by", *_ESCALATION_STOP]
        )
        who = user.get_username()
        IncidentEvent.objects.create(
            incident=incident,
            kind=IncidentEvent.Kind.ACKNOWLEDGED,
            at=now,
            actor=user,
            via=via,
            message=f"Acknowledged by {who} via {via}.",
        )
        _after_stop(
            incident.pk,
            escalated=escalated,
            resolved=False,
            why=f"incident acknowledged via {via}",
        )
    return incident


def incident_resolve(*, incident_id: int, user: User, via: IncidentEvent.Via) -> Incident:
    """Resolve an open incident by a person; resolving twice changes nothing. Raises
    NotAllowed when ``user`` may not respond."""
    permissions.incident_check_actor(
        incident_id=incident_id, user=user, action=permissions.RESOLVE, via=via
    )
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident_id)
        if not incident.is_open:
            return incident
        who = user.get_username()
        _resolve(
            incident,
            at=timezone.now(),
            user=user,
            via=via,
            message=f"Resolved by {who} via {via}.",
        )
    return incident


def incident_add_note(*, incident_id: int, user: User, text: str) -> IncidentEvent:
    permissions.incident_check_actor(
        incident_id=incident_id, user=user, action=permissions.NOTE, via=IncidentEvent.Via.WEB
    )
    return IncidentEvent.objects.create(
        incident_id=incident_id,
        kind=IncidentEvent.Kind.NOTE,
        at=timezone.now(),
        actor=user,
        via=IncidentEvent.Via.WEB,
        message=text,
    )
