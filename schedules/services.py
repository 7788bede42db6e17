"""Writes to schedules, layers, overrides and escalation policies, from the pages and the
API alike. Each runs in one transaction with its audit entry (``audit.services.record``):
the "before" is read from the locked row, so it is what was really there, not what a
form already changed on its instance."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import F, Max

from accounts.models import Team, User
from audit import services as audit
from schedules.models import (
    EscalationPolicy,
    EscalationStep,
    Layer,
    LayerMember,
    Override,
    Schedule,
    new_secret,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    Actor = User | AnonymousUser | None

ADDED_STEP = "added step"
CHANGED_STEP = "changed step"
REMOVED_STEP = "removed step"
MOVED_STEP = "moved step"
ROTATED_FEED = "rotated calendar URL"


# ----------------------------------------------------------------------------- schedules


def schedule_save(*, actor: Actor, schedule: Schedule) -> Schedule:
    """Create ``schedule`` (no id yet) or save its edited name, team and time zone."""
    with transaction.atomic():
        if schedule.pk is None:
            schedule.save()
            audit.record(actor, audit.CREATED, schedule, after=audit.snapshot(schedule))
            return schedule
        before = audit.snapshot(Schedule.objects.select_for_update().get(pk=schedule.pk))
        schedule.save()
        audit.record(actor, audit.CHANGED, schedule, before=before, after=audit.snapshot(schedule))
    return schedule


def schedule_create(
    *,
    actor: Actor,
    name: str,
    team: Team | None,
    time_zone: str,
    layers: list[dict[str, Any]],
) -> Schedule:
    """A schedule with its layers and their members, in list order (the API's POST)."""
    with transaction.atomic():
        schedule = Schedule.objects.create(name=name, team=team, time_zone=time_zone)
        audit.record(actor, audit.CREATED, schedule, after=audit.snapshot(schedule))
        for index, data in enumerate(layers):
            turn, turn_hours = data["turn"]
            layer = Layer.objects.create(
                schedule=schedule,
                name=data["name"],
                position=data.get("position", index),
                start=data["start"],
                turn=turn,
                turn_hours=turn_hours,
                handoff_time=data["handoff_time"],
                restrict_weekdays=sorted(set(data["restrict_weekdays"])),
                restrict_start=data["restrict_start"],
                restrict_end=data["restrict_end"],
            )
            LayerMember.objects.bulk_create(
                LayerMember(layer=layer, user_id=user_id, position=position)
                for position, user_id in enumerate(data["users"])
            )
            audit.record(actor, audit.CREATED, layer, after=audit.snapshot(layer))
    return schedule


def schedule_delete(*, actor: Actor, schedule: Schedule) -> None:
    """Delete a schedule; its layers (each audited) and overrides go with it."""
    with transaction.atomic():
        current = Schedule.objects.select_for_update().get(pk=schedule.pk)
        for layer in current.layers.select_related("schedule").order_by("-position", "id"):
            audit.record(actor, audit.DELETED, layer, before=audit.snapshot(layer))
        audit.record(actor, audit.DELETED, current, before=audit.snapshot(current))
        current.delete()


# -------------------------------------------------------------------------- calendar feeds


def _rotate_feed(*, actor: Actor, model: type[Schedule] | type[User], pk: int) -> str:
    """A new secret feed token for the schedule or user ``pk``; returns it."""
    with transaction.atomic():
        current = model.objects.select_for_update().get(pk=pk)
        old = current.ical_token
        current.ical_token = new_secret()
        current.save(update_fields=["ical_token"])
        # The audit log shows that the URL changed, never a usable URL.
        audit.record(
            actor,
            ROTATED_FEED,
            current,
            before={"calendar_url": audit.mask_secret(old)},
            after={"calendar_url": audit.mask_secret(current.ical_token)},
        )
    return current.ical_token


def schedule_rotate_feed(*, actor: Actor, schedule: Schedule) -> Schedule:
    """Give the schedule's iCal feed a new secret URL; the old one answers 404 at once."""
    schedule.ical_token = _rotate_feed(actor=actor, model=Schedule, pk=schedule.pk)
    return schedule


def user_rotate_feed(*, actor: Actor, user: User) -> User:
    """Give ``user``'s personal iCal feed a new secret URL; the old one answers 404."""
    user.ical_token = _rotate_feed(actor=actor, model=User, pk=user.pk)
    return user


# -------------------------------------------------------------------------------- layers


def layer_save(*, actor: Actor, layer: Layer, users: list[User]) -> Layer:
    """Create or save ``layer`` with ``users`` taking turns in this order (a user may
    appear more than once)."""
    with transaction.atomic():
        created = layer.pk is None
        before = (
            None
            if created
            else audit.snapshot(
                Layer.objects.select_for_update().select_related("schedule").get(pk=layer.pk)
            )
        )
        layer.save()
        # Rewrite the whole order: simpler than diffing, and the (layer, position)
        # constraint cannot trip because the old rows are gone first.
        layer.members.all().delete()
        LayerMember.objects.bulk_create(
            LayerMember(layer=layer, user=user, position=i) for i, user in enumerate(users)
        )
        audit.record(
            actor,
            audit.CREATED if created else audit.CHANGED,
            layer,
            before=before,
            after=audit.snapshot(layer),
        )
    return layer


def layer_delete(*, actor: Actor, layer: Layer) -> None:
    with transaction.atomic():
        current = Layer.objects.select_for_update().select_related("schedule").get(pk=layer.pk)
        audit.record(actor, audit.DELETED, current, before=audit.snapshot(current))
        current.delete()


# ----------------------------------------------------------------------------- overrides


def override_create(*, actor: Actor, override: Override) -> Override:
    """Save a new override (schedule, user, start and end set)."""
    with transaction.atomic():
        override.save()
        audit.record(actor, audit.CREATED, override, after=audit.snapshot(override))
    return override


def override_delete(*, actor: Actor, override: Override) -> None:
    with transaction.atomic():
        current = (
            Override.objects.select_for_update()
            .select_related("schedule", "user")
            .filter(pk=override.pk)
            .first()
        )
        if current is None:
            return  # deleted a moment ago by someone else
        audit.record(actor, audit.DELETED, current, before=audit.snapshot(current))
        current.delete()


# ------------------------------------------------------------------- escalation policies


def _locked_policy(pk: int) -> EscalationPolicy:
    # The lock also serialises step changes: two people adding a step at once get
    # distinct positions, and two reorders cannot interleave.
    return EscalationPolicy.objects.select_for_update().get(pk=pk)


def policy_save(*, actor: Actor, policy: EscalationPolicy) -> EscalationPolicy:
    """Create ``policy`` (no id yet) or save its name, team and repeat count."""
    with transaction.atomic():
        if policy.pk is None:
            policy.save()
            audit.record(actor, audit.CREATED, policy, after=audit.snapshot(policy))
            return policy
        before = audit.snapshot(_locked_policy(policy.pk))
        policy.save()
        audit.record(actor, audit.CHANGED, policy, before=before, after=audit.snapshot(policy))
    return policy


def policy_delete(*, actor: Actor, policy: EscalationPolicy) -> None:
    """Delete a policy and its steps; integrations using it then page nobody."""
    with transaction.atomic():
        current = _locked_policy(policy.pk)
        audit.record(actor, audit.DELETED, current, before=audit.snapshot(current))
        current.delete()


def escalation_policy_save(
    *,
    actor: Actor,
    policy: EscalationPolicy | None,
    name: str,
    team: Team | None,
    repeat: int,
    steps: list[dict[str, Any]],
) -> EscalationPolicy:
    """Create a policy, or replace one's fields and all its steps (position = list order)."""
    with transaction.atomic():
        if policy is None:
            policy = EscalationPolicy.objects.create(name=name, team=team, repeat=repeat)
            before = None
        else:
            # Lock the row: two concurrent PUTs would otherwise interleave their step rows
            # and trip the one-step-per-position constraint.
            policy = _locked_policy(policy.pk)
            before = audit.snapshot(policy)
            policy.name, policy.team, policy.repeat = name, team, repeat
            policy.save(update_fields=["name", "team", "repeat"])
            policy.steps.all().delete()
        for position, data in enumerate(steps):
            step = EscalationStep.objects.create(
                policy=policy, position=position, delay_minutes=data["delay_minutes"]
            )
            step.users.set(data["users"])
            step.schedules.set(data["schedules"])
            step.teams.set(data["teams"])
        audit.record(
            actor,
            audit.CREATED if before is None else audit.CHANGED,
            policy,
            before=before,
            after=audit.snapshot(policy),
        )
    return policy


def step_save(
    *,
    actor: Actor,
    step: EscalationStep,
    policy: EscalationPolicy,
    users: Iterable[Any],
    schedules: Iterable[Schedule],
    teams: Iterable[Team],
) -> EscalationStep:
    """Add ``step`` (no id yet) at the end of ``policy``, or save its edits; audited as a
    change of the policy, whose snapshot lists every step."""
    with transaction.atomic():
        locked = _locked_policy(policy.pk)
        before = audit.snapshot(locked)
        created = step.pk is None
        if created:
            step.policy = locked
            last = locked.steps.aggregate(m=Max("position"))["m"]
            step.position = 0 if last is None else last + 1
        step.save()
        step.users.set(users)
        step.schedules.set(schedules)
        step.teams.set(teams)
        audit.record(
            actor,
            ADDED_STEP if created else CHANGED_STEP,
            locked,
            before=before,
            after=audit.snapshot(locked),
        )
    return step


def steps_renumber(*, policy: EscalationPolicy, ordered_ids: list[int]) -> None:
    """Give the policy's steps positions 0..n-1 in this order.

    The (policy, position) unique constraint is checked row by row, so a plain swap
    would collide half way: first move every step past the current maximum, then
    write the final positions. Call inside a transaction holding the policy lock.
    """
    steps = policy.steps.all()
    top = steps.aggregate(m=Max("position"))["m"]
    if top is None:
        return
    steps.update(position=F("position") + top + 1)
    for position, step_id in enumerate(ordered_ids):
        EscalationStep.objects.filter(pk=step_id, policy=policy).update(position=position)


def step_move(*, actor: Actor, step: EscalationStep, direction: str) -> bool:
    """Swap the step with its neighbour ("up" or "down"); False when it is already at
    that end (nothing changes, nothing is audited)."""
    with transaction.atomic():
        policy = _locked_policy(step.policy_id)
        ids = list(policy.steps.order_by("position").values_list("pk", flat=True))
        index = ids.index(step.pk)
        other = index - 1 if direction == "up" else index + 1
        if not 0 <= other < len(ids):
            return False
        before = audit.snapshot(policy)
        ids[index], ids[other] = ids[other], ids[index]
        steps_renumber(policy=policy, ordered_ids=ids)
        audit.record(actor, MOVED_STEP, policy, before=before, after=audit.snapshot(policy))
    return True


def step_delete(*, actor: Actor, step: EscalationStep) -> None:
    """Delete a step and close the hole so steps stay numbered 1..n."""
    with transaction.atomic():
        policy = _locked_policy(step.policy_id)
        before = audit.snapshot(policy)
        EscalationStep.objects.filter(pk=step.pk).delete()
        ids = list(policy.steps.order_by("position").values_list("pk", flat=True))
        steps_renumber(policy=policy, ordered_ids=ids)
        audit.record(actor, REMOVED_STEP, policy, before=before, after=audit.snapshot(policy))
