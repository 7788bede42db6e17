"""Reads for incidents: the responder's home (pages of rows, tab counts, a change marker
for the live poll, who is on call) and the incident page."""

from __future__ import annotations

import heapq
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, QuerySet, Subquery

from accounts.models import User
from incidents.models import Incident, IncidentEvent
from schedules.models import Schedule
from schedules.oncall import OnCall, final_shifts, who_is_on_call
from schedules.selectors import schedule_spec, schedules_with_rotations

# What the incident list can show: the three states, plus "open" (not resolved) and "all".
LIST_STATES = ("open", *Incident.State.values, "all")
OPEN_STATES = (Incident.State.TRIGGERED.value, Incident.State.ACKNOWLEDGED.value)

# Columns a list row never shows: an alarm's details and the policy snapshot can be
# kilobytes each, read 50 times per page and every few seconds by every open browser.
_HEAVY_FIELDS = ("details", "description", "escalation_snapshot", "escalation_token")


def incident_list(*, state: str = "", integration_id: int | None = None) -> QuerySet[Incident]:
    """Incidents newest first; ``state`` is one of LIST_STATES ("" or "all": every one)."""
    incidents = Incident.objects.select_related("integration")
    if state == "open":
        # IN, not "<> resolved": an inequality cannot use the (state, -id) index.
        incidents = incidents.filter(state__in=OPEN_STATES)
    elif state in Incident.State.values:
        incidents = incidents.filter(state=state)
    if integration_id is not None:
        incidents = incidents.filter(integration_id=integration_id)
    return incidents.order_by("-id")


@dataclass(frozen=True)
class IncidentFilter:
    """What the incident home shows: a tab, optional integration and team, and where a
    keyset page starts (ids below ``before``; None: the newest page)."""

    state: str = "open"
    integration_id: int | None = None
    team_id: int | None = None
    before: int | None = None

    def apply(self, incidents: QuerySet[Incident]) -> QuerySet[Incident]:
        if self.integration_id is not None:
            incidents = incidents.filter(integration_id=self.integration_id)
        if self.team_id is not None:
            incidents = incidents.filter(integration__team_id=self.team_id)
        return incidents


def incident_page(*, where: IncidentFilter, size: int) -> tuple[list[Incident], bool]:
    """One keyset page of the home list, newest first, and whether older rows exist.

    Each state is read separately, ``size + 1`` rows down its (state, -id) index, and
    the runs are merged: for the "open" tab that is two short index scans, where one
    query with ``state IN (...)`` makes the database either walk the primary key past
    every resolved incident or sort all open ones. The cost depends on the page size,
    never on how many incidents there are."""
    base = where.apply(
        Incident.objects.select_related("integration").defer(*_HEAVY_FIELDS).order_by("-id")
    )
    if where.before is not None:
        base = base.filter(id__lt=where.before)
    if where.state == "all":
        runs = [list(base[: size + 1])]
    else:
        states = OPEN_STATES if where.state == "open" else (where.state,)
        runs = [list(base.filter(state=state)[: size + 1]) for state in states]
    merged = list(heapq.merge(*runs, key=lambda incident: -incident.pk))[: size + 1]
    return merged[:size], len(merged) > size


def incident_counts(*, where: IncidentFilter) -> dict[str, int]:
    """Incidents per state (every state present, 0 when none), in one GROUP BY."""
    rows = (
        where.apply(Incident.objects.all()).order_by().values_list("state").annotate(n=Count("id"))
    )
    counts = dict.fromkeys(Incident.State.values, 0)
    counts.update(dict(rows))
    return counts


def incident_board_version() -> str:
    """A marker that changes whenever the incident list may have: the newest incident id
    and the newest timeline line id. Every state change, alarm, escalation step and page
    writes a timeline line, so an unchanged marker means an unchanged list. One query,
    two reads from the ends of primary-key indexes."""
    newest_event = IncidentEvent.objects.order_by("-id").values("id")[:1]
    row = (
        Incident.objects.order_by("-id")
        .annotate(newest_event=Subquery(newest_event))
        .values_list("id", "newest_event")
        .first()
    )
    incident_id, event_id = row if row is not None else (0, 0)
    return f"{incident_id}-{event_id or 0}"


def incident_for_page(*, incident_id: int) -> Incident | None:
    return (
        Incident.objects.select_related("integration", "acknowledged_by", "resolved_by")
        .filter(pk=incident_id)
        .first()
    )


# An incident appended to for days can have thousands of lines; the page shows the
# first few (how it started) and the newest ones (rendering is the cost at size).
TIMELINE_HEAD = 20
TIMELINE_TAIL = 100


@dataclass(frozen=True)
class Timeline:
    head: list[IncidentEvent]
    tail: list[IncidentEvent]
    hidden: int  # lines between head and tail not shown


def incident_timeline(*, incident: Incident) -> Timeline:
    """The incident's timeline in time order, bounded: at most TIMELINE_HEAD + TIMELINE_TAIL
    lines, in two queries at any length (the inbound rows are linked, not read)."""
    lines = incident.events.select_related("actor", "inbound_message").only(
        *[f.name for f in IncidentEvent._meta.concrete_fields],
        "actor__username", "actor__first_name", "actor__last_name", "inbound_message__id",
    )  # fmt: skip
    newest = list(lines.order_by("-at", "-id")[: TIMELINE_HEAD + TIMELINE_TAIL + 1])
    if len(newest) <= TIMELINE_HEAD + TIMELINE_TAIL:
        return Timeline(head=newest[::-1], tail=[], hidden=0)
    tail = newest[:TIMELINE_TAIL][::-1]
    head = list(lines.order_by("at", "id")[:TIMELINE_HEAD])
    hidden = incident.events.count() - TIMELINE_HEAD - TIMELINE_TAIL
    return Timeline(head=head, tail=tail, hidden=hidden)


def incident_escalation_blocker(*, incident: Incident) -> str:
    """Why "escalate now" has nothing to do for ``incident``, in words ('' when it can)."""
    if incident.state != Incident.State.TRIGGERED:
        return (
            f"Incident #{incident.pk} is {incident.get_state_display().lower()}: "
            "escalation only runs while an incident is triggered."
        )
    if incident.next_escalation_at is None:
        if not incident.escalation_snapshot and not incident.integration.escalation_policy_id:
            return (
                f"Incident #{incident.pk} has nobody to escalate to: its integration has "
                "no escalation policy."
            )
        return (
            f"Incident #{incident.pk} has no escalation step left: every step of its "
            "policy has run."
        )
    return ""


def triggered_among(*, incident_ids: list[int]) -> list[int]:
    """Which of ``incident_ids`` are triggered, newest first."""
    return list(
        Incident.objects.filter(pk__in=incident_ids, state=Incident.State.TRIGGERED)
        .order_by("-id")
        .values_list("pk", flat=True)
    )


# --------------------------------------------------------------------- on call now


@dataclass(frozen=True)
class OnCallNow:
    """Who is on call in one schedule now, and until when (None: no change ahead)."""

    schedule: Schedule
    users: list[User]
    until: datetime | None
    zone: zoneinfo.ZoneInfo
    problem: str = ""


@dataclass(frozen=True)
class UpcomingShift:
    schedule: Schedule
    start: datetime
    end: datetime
    zone: zoneinfo.ZoneInfo
    current: bool


@dataclass(frozen=True)
class OnCallPanel:
    schedules: list[OnCallNow]
    my_shifts: list[UpcomingShift]


def _could_be_on_call(schedule: Schedule, user_id: int) -> bool:
    """From the prefetched rows: is ``user_id`` in a layer or an override at all?"""
    return any(
        member.user_id == user_id
        for layer in schedule.layers.all()
        for member in layer.members.all()
    ) or any(override.user_id == user_id for override in schedule.overrides.all())


def oncall_panel(
    *, user: User, now: datetime, horizon: timedelta = timedelta(days=14), shifts: int = 3
) -> OnCallPanel:
    """Every schedule with who is on call at ``now`` and until when, and ``user``'s next
    ``shifts`` shifts within ``horizon`` (one in progress included).

    The same answers as the schedule pages (``schedules.oncall``), from one prefetched
    query set and one query for the users: a fixed number of queries however many
    schedules there are."""
    answers: list[tuple[Schedule, zoneinfo.ZoneInfo, OnCall | None, str]] = []
    mine: list[UpcomingShift] = []
    for schedule in schedules_with_rotations().order_by("name", "pk"):
        zone = schedule.zone
        try:
            spec = schedule_spec(schedule)
            answer = who_is_on_call(spec, now)
        except (ValueError, zoneinfo.ZoneInfoNotFoundError) as exc:
            # A row written around validation must not take the home page down with it.
            answers.append((schedule, zone, None, f"cannot be computed ({exc})"))
            continue
        answers.append((schedule, zone, answer, ""))
        if _could_be_on_call(schedule, user.pk):
            mine.extend(
                UpcomingShift(schedule, shift.start, shift.end, zone, shift.start <= now)
                for shift in final_shifts(spec, now, now + horizon)
                if user.pk in shift.user_ids
            )
    ids = {pk for _, _, answer, _ in answers if answer for pk in answer.user_ids}
    users = User.objects.in_bulk(ids) if ids else {}
    rows = [
        OnCallNow(
            schedule=schedule,
            users=[users[pk] for pk in answer.user_ids if pk in users] if answer else [],
            until=answer.until if answer else None,
            zone=zone,
            problem=problem,
        )
        for schedule, zone, answer, problem in answers
    ]
    mine.sort(key=lambda shift: (shift.start, shift.schedule.name, shift.schedule.pk))
    return OnCallPanel(schedules=rows, my_shifts=mine[:shifts])
