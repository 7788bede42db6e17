"""Properties of the on-call mathematics, checked with hypothesis.

The oracle below answers "who is on call at t" the slow, obvious way (read the local
wall clock, count turns, check the restriction window), independently of the
boundary arithmetic in ``schedules.oncall``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from schedules.oncall import (
    LayerSpec,
    OverrideSpec,
    ScheduleSpec,
    final_shifts,
    layer_shifts,
    who_is_on_call,
)

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Zones with DST at 01:00-03:00 local, half- and quarter-hour offsets, a 30-minute DST
# (Lord Howe): wall-clock times from 04:00 on never fall in a gap or a repeat there.
ZONES = [
    "UTC",
    "Europe/London",
    "America/New_York",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Adelaide",
    "Australia/Lord_Howe",
    "America/St_Johns",
]

EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC)
)
quarter_hours = st.builds(
    time, st.integers(min_value=4, max_value=23), st.sampled_from([0, 15, 30, 45])
)
user_ids = st.lists(st.integers(min_value=1, max_value=6), min_size=1, max_size=4)


@st.composite
def layers(draw: st.DrawFn, index: int) -> LayerSpec:
    turn = draw(st.sampled_from(["daily", "weekly", "hours"]))
    restricted = draw(st.booleans())
    return LayerSpec(
        name=f"layer-{index}",
        position=draw(st.integers(min_value=0, max_value=3)),
        start=draw(st.dates(min_value=date(2025, 3, 1), max_value=date(2027, 6, 1))),
        turn=turn,
        turn_hours=draw(st.integers(min_value=1, max_value=72)) if turn == "hours" else None,
        handoff_time=draw(quarter_hours),
        user_ids=tuple(draw(user_ids)),
        restrict_weekdays=(
            tuple(sorted(draw(st.sets(st.integers(0, 6), max_size=7)))) if restricted else ()
        ),
        restrict_start=draw(st.none() | quarter_hours) if restricted else None,
        restrict_end=draw(st.none() | quarter_hours) if restricted else None,
    )


@st.composite
def overrides(draw: st.DrawFn) -> OverrideSpec:
    start = draw(instants).replace(second=0, microsecond=0)
    minutes = draw(st.integers(min_value=1, max_value=72 * 60))
    return OverrideSpec(
        user_id=draw(st.integers(min_value=10, max_value=12)),
        start=start,
        end=start + timedelta(minutes=minutes),
    )


@st.composite
def schedules(draw: st.DrawFn, min_overrides: int = 0) -> ScheduleSpec:
    count = draw(st.integers(min_value=0, max_value=3))
    return ScheduleSpec(
        time_zone=draw(st.sampled_from(ZONES)),
        layers=tuple(draw(layers(i)) for i in range(count)),
        overrides=tuple(draw(st.lists(overrides(), min_size=min_overrides, max_size=3))),
    )


# ------------------------------------------------------------------------------ oracle


def oracle_layer(layer: LayerSpec, tz: ZoneInfo, at: datetime) -> int | None:
    local = at.astimezone(tz)
    if layer.turn == "hours":
        assert layer.turn_hours is not None
        first = datetime.combine(layer.start, layer.handoff_time, tzinfo=tz)
        k = (at - first) // timedelta(hours=layer.turn_hours)
    else:
        days = (local.date() - layer.start).days
        if local.time() < layer.handoff_time:
            days -= 1  # before today's handoff: still yesterday's turn
        k = days // (7 if layer.turn == "weekly" else 1)
    if k < 0 or not in_window(layer, local):
        return None
    return layer.user_ids[k % len(layer.user_ids)]


def in_window(layer: LayerSpec, local: datetime) -> bool:
    days = set(layer.restrict_weekdays) or set(range(7))
    opens = layer.restrict_start or time(0)
    now = local.time().replace(tzinfo=None)
    if layer.restrict_end is not None and layer.restrict_end > opens:
        return local.weekday() in days and opens <= now < layer.restrict_end
    closes = layer.restrict_end or time(0)
    if now >= opens:
        return local.weekday() in days
    if now < closes:
        return (local.date() - timedelta(days=1)).weekday() in days
    return False


def oracle(schedule: ScheduleSpec, at: datetime) -> tuple[tuple[int, ...], str]:
    covering = sorted(
        (o for o in schedule.overrides if o.start <= at < o.end), key=lambda o: o.start
    )
    if covering:
        return tuple(dict.fromkeys(o.user_id for o in covering)), "override"
    tz = ZoneInfo(schedule.time_zone)
    ranked = sorted(enumerate(schedule.layers), key=lambda pair: (-pair[1].position, pair[0]))
    for _, layer in ranked:
        user = oracle_layer(layer, tz, at)
        if user is not None:
            return (user,), layer.name
    return (), ""


def answer(schedule: ScheduleSpec, at: datetime) -> tuple[tuple[int, ...], str]:
    result = who_is_on_call(schedule, at)
    return result.user_ids, result.source


# -------------------------------------------------------------------------- properties


@FAST
@given(schedule=schedules(), at=instants)
def test_the_answer_is_exactly_what_the_layers_and_overrides_imply(
    schedule: ScheduleSpec, at: datetime
) -> None:
    assert answer(schedule, at) == oracle(schedule, at)


@FAST
@given(
    schedule=schedules(),
    start=instants,
    hours=st.integers(min_value=1, max_value=14 * 24),
    probes=st.lists(st.integers(min_value=0), max_size=8),
)
def test_who_is_on_call_agrees_with_final_shifts(
    schedule: ScheduleSpec, start: datetime, hours: int, probes: list[int]
) -> None:
    end = start + timedelta(hours=hours)
    shifts = final_shifts(schedule, start, end)

    assert shifts[0].start == start and shifts[-1].end == end
    for before, after in zip(shifts, shifts[1:], strict=False):
        assert before.end == after.start  # contiguous
        assert (before.user_ids, before.source) != (after.user_ids, after.source)
    span = (end - start) // timedelta(microseconds=1)
    instants_ = [start + timedelta(microseconds=p % span) for p in probes]
    instants_ += [s.start for s in shifts]
    for at in instants_:
        (segment,) = [s for s in shifts if s.start <= at < s.end]
        result = who_is_on_call(schedule, at)
        assert (result.user_ids, result.source) == (segment.user_ids, segment.source)
        if segment.start > start:
            assert result.since == segment.start
        if segment.end < end:
            assert result.until == segment.end


@FAST
@given(schedule=schedules(min_overrides=1), data=st.data())
def test_an_override_always_wins(schedule: ScheduleSpec, data: st.DataObject) -> None:
    chosen = data.draw(st.sampled_from(schedule.overrides))
    span = (chosen.end - chosen.start) // timedelta(microseconds=1)
    at = chosen.start + timedelta(microseconds=data.draw(st.integers(0, span - 1)))

    result = who_is_on_call(schedule, at)

    assert result.source == "override"
    assert chosen.user_id in result.user_ids
    covering = sorted(
        (o for o in schedule.overrides if o.start <= at < o.end), key=lambda o: o.start
    )
    assert result.user_ids == tuple(dict.fromkeys(o.user_id for o in covering))


@FAST
@given(schedule=schedules(), at=instants)
def test_a_higher_layer_wins_where_it_has_someone(schedule: ScheduleSpec, at: datetime) -> None:
    assume(not any(o.start <= at < o.end for o in schedule.overrides))
    result = who_is_on_call(schedule, at)

    ranked = sorted(enumerate(schedule.layers), key=lambda pair: (-pair[1].position, pair[0]))
    for _, layer in ranked:
        own = layer_shifts(schedule, layer, at, at + timedelta(seconds=1))
        if own and own[0].start == at:
            assert (result.user_ids, result.source) == (own[0].user_ids, layer.name)
            return
    assert result.user_ids == () and result.source == ""


@FAST
@given(
    schedule=schedules(),
    at=instants,
    probes=st.lists(st.integers(min_value=0), max_size=5),
)
def test_until_is_the_first_instant_the_answer_changes(
    schedule: ScheduleSpec, at: datetime, probes: list[int]
) -> None:
    result = who_is_on_call(schedule, at)
    now = (result.user_ids, result.source)
    if result.until is None:
        later = at + timedelta(days=400)
        assert answer(schedule, later) == now
        return
    assert result.until > at
    assert answer(schedule, result.until) != now
    assert answer(schedule, result.until - timedelta(microseconds=1)) == now
    span = (result.until - at) // timedelta(microseconds=1)
    for p in probes:
        assert answer(schedule, at + timedelta(microseconds=p % span)) == now
    if result.since is not None:
        assert result.since <= at
        assert answer(schedule, result.since) == now
        assert answer(schedule, result.since - timedelta(microseconds=1)) != now


# ----------------------------------------------------------------- clocks and offsets

DST_CHANGES = {
    # zone: (spring forward, fall back) local dates in 2026
    "Europe/London": (date(2026, 3, 29), date(2026, 10, 25)),
    "America/New_York": (date(2026, 3, 8), date(2026, 11, 1)),
}


@FAST
@given(
    zone=st.sampled_from(sorted(DST_CHANGES)),
    spring=st.booleans(),
    handoff=quarter_hours,
    days_before=st.integers(min_value=1, max_value=10),
    users=user_ids,
)
def test_a_daily_handoff_keeps_its_local_time_across_dst(
    zone: str, spring: bool, handoff: time, days_before: int, users: list[int]
) -> None:
    change = DST_CHANGES[zone][0 if spring else 1]
    layer = LayerSpec("daily", 0, change - timedelta(days=days_before), "daily", None, handoff,
                      tuple(users))  # fmt: skip
    schedule = ScheduleSpec(zone, (layer,))
    tz = ZoneInfo(zone)
    window = (
        datetime.combine(change - timedelta(days=days_before), time(0), tzinfo=tz),
        datetime.combine(change + timedelta(days=5), time(0), tzinfo=tz),
    )

    turns = layer_shifts(schedule, layer, *window)
    whole = [t for t in turns if t.start > window[0] and t.end < window[1]]  # not clipped

    for turn in whole:
        for edge in (turn.start, turn.end):
            assert edge.astimezone(tz).time().replace(tzinfo=None) == handoff
    lengths = [turn.end - turn.start for turn in whole]
    odd = [(turn, length) for turn, length in zip(whole, lengths, strict=True)
           if length != timedelta(hours=24)]  # fmt: skip
    (spanning, length) = odd[0] if len(odd) == 1 else (None, None)
    assert len(odd) == 1
    assert length == timedelta(hours=23 if spring else 25)
    assert spanning is not None
    assert spanning.start.astimezone(tz).date() == change - timedelta(days=1)


@FAST
@given(
    zone=st.sampled_from(["Asia/Kolkata", "Asia/Kathmandu", "Asia/Kabul", "Australia/Eucla"]),
    turn=st.sampled_from(["daily", "weekly"]),
    handoff=st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45])),
    start=st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 1, 1)),
    users=user_ids,
)
def test_handoffs_follow_half_and_quarter_hour_offsets(
    zone: str, turn: str, handoff: time, start: date, users: list[int]
) -> None:
    tz = ZoneInfo(zone)
    layer = LayerSpec("l", 0, start, turn, None, handoff, tuple(users))
    schedule = ScheduleSpec(zone, (layer,))
    first = datetime.combine(start, handoff, tzinfo=tz)

    turns = layer_shifts(schedule, layer, first, first + timedelta(days=30))
    step = timedelta(days=7 if turn == "weekly" else 1)

    assert turns[0].start == first
    offset = first.utcoffset()
    assert offset is not None
    assert (
        turns[0].start.astimezone(UTC).minute == (handoff.minute * 60 - offset.seconds) // 60 % 60
    )
    for index, shift in enumerate(turns):
        assert shift.start.astimezone(tz).time().replace(tzinfo=None) == handoff
        assert shift.user_ids == (users[index % len(users)],)
    # These zones keep one offset all year: every turn is exactly one or seven days.
    assert all(s.end - s.start == step for s in turns[:-1])


@FAST
@given(
    zone=st.sampled_from(ZONES),
    hours=st.integers(min_value=1, max_value=100),
    start=st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 1, 1)),
    handoff=quarter_hours,
    users=user_ids,
)
def test_n_hour_turns_are_exactly_n_hours(
    zone: str, hours: int, start: date, handoff: time, users: list[int]
) -> None:
    layer = LayerSpec("h", 0, start, "hours", hours, handoff, tuple(users))
    schedule = ScheduleSpec(zone, (layer,))
    # In UTC: aware datetimes in a repeated local hour never compare equal across zones.
    first = datetime.combine(start, handoff, tzinfo=ZoneInfo(zone)).astimezone(UTC)

    turns = layer_shifts(schedule, layer, first, first + timedelta(days=20))

    for index, shift in enumerate(turns[:-1]):
        assert shift.start == first + index * timedelta(hours=hours)
        assert shift.end - shift.start == timedelta(hours=hours)
        assert shift.user_ids == (users[index % len(users)],)
