"""Generated schedules: the converted Klaxon spec puts the same people on call as the
source's own rules say (``tests.fakes.opsgenie_reference`` / ``oncall_reference``, written
from the documentation and sharing no code with the converters) at generated instants."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from importers.oncall import oncall_plan
from importers.opsgenie import opsgenie_plan
from importers.plan import ImportPlan
from schedules.oncall import who_is_on_call
from tests.fakes import oncall_reference, opsgenie_reference

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ZONES = ["UTC", "Europe/London", "America/New_York", "Asia/Kolkata", "Australia/Adelaide"]
NAMES = ["alice", "bob", "carol"]
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
CODES = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]

# Wall-clock times from 04:00 never fall in a clock change's gap or repeat in these zones.
clock = st.builds(time, st.integers(4, 23), st.sampled_from([0, 30]))
days = st.dates(date(2026, 1, 1), date(2026, 6, 30))
instants = st.datetimes(datetime(2026, 1, 1), datetime(2026, 12, 31), timezones=st.just(UTC))


def klaxon_answer(plan: ImportPlan, at: datetime) -> set[str]:
    ids = plan.user_ids()
    by_id = {v: k for k, v in ids.items()}
    return {by_id[u] for u in who_is_on_call(plan.schedules[0].spec(ids), at).user_ids}


# -------------------------------------------------------------------------- Opsgenie


def og_user(name: str) -> dict[str, Any]:
    return {"id": f"id-{name}", "username": f"{name}@example.com", "role": {"name": "User"}}


@st.composite
def og_restrictions(draw: st.DrawFn) -> dict[str, Any] | None:
    kind = draw(st.sampled_from([None, "time-of-day", "weekday-and-time-of-day"]))
    if kind is None:
        return None

    def span(start: time, end: time) -> dict[str, int]:
        return {"startHour": start.hour, "startMin": start.minute,
                "endHour": end.hour, "endMin": end.minute}  # fmt: skip

    if kind == "time-of-day":
        return {"type": kind, "restriction": span(draw(clock), draw(clock))}
    ranges = [
        {"startDay": draw(st.sampled_from(DAYS)), "endDay": draw(st.sampled_from(DAYS)),
         **span(draw(clock), draw(clock))}
        for _ in range(draw(st.integers(1, 3)))
    ]  # fmt: skip
    return {"type": kind, "restrictions": ranges}


@st.composite
def og_rotations(draw: st.DrawFn, index: int, zone: ZoneInfo) -> dict[str, Any]:
    kind = draw(st.sampled_from(["daily", "weekly", "hourly"]))
    start = datetime.combine(draw(days), draw(clock), tzinfo=zone).astimezone(UTC)
    people = draw(st.lists(st.sampled_from([*NAMES, "none"]), min_size=1, max_size=4))
    rotation: dict[str, Any] = {
        "id": f"rot-{index}", "name": f"Rotation {index}", "type": kind,
        "length": draw(st.integers(1, 12 if kind == "hourly" else 3)),
        "startDate": start.isoformat(),
        "participants": [{"type": "none"} if p == "none" else
                         {"type": "user", "id": f"id-{p}", "username": f"{p}@example.com"}
                         for p in people],
    }  # fmt: skip
    if restriction := draw(og_restrictions()):
        rotation["timeRestriction"] = restriction
    if draw(st.booleans()):
        end = start + timedelta(hours=draw(st.integers(1, 24 * 120)))
        rotation["endDate"] = end.isoformat()
    return rotation


@st.composite
def og_overrides(draw: st.DrawFn, rotations: int) -> dict[str, Any]:
    start = draw(instants).replace(minute=0, second=0, microsecond=0)
    who = draw(st.sampled_from([*NAMES, "none"]))
    scoped = draw(st.lists(st.integers(0, rotations - 1), max_size=2, unique=True))
    return {
        "alias": f"o-{start:%m%d%H}-{who}",
        "user": {"type": "none"} if who == "none" else
                {"type": "user", "id": f"id-{who}", "username": f"{who}@example.com"},
        "startDate": start.isoformat(),
        "endDate": (start + timedelta(hours=draw(st.integers(1, 96)))).isoformat(),
        "rotations": [{"id": f"rot-{i}", "name": f"Rotation {i}"} for i in scoped],
    }  # fmt: skip


@st.composite
def og_schedules(draw: st.DrawFn) -> dict[str, Any]:
    zone_name = draw(st.sampled_from(ZONES))
    count = draw(st.integers(1, 3))
    rotations = [draw(og_rotations(i, ZoneInfo(zone_name))) for i in range(count)]
    return {
        "id": "sched", "name": "Generated", "timezone": zone_name, "enabled": True,
        "rotations": rotations,
        "overrides": draw(st.lists(og_overrides(count), max_size=2)),
    }  # fmt: skip


@SETTINGS
@given(schedule=og_schedules(), moments=st.lists(instants, min_size=1, max_size=6))
def test_converted_opsgenie_rotations_agree_with_opsgenies_rules(
    schedule: dict[str, Any], moments: list[datetime]
) -> None:
    plan = opsgenie_plan({"users": [og_user(n) for n in NAMES], "schedules": [schedule]})
    assert not plan.unmapped

    for at in moments:
        expected = {
            f"id-{n.split('@')[0]}" for n in opsgenie_reference.on_call_usernames(schedule, at)
        }
        assert klaxon_answer(plan, at) == expected, at


# ------------------------------------------------------------------- Grafana OnCall


@st.composite
def oncall_shifts(draw: st.DrawFn, index: int) -> dict[str, Any]:
    frequency = draw(st.sampled_from(["daily", "weekly", "hourly"]))
    interval = draw(st.integers(1, 12 if frequency == "hourly" else 2))
    by_day = None
    zone = None
    if frequency == "hourly":
        zone = "UTC"  # OnCall steps hours on the wall clock, Klaxon in real hours: no DST here
        duration = interval * 3600
    elif draw(st.booleans()):  # whole turns
        duration = interval * 86400 * (7 if frequency == "weekly" else 1)
    else:
        duration = draw(st.integers(1, 24)) * 1800
        if frequency == "weekly" or draw(st.booleans()):
            by_day = sorted(draw(st.sets(st.sampled_from(CODES), min_size=1)), key=CODES.index)
            if frequency == "daily":
                interval = draw(st.integers(1, len(by_day)))
    groups = draw(st.lists(st.lists(st.sampled_from(NAMES), min_size=1, max_size=2, unique=True),
                           min_size=1, max_size=3))  # fmt: skip
    start = datetime.combine(draw(days), draw(clock))
    return {
        "id": f"O{index}", "name": f"Shift {index}", "type": "rolling_users",
        "level": draw(st.integers(0, 2)), "time_zone": zone,
        "start": start.isoformat(), "rotation_start": start.isoformat(),
        "duration": duration, "frequency": frequency, "interval": interval,
        "week_start": draw(st.sampled_from(CODES)), "by_day": by_day,
        "rolling_users": [[f"U{n}" for n in g] for g in groups],
        "start_rotation_from_user_index": draw(st.integers(0, len(groups) - 1)),
    }  # fmt: skip


@SETTINGS
@given(
    zone=st.sampled_from(ZONES),
    shifts=st.integers(1, 3).flatmap(lambda n: st.tuples(*[oncall_shifts(i) for i in range(n)])),
    moments=st.lists(instants, min_size=1, max_size=6),
)
def test_converted_oncall_shifts_agree_with_oncalls_final_schedule(
    zone: str, shifts: tuple[dict[str, Any], ...], moments: list[datetime]
) -> None:
    users = [{"id": f"U{n}", "username": n, "email": f"{n}@example.com"} for n in NAMES]
    schedule = {"id": "S", "name": "Generated", "type": "web", "time_zone": zone,
                "on_call_shifts": list(shifts)}  # fmt: skip
    plan = oncall_plan({"users": users, "schedules": [schedule]})
    assume(not plan.unmapped)  # an inexpressible pattern is listed, not converted

    events = oncall_reference.schedule_events(schedule, {}, max(moments) + timedelta(days=8))
    for at in moments:
        assert klaxon_answer(plan, at) == oncall_reference.resolve(events, at), at
