"""Writes to escalation policies and their steps, from the pages and the API alike. Each
runs in one transaction with its audit entry (``audit.services.record``); a change to a
step is audited as a change of its policy, whose snapshot lists every step."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import F, Max

from accounts.models import Team, User
from audit import services as audit
from escalation.models import EscalationPolicy, EscalationStep
from schedules.models import Schedule

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    Actor = User | AnonymousUser | None

ADDED_STEP = "added step"
CHANGED_STEP = "changed step"
REMOVED_STEP = "removed step"
MOVED_STEP = "moved step"


def _locked_policy(pk: int) -> EscalationPolicy:
    # The lock also serialises step changes: two people adding a step at once get
    # distinct positions, and two reorders cannot interleave.
    return EscalationPolicy.objects.select_for_update().get(pk=pk)


@dataclass(frozen=True)
class StepTargets:
    """Who a step pages: users, whoever is on call in schedules, members of teams."""

    users: Iterable[User]
    schedules: Iterable[Schedule] = ()
    teams: Iterable[Team] = ()


@dataclass(frozen=True)
class StepInput:
    """A whole step, for ``policy_save(steps=...)``."""

    delay_minutes: int
    targets: StepTargets


def _write_step(step: EscalationStep, targets: StepTargets) -> None:
    step.save()
    step.users.set(targets.users)
    step.schedules.set(targets.schedules)
    step.teams.set(targets.teams)


def policy_save(
    *, actor: Actor, policy: EscalationPolicy, steps: list[StepInput] | None = None
) -> EscalationPolicy:
    """Create ``policy`` (no id yet) or save its name, team and repeat count, with one
    audit line. With ``steps`` (the API's POST and PUT) its steps are replaced by these,
    in list order, in the same transaction and audit line; without (the pages), steps
    change one at a time through ``step_save``."""
    with transaction.atomic():
        # The lock serialises two saves of one policy: two PUTs would otherwise
        # interleave their step rows and trip the one-step-per-position constraint.
        before = None if policy.pk is None else audit.snapshot(_locked_policy(policy.pk))
        policy.save()
        if steps is not None:
            policy.steps.all().delete()
            for position, data in enumerate(steps):
                step = EscalationStep(
                    policy=policy, position=position, delay_minutes=data.delay_minutes
                )
                _write_step(step, data.targets)
        audit.record_saved(actor, policy, before=before)
    return policy


def policy_delete(*, actor: Actor, policy: EscalationPolicy) -> None:
    """Delete a policy and its steps; integrations using it then page nobody."""
    with transaction.atomic():
        current = _locked_policy(policy.pk)
        audit.record(actor, audit.DELETED, current, before=audit.snapshot(current))
        current.delete()


def step_save(
    *, actor: Actor, step: EscalationStep, policy: EscalationPolicy, targets: StepTargets
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
        _write_step(step, targets)
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
