"""Reads for schedules: database rows in, ``schedules.oncall`` answers out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Prefetch, Q, QuerySet

from accounts.models import User
from schedules.models import Layer, LayerMember, Schedule
from schedules.oncall import (
    LayerSpec,
    OverrideSpec,
    ScheduleSpec,
    who_is_on_call,
)


def schedules_with_rotations() -> QuerySet[Schedule]:
    """Schedules with everything ``schedule_spec`` reads, in three queries per page."""
    return Schedule.objects.prefetch_related(
        Prefetch("layers", queryset=Layer.objects.order_by("-position", "id")),
        Prefetch("layers__members", queryset=LayerMember.objects.order_by("position")),
        "overrides",
    )


def schedule_spec(schedule: Schedule) -> ScheduleSpec:
    """The pure description of ``schedule`` (uses prefetched layers/overrides if present).

    Every override is included, past ones too, so ``since`` stays right.
    """
    layers = tuple(
        LayerSpec(
            name=layer.name,
            position=layer.position,
            start=layer.start,
            turn=layer.turn,
            turn_hours=layer.turn_hours,
            handoff_time=layer.handoff_time,
            user_ids=tuple(
                m.user_id for m in sorted(layer.members.all(), key=lambda m: m.position)
            ),
            restrict_weekdays=tuple(layer.restrict_weekdays or ()),
            restrict_start=layer.restrict_start,
            restrict_end=layer.restrict_end,
        )
        for layer in sorted(schedule.layers.all(), key=lambda layer: (-layer.position, layer.pk))
    )
    overrides = tuple(
        OverrideSpec(user_id=o.user_id, start=o.start, end=o.end)
        for o in sorted(schedule.overrides.all(), key=lambda o: (o.start, o.pk))
    )
    return ScheduleSpec(time_zone=schedule.time_zone, layers=layers, overrides=overrides)


@dataclass(frozen=True)
class OnCallUsers:
    users: list[User]
    until: datetime | None
    source: str


def users_on_call(schedule: Schedule, at: datetime) -> OnCallUsers:
    """The users on call for ``schedule`` at ``at`` (aware), in on-call order."""
    answer = who_is_on_call(schedule_spec(schedule), at)
    by_id = User.objects.in_bulk(answer.user_ids)
    users = [by_id[pk] for pk in answer.user_ids if pk in by_id]
    return OnCallUsers(users=users, until=answer.until, source=answer.source)


def schedules_of_user(user: User) -> QuerySet[Schedule]:
    """Schedules in which ``user`` can be on call: as a layer member or by an override."""
    ids = Schedule.objects.filter(Q(layers__members__user=user) | Q(overrides__user=user)).values(
        "pk"
    )
    return schedules_with_rotations().filter(pk__in=ids).order_by("name", "pk")
