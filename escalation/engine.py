"""The escalation engine: who is paged for a triggered incident, and when.

State lives on the incident row, not in the broker: the policy as snapshotted at the
first step (``escalation_snapshot``: a ``PolicySnapshot``, escalation/snapshot.py, stored
as JSON), where the incident is in it (``escalation_step``, ``escalation_round``), when
the next step is due (``next_escalation_at``) and a token.
Every queued ``escalate`` task carries the token it was queued with; a step only runs
under the row lock when the token still matches and the step is due, and it rotates the
token. So a duplicated or redelivered message finds a stale token and does nothing, and
a lost one is replaced by ``escalation_rekick_due`` (Celery beat, every 15 s), which
queues a task for every incident whose step is overdue.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch, Q
from django.utils import timezone

from config import broker
from escalation.snapshot import PolicySnapshot, Ref, SnapshotStep
from incidents.models import Incident, IncidentEvent
from notifications import services as paging
from notifications.models import Notification

if TYPE_CHECKING:
    from accounts.models import NotificationRule, User

logger = logging.getLogger(__name__)

REKICK_BATCH = 500
# Overdue steps are re-kicked this many to a task: one transaction, one snapshot and one
# target lookup per policy step for all of them (keeps an alert storm cheap), while
# still spreading the work over the worker processes.
STEPS_PER_TASK = 50
# Celery's eta timer may fire a hair early; a step due within this margin runs now
# rather than waiting for the next beat.
EARLY_MARGIN = timedelta(seconds=1)

# What escalation_run_step did, returned by the task (visible in results and logs).
ESCALATED = "escalated"
FINISHED = "finished"
STALE = "stale"
NOT_DUE = "not_due"
NOT_TRIGGERED = "not_triggered"
MISSING = "missing"
FAILED = "failed"


def new_escalation_token() -> str:
    return secrets.token_hex(8)


def escalation_enqueue_step(*, incident_id: int, token: str, eta: datetime | None = None) -> None:
    """Queue one step once the current transaction commits (never before: the worker
    must see the row as committed, with this token).

    A broker outage costs nothing here (config/broker.py): the step is due on the row,
    and the beat re-kicks it."""
    from escalation.tasks import escalate

    transaction.on_commit(lambda: broker.publish(escalate, incident_id, token, eta=eta))


# --- The snapshot -----------------------------------------------------------------------


def policy_snapshot(*, integration_id: int) -> PolicySnapshot | None:
    """The integration's escalation policy, frozen, or None when it has none."""
    from accounts.models import Team, User
    from escalation.models import EscalationPolicy, EscalationStep
    from schedules.models import Schedule

    policy = EscalationPolicy.objects.filter(integrations__pk=integration_id).first()
    if policy is None:
        return None
    steps = (
        EscalationStep.objects.filter(policy=policy)
        .order_by("position")
        # Stable order for the timeline: users by username, schedules and teams by name.
        .prefetch_related(
            Prefetch("users", queryset=User.objects.order_by("username", "pk")),
            Prefetch("schedules", queryset=Schedule.objects.order_by("name", "pk")),
            Prefetch("teams", queryset=Team.objects.order_by("name", "pk")),
        )
    )
    return PolicySnapshot(
        policy=Ref(policy.pk, policy.name),
        repeat=policy.repeat,
        steps=tuple(
            SnapshotStep(
                delay_minutes=step.delay_minutes,
                users=tuple(Ref(u.pk, u.get_username()) for u in step.users.all()),
                schedules=tuple(Ref(s.pk, s.name) for s in step.schedules.all()),
                teams=tuple(Ref(t.pk, t.name) for t in step.teams.all()),
            )
            for step in steps
        ),
    )


# integration id -> (monotonic time taken, snapshot), per worker process.
_recent_snapshots: dict[int, tuple[float, PolicySnapshot | None]] = {}


def recent_policy_snapshot(integration_id: int) -> PolicySnapshot | None:
    """policy_snapshot, reused for INTEGRATION_CACHE_SECONDS within one worker process:
    during an alert storm every first step on one integration takes the same snapshot,
    and it is 5 queries. A policy edit reaches first steps within that time."""
    now = time.monotonic()
    cached = _recent_snapshots.get(integration_id)
    if cached is not None and now - cached[0] < settings.INTEGRATION_CACHE_SECONDS:
        return cached[1]  # frozen: safe to share
    snapshot = policy_snapshot(integration_id=integration_id)
    if len(_recent_snapshots) > 1000:
        _recent_snapshots.clear()
    _recent_snapshots[integration_id] = (now, snapshot)
    return snapshot


# --- Targets ----------------------------------------------------------------------------


@dataclass
class WhoToPage:
    """Who one step pages (each user once, in order) and why, in words."""

    users: list[User] = field(default_factory=list)
    why: list[str] = field(default_factory=list)
    # Each user's "triggered" notification rules (filled in by the step context).
    rules: dict[int, list[NotificationRule]] = field(default_factory=dict)

    def add(self, user: User) -> None:
        if all(u.pk != user.pk for u in self.users):
            self.users.append(user)


def _names(users: list[User]) -> str:
    return ", ".join(u.get_username() for u in users) or "nobody"


def resolve_targets(step: SnapshotStep, at: datetime) -> WhoToPage:
    """The users a snapshotted step pages at ``at``: its users, whoever is on call for
    its schedules at that moment, and the current members of its teams.

    Only people who can acknowledge are paged. Deactivated or deleted users are skipped;
    so are viewers (every membership "viewer": they cannot acknowledge), and a team's
    viewer members are not paged by that team (like PagerDuty's observers), even if
    they respond for another team. The reason says so for each."""
    from accounts.models import Membership, User

    targets = WhoToPage()
    if step.users:
        found = {u.pk: u for u in User.objects.filter(pk__in=[ref.id for ref in step.users])}
        viewers = _viewer_ids(found.values())
        for ref in step.users:
            user = found.get(ref.id)
            if user is None:
                targets.why.append(f"user {ref.name} (deleted, skipped)")
            elif not user.is_active:
                targets.why.append(f"user {ref.name} (deactivated, skipped)")
            elif user.pk in viewers:
                targets.why.append(f"user {user.get_username()} (viewer, not paged)")
            else:
                targets.why.append(f"user {user.get_username()}")
                targets.add(user)
    if step.schedules:
        from schedules.selectors import schedules_with_rotations, users_on_call

        schedules = schedules_with_rotations().in_bulk([ref.id for ref in step.schedules])
        for ref in step.schedules:
            schedule = schedules.get(ref.id)
            if schedule is None:
                targets.why.append(f"schedule {ref.name} (deleted) -> nobody")
                continue
            try:
                answer = users_on_call(schedule, at)
            except Exception:
                # Paging the step's other targets beats paging nobody: say so, go on.
                logger.exception("on-call lookup failed for schedule %s", schedule.pk)
                targets.why.append(f"schedule {schedule.name} -> error, skipped")
                continue
            active = [u for u in answer.users if u.is_active]
            viewers = _viewer_ids(active)
            on_call = [u for u in active if u.pk not in viewers]
            not_paged = _not_paged([u for u in active if u.pk in viewers])
            if on_call:
                source = f" ({answer.source})" if answer.source else ""
                targets.why.append(
                    f"schedule {schedule.name} -> {_names(on_call)}{source}{not_paged}"
                )
            else:
                nobody = "nobody to page" if not_paged else "nobody on call"
                targets.why.append(f"schedule {schedule.name} -> {nobody}{not_paged}")
            for user in on_call:
                targets.add(user)
    if step.teams:
        members: dict[int, list[User]] = {}
        observers: dict[int, list[User]] = {}
        rows = (
            Membership.objects.filter(team_id__in=[ref.id for ref in step.teams])
            .filter(user__is_active=True)
            .select_related("user")
            .order_by("user__username")
        )
        for membership in rows:
            group = observers if membership.role == Membership.Role.VIEWER else members
            group.setdefault(membership.team_id, []).append(membership.user)
        for ref in step.teams:
            team_users = members.get(ref.id, [])
            not_paged = _not_paged(observers.get(ref.id, []))
            if team_users:
                names = _names(team_users)
            else:
                names = "nobody to page" if not_paged else "no members"
            targets.why.append(f"team {ref.name} -> {names}{not_paged}")
            for user in team_users:
                targets.add(user)
    return targets


def _viewer_ids(users: Iterable[User]) -> set[int]:
    """The ids of those of ``users`` whose role is viewer (one query, none for staff)."""
    from accounts.models import Membership
    from accounts.roles import VIEWER, remember_role

    candidates = [u for u in users if not (u.is_staff or u.is_superuser)]
    if not candidates:
        return set()
    roles: dict[int, list[str]] = {u.pk: [] for u in candidates}
    for user_id, role in Membership.objects.filter(user_id__in=roles).values_list(
        "user_id", "role"
    ):
        roles[user_id].append(role)
    return {u.pk for u in candidates if remember_role(u, roles[u.pk]) == VIEWER}


def _not_paged(viewers: list[User]) -> str:
    """ " (carol: viewer, not paged)" for the viewers a target left out, else ""."""
    if not viewers:
        return ""
    kind = "viewer" if len(viewers) == 1 else "viewers"
    return f" ({_names(viewers)}: {kind}, not paged)"


# --- Running a step ---------------------------------------------------------------------


@dataclass(frozen=True)
class _NextStep:
    incident_id: int
    token: str
    at: datetime


_STATE_FIELDS = [
    "escalation_targets",
    "escalation_snapshot",
    "escalation_step",
    "escalation_round",
    "next_escalation_at",
    "escalation_token",
]


@dataclass
class _StepContext:
    """What the steps run in one transaction share: the moment, and the snapshots and
    resolved targets already looked up (identical for every incident on one policy)."""

    now: datetime
    snapshots: dict[int, PolicySnapshot | None] = field(default_factory=dict)
    targets: dict[SnapshotStep, WhoToPage] = field(default_factory=dict)

    def snapshot_for(self, integration_id: int) -> PolicySnapshot | None:
        if integration_id not in self.snapshots:
            self.snapshots[integration_id] = recent_policy_snapshot(integration_id)
        return self.snapshots[integration_id]

    def targets_for(self, step: SnapshotStep) -> WhoToPage:
        # Steps are frozen values: equal steps (one policy's, for many incidents) share.
        if step not in self.targets:
            from accounts.models import NotificationRule

            targets = resolve_targets(step, self.now)
            targets.rules = paging.notification_rules_by_user(
                users=targets.users, event=NotificationRule.Event.TRIGGERED
            )
            self.targets[step] = targets
        return self.targets[step]


@dataclass
class _StepResult:
    outcome: str
    events: list[IncidentEvent]
    next_step: _NextStep | None
    notifications: list[Notification] = field(default_factory=list)


def _clock(at: datetime, now: datetime) -> str:
    utc = at.astimezone(UTC)
    if utc.date() == now.astimezone(UTC).date():
        return f"{utc:%H:%M} UTC"
    return f"{utc:%Y-%m-%d %H:%M} UTC"


def _rounds(n: int) -> str:
    return f"{n} round" if n == 1 else f"{n} rounds"


def _skip_reason(incident: Incident | None, token: str, now: datetime) -> str | None:
    """Why a task holding ``token`` must not run a step now, or None when it must."""
    if incident is None:
        return MISSING
    if incident.state != Incident.State.TRIGGERED:
        return NOT_TRIGGERED
    if not token or incident.escalation_token != token:
        return STALE
    due = incident.next_escalation_at
    if due is None or due > now + EARLY_MARGIN:
        return NOT_DUE
    return None


def escalation_run_step(*, incident_id: int, token: str, now: datetime | None = None) -> str:
    """Run the incident's due escalation step, if this token may; return what happened.

    Exits without doing anything when the incident is gone, no longer triggered, the
    token is stale (another task already ran this step, escalation was stopped, or
    someone escalated it now) or the step is not due yet."""
    with transaction.atomic():
        # The row lock serialises duplicated tasks for one incident: the second waits
        # here, then sees the token the first one rotated, and exits.
        incident = Incident.objects.select_for_update().filter(pk=incident_id).first()
        now = now or timezone.now()
        skip = _skip_reason(incident, token, now)
        if skip is not None:
            return skip
        assert incident is not None
        result = _plan_step(incident, _StepContext(now))
        IncidentEvent.objects.bulk_create(result.events)
        # This runs in the escalate task: the pages due now are sent by it, right after
        # the commit, instead of waiting in the queue a second time.
        paging.notification_enqueue_on_commit(
            notifications=Notification.objects.bulk_create(result.notifications), send_now=True
        )
        incident.save(update_fields=_STATE_FIELDS)
        if result.next_step is not None:
            escalation_enqueue_step(
                incident_id=incident.pk, token=result.next_step.token, eta=result.next_step.at
            )
    return result.outcome


def escalation_run_steps(
    *, steps: list[tuple[int, str]], now: datetime | None = None
) -> dict[str, int]:
    """``escalation_run_step`` for many (incident id, token) pairs in one transaction:
    the same checks and the same timeline, with a policy snapshotted and each step's
    targets resolved once for the batch, and the writes done in bulk. Used by the
    re-kick, which may find thousands of overdue steps at once (an alert storm, a broker
    outage). Returns how many of each outcome."""
    counts: dict[str, int] = {}
    tokens = dict(steps)
    with transaction.atomic():
        # Locked in id order, so two overlapping batches wait for each other instead of
        # deadlocking; the second then finds rotated tokens.
        locked = {
            incident.pk: incident
            for incident in Incident.objects.select_for_update()
            .filter(pk__in=tokens)
            .order_by("pk")
        }
        now = now or timezone.now()
        context = _StepContext(now)
        ran: list[Incident] = []
        events: list[IncidentEvent] = []
        notifications: list[Notification] = []
        follow_ups: list[_NextStep] = []
        for incident_id, token in tokens.items():
            incident = locked.get(incident_id)
            outcome = _skip_reason(incident, token, now)
            if outcome is None:
                assert incident is not None
                try:
                    result = _plan_step(incident, context)
                except Exception:
                    # One broken incident must not hold back the rest of the batch; it
                    # stays due, and its own escalate task or the next re-kick retries it.
                    logger.exception("escalation step failed for incident %s", incident.pk)
                    incident.refresh_from_db(fields=_STATE_FIELDS)
                    counts[FAILED] = counts.get(FAILED, 0) + 1
                    continue
                outcome = result.outcome
                ran.append(incident)
                events.extend(result.events)
                notifications.extend(result.notifications)
                if result.next_step is not None:
                    follow_ups.append(result.next_step)
            counts[outcome] = counts.get(outcome, 0) + 1
        IncidentEvent.objects.bulk_create(events)
        paging.notification_enqueue_on_commit(
            notifications=Notification.objects.bulk_create(notifications)
        )
        Incident.objects.bulk_update(ran, _STATE_FIELDS)
        if follow_ups:
            transaction.on_commit(lambda: _enqueue_many(follow_ups))
    return counts


def _enqueue_many(follow_ups: list[_NextStep]) -> None:
    from escalation.tasks import escalate

    broker.publish_many(escalate, (((s.incident_id, s.token), s.at) for s in follow_ups))


def _plan_step(incident: Incident, context: _StepContext) -> _StepResult:
    """One step on a locked, triggered, due incident: who to page and the timeline lines
    to write (returned, not saved), with the incident's escalation state advanced in
    memory. The caller saves both in its transaction."""
    now = context.now
    if incident.escalation_snapshot:
        snapshot = PolicySnapshot.from_json(incident.escalation_snapshot)
    else:
        # The first step (or still no policy): freeze the policy as it is now.
        snapshot = context.snapshot_for(incident.integration_id)
        incident.escalation_snapshot = snapshot.to_json() if snapshot is not None else {}
    steps = snapshot.steps if snapshot is not None else ()
    total_rounds = snapshot.rounds if snapshot is not None else 1
    step_index, round_index = incident.escalation_step, incident.escalation_round

    if not steps:
        if snapshot is not None:
            why = f"escalation policy {snapshot.policy.name} has no steps"
        else:
            why = "the integration has no escalation policy"
        return _finish(incident, now, f"Escalation stopped: {why}.")
    if step_index >= len(steps):
        # The last step of the last round ran and its delay passed without an ack.
        message = f"Escalation finished: nobody acknowledged after {_rounds(total_rounds)}."
        return _finish(incident, now, message)

    step = steps[step_index]
    targets = context.targets_for(step)
    next_at = now + timedelta(minutes=step.delay_minutes)
    next_step, next_round = step_index + 1, round_index
    if next_step >= len(steps) and round_index + 1 < total_rounds:
        next_step, next_round = 0, round_index + 1
    # Past the last step of the last round, the next "step" is writing the finish line.
    last = next_step >= len(steps)

    label = f"Step {step_index + 1} of {len(steps)} (round {round_index + 1} of {total_rounds})"
    who = f"notifying {_names(targets.users)}" if targets.users else "nobody to notify"
    why = "; ".join(targets.why) or "the step has no targets"
    if last:
        then = f"escalation ends at {_clock(next_at, now)} if nobody acknowledges"
    else:
        then = f"next step at {_clock(next_at, now)}"
    escalated = IncidentEvent(
        incident=incident,
        kind=IncidentEvent.Kind.ESCALATED,
        at=now,
        via=IncidentEvent.Via.ESCALATION,
        message=f"{label}: {who} ({why}); {then}.",
        data={
            "step": step_index,
            "round": round_index,
            "user_ids": [u.pk for u in targets.users],
            "why": targets.why,
            "next_escalation_at": next_at.isoformat(),
        },
    )
    # The token names this run of this step (it rotates below): the pages' dedup keys
    # derive from it, so one run cannot queue the same page twice.
    pages = paging.notification_plan_pages(
        incident=incident,
        users=targets.users,
        reason=f"escalation {label.lower()}",
        key=f"{incident.pk}:{incident.escalation_token}",
        rules=targets.rules,
        now=now,
    )

    incident.escalation_targets = [{"id": u.pk, "name": u.get_username()} for u in targets.users]
    incident.escalation_step = next_step
    incident.escalation_round = next_round
    incident.next_escalation_at = next_at
    incident.escalation_token = new_escalation_token()
    return _StepResult(
        ESCALATED,
        [escalated, *pages.events],
        _NextStep(incident.pk, incident.escalation_token, next_at),
        pages.notifications,
    )


def _finish(incident: Incident, now: datetime, message: str) -> _StepResult:
    incident.next_escalation_at = None
    incident.escalation_token = new_escalation_token()
    line = IncidentEvent(
        incident=incident,
        kind=IncidentEvent.Kind.ESCALATED,
        at=now,
        via=IncidentEvent.Via.ESCALATION,
        message=message,
        data={"finished": True},
    )
    return _StepResult(FINISHED, [line], None)


# --- Escalate now ---------------------------------------------------------------------


def escalation_escalate_now(
    *,
    incident_id: int,
    user: User,
    via: IncidentEvent.Via,
    now: datetime | None = None,
) -> bool:
    """Run the next step at once instead of waiting for its delay. False when there is no
    next step (not triggered, or escalation finished or never started). The timeline says
    who asked, and how (``via``: the dashboard, the API, a phone keypress). Raises
    NotAllowed when ``user`` may not respond."""
    from incidents import permissions

    permissions.incident_check_actor(
        incident_id=incident_id, user=user, action=permissions.ESCALATE, via=via
    )
    with transaction.atomic():
        incident = Incident.objects.select_for_update().filter(pk=incident_id).first()
        if (
            incident is None
            or incident.state != Incident.State.TRIGGERED
            or incident.next_escalation_at is None
        ):
            return False
        incident.next_escalation_at = now or timezone.now()
        incident.escalation_token = new_escalation_token()
        incident.save(update_fields=["next_escalation_at", "escalation_token"])
        IncidentEvent.objects.create(
            incident=incident,
            kind=IncidentEvent.Kind.ESCALATED,
            at=incident.next_escalation_at,
            actor=user,
            via=via,
            message=f"Escalated now by {user.get_username()} via {via}.",
            data={"escalate_now": True},
        )
        escalation_enqueue_step(incident_id=incident.pk, token=incident.escalation_token)
    return True


# --- The safety net ---------------------------------------------------------------------


def escalation_rekick_due(*, now: datetime | None = None, batch_size: int = REKICK_BATCH) -> int:
    """Queue a step for every triggered incident whose step is overdue; return how many.

    Run by beat. A step whose message was lost, or whose worker died, is overdue and gets
    a new message with the row's current token; if the original message still arrives,
    one of the two finds a stale token. Reads in batches along the partial index
    ``incident_escalation_due``, keyset-paginated on (next_escalation_at, id), and sends
    ``escalate_many`` tasks of STEPS_PER_TASK steps over one broker connection. When the
    broker does not take them, they stay overdue for the next beat."""
    from escalation.tasks import escalate_many

    now = now or timezone.now()
    sent = 0
    after: tuple[datetime, int] | None = None
    while True:
        due = Incident.objects.filter(
            state=Incident.State.TRIGGERED,
            next_escalation_at__isnull=False,
            next_escalation_at__lte=now,
        )
        if after is not None:
            due = due.filter(
                Q(next_escalation_at__gt=after[0])
                | Q(next_escalation_at=after[0], pk__gt=after[1])
            )
        rows = list(
            due.order_by("next_escalation_at", "pk").values_list(
                "pk", "escalation_token", "next_escalation_at"
            )[:batch_size]
        )
        chunks = [
            [(pk, token) for pk, token, _ in rows[start : start + STEPS_PER_TASK]]
            for start in range(0, len(rows), STEPS_PER_TASK)
        ]
        published = broker.publish_many(escalate_many, (((chunk,), None) for chunk in chunks))
        sent += sum(len(chunk) for chunk in chunks[:published])
        if published < len(chunks) or len(rows) < batch_size:
            break
        last_id, _, last_at = rows[-1]
        assert last_at is not None
        after = (last_at, last_id)
    if sent:
        logger.info("re-kicked %d overdue escalation steps", sent)
    return sent
