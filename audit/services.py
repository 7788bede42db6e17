"""The audit trail: ``record`` writes one entry for a change, ``snapshot`` turns a model
instance into the plain values an entry keeps.

Call ``record`` inside the transaction that makes the change (every service that changes
integrations, schedules, layers, overrides, escalation policies, teams or memberships
does), so there is never a change without its entry or an entry for a change that was
rolled back.

Snapshots are allow-lists: a field is stored only when it is named here, so a secret
added to a model later is not copied into the log by accident. The integration token
(the secret part of its inbound URL) is stored as its last four characters only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db import models

from accounts.models import User
from audit.models import AuditEntry

Snapshot = dict[str, Any]

CREATED = "created"
CHANGED = "changed"
DELETED = "deleted"
# Who an entry names when no person made the change (a Celery task confirming an SNS
# subscription on its own, a management command).
SYSTEM_ACTOR = "Klaxon (automatic)"

_TYPES: dict[str, str] = {
    "integrations.Integration": AuditEntry.ObjectType.INTEGRATION,
    "schedules.Schedule": AuditEntry.ObjectType.SCHEDULE,
    "schedules.Layer": AuditEntry.ObjectType.LAYER,
    "schedules.Override": AuditEntry.ObjectType.OVERRIDE,
    "escalation.EscalationPolicy": AuditEntry.ObjectType.ESCALATION_POLICY,
    "accounts.Team": AuditEntry.ObjectType.TEAM,
    "accounts.Membership": AuditEntry.ObjectType.MEMBERSHIP,
    # Only the rotation of a user's calendar feed is audited (schedules/services.py).
    "accounts.User": AuditEntry.ObjectType.USER,
}

# The fields each snapshot keeps, in display order. Secrets (token, token_hash,
# ical_token) are deliberately absent; the integration token is added masked below.
_FIELDS: dict[str, tuple[str, ...]] = {
    "integrations.Integration": (
        "name",
        "kind",
        "team",
        "escalation_policy",
        "enabled",
        "insufficient_data_as_alarm",
        "security_mode",
        "subscription_status",
        "topic_arn",
        "subscription_arn",
    ),
    "schedules.Schedule": ("name", "team", "time_zone"),
    "schedules.Layer": (
        "schedule",
        "name",
        "position",
        "start",
        "turn",
        "turn_hours",
        "handoff_time",
        "restrict_weekdays",
        "restrict_start",
        "restrict_end",
    ),
    "schedules.Override": ("schedule", "user", "start", "end"),
    "escalation.EscalationPolicy": ("name", "team", "repeat"),
    "accounts.Team": ("name", "description"),
    "accounts.Membership": ("team", "user", "role"),
}


def mask_secret(secret: str) -> str:
    """Enough of a secret to tell two apart, not enough to use: "…Xy9Q"."""
    return f"…{secret[-4:]}" if secret else ""


def _plain(value: Any) -> Any:
    """A JSON value for a field value."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def ref(obj: models.Model | None) -> dict[str, Any] | None:
    """A related object as its id and a name a reader recognises (users by username)."""
    if obj is None:
        return None
    name = obj.get_username() if isinstance(obj, User) else str(obj)
    return {"id": obj.pk, "name": name}


def _refs(objects: Iterable[models.Model]) -> list[dict[str, Any] | None]:
    return [ref(o) for o in objects]


def _integration_extra(obj: Any) -> Snapshot:
    return {"token": mask_secret(obj.token)}


def _layer_extra(obj: Any) -> Snapshot:
    members = obj.members.select_related("user").order_by("position")
    return {"users": _refs(m.user for m in members)}


def _policy_extra(obj: Any) -> Snapshot:
    steps = obj.steps.order_by("position").prefetch_related("users", "schedules", "teams")
    return {
        "steps": [
            {
                "delay_minutes": step.delay_minutes,
                "users": _refs(sorted(step.users.all(), key=lambda u: u.pk)),
                "schedules": _refs(sorted(step.schedules.all(), key=lambda s: s.pk)),
                "teams": _refs(sorted(step.teams.all(), key=lambda t: t.pk)),
            }
            for step in steps
        ]
    }


_EXTRAS: dict[str, Callable[[Any], Snapshot]] = {
    "integrations.Integration": _integration_extra,
    "schedules.Layer": _layer_extra,
    "escalation.EscalationPolicy": _policy_extra,
}


def _override_repr(obj: Any) -> str:
    user = obj.user.get_username()
    return f"{user} on {obj.schedule}, {obj.start:%Y-%m-%d %H:%M} to {obj.end:%Y-%m-%d %H:%M} UTC"


def _membership_repr(obj: Any) -> str:
    return f"{obj.user.get_username()} in {obj.team}"


_REPRS: dict[str, Callable[[Any], str]] = {
    "schedules.Override": _override_repr,
    "accounts.Membership": _membership_repr,
}


def object_type_of(obj: models.Model) -> str:
    try:
        return _TYPES[obj._meta.label]
    except KeyError:
        raise ValueError(f"{obj._meta.label} is not audited") from None


def describe_object(obj: models.Model) -> str:
    make = _REPRS.get(obj._meta.label, str)
    return make(obj)[:200]


def snapshot(obj: models.Model) -> Snapshot:
    """The audited fields of ``obj`` as plain JSON values: related objects as
    {"id", "name"}, dates and times as ISO 8601, the integration token masked."""
    label = obj._meta.label
    data: Snapshot = {}
    for name in _FIELDS[label]:
        field = obj._meta.get_field(name)
        if field.many_to_one or field.one_to_one:
            data[name] = ref(getattr(obj, name))
        else:
            data[name] = _plain(getattr(obj, name))
    extra = _EXTRAS.get(label)
    if extra is not None:
        data.update(extra(obj))
    return data


def diff(before: Snapshot | None, after: Snapshot | None) -> dict[str, list[Any]]:
    """field -> [old, new] for every field that differs. Lists of objects (policy steps)
    are compared item by item, so moving a step reads "steps[1].users: a → b"."""
    old, new = before or {}, after or {}
    changes: dict[str, list[Any]] = {}
    for key in dict.fromkeys([*new, *old]):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if isinstance(a, list) and isinstance(b, list) and _is_object_list(a + b):
            for index in range(max(len(a), len(b))):
                item_a = a[index] if index < len(a) else None
                item_b = b[index] if index < len(b) else None
                prefix = f"{key}[{index + 1}]"
                if isinstance(item_a, dict) and isinstance(item_b, dict):
                    for field, pair in diff(item_a, item_b).items():
                        changes[f"{prefix}.{field}"] = pair
                elif item_a != item_b:
                    changes[prefix] = [item_a, item_b]
        else:
            changes[key] = [a, b]
    return changes


def _is_object_list(values: list[Any]) -> bool:
    """A list of snapshots (policy steps), not of references ({"id", "name"}): compared
    item by item. A list of references (a layer's users) reads better whole."""
    return all(isinstance(v, dict) and set(v) != {"id", "name"} for v in values)


def record(
    actor: User | AnonymousUser | None,
    action: str,
    obj_or_type: models.Model | str,
    *,
    before: Snapshot | None = None,
    after: Snapshot | None = None,
    object_id: int | None = None,
    object_repr: str | None = None,
) -> AuditEntry | None:
    """Write the entry for one change; call it inside the change's transaction.

    ``obj_or_type`` is the changed instance (its type, id and name are taken from it; for
    a deletion pass it before deleting, while it still has its id) or an object type
    name with ``object_id``/``object_repr``. When ``before`` and ``after`` are equal
    nothing changed (a form saved without edits): nothing is written, None returned."""
    if isinstance(obj_or_type, models.Model):
        object_type = object_type_of(obj_or_type)
        object_id = obj_or_type.pk if object_id is None else object_id
        object_repr = describe_object(obj_or_type) if object_repr is None else object_repr
    else:
        object_type = obj_or_type
    changes = diff(before, after)
    if before is not None and after is not None and not changes:
        return None
    user = actor if isinstance(actor, User) else None
    return AuditEntry.objects.create(
        actor=user,
        actor_name=user.get_username() if user is not None else SYSTEM_ACTOR,
        action=action,
        object_type=object_type,
        object_id=object_id,
        object_repr=(object_repr or "")[:200],
        before=before,
        after=after,
        changes=changes,
    )


def record_saved(
    actor: User | AnonymousUser | None, obj: models.Model, *, before: Snapshot | None
) -> AuditEntry | None:
    """The entry for ``obj`` just saved: created when there was no ``before`` (the
    snapshot of the locked row before the change), else changed; "after" is ``obj`` now."""
    action = CREATED if before is None else CHANGED
    return record(actor, action, obj, before=before, after=snapshot(obj))
