"""The on-call model's extensions (longer turns, gaps, weekly windows, layer bounds and
zones, layers on call together, blank and layer-scoped overrides): worked examples, then
a property check against a slow oracle that reads wall clocks minute by minute of the
week instead of computing boundaries."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schedules.oncall import (
    NOBODY,
    LayerSpec,
    OverrideSpec,
    ScheduleSpec,
    WeeklyWindow,
    final_shifts,
    who_is_on_call,
)

ALICE, BOB, CAROL = 1, 2, 3
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def layer(name: str = "primary", **fields: object) -> LayerSpec:
    values: dict[str, object] = {
        "name": name,
        "position": 0,
        "start": date(2026, 1, 5),  # a Monday
        "turn": "daily",
        "turn_hours": None,
        "handoff_time": time(9),
        "user_ids": (ALICE, BOB),
    }
    values.update(fields)
    return LayerSpec(**values)  # type: ignore[arg-type]


def on_call(schedule: ScheduleSpec, at: datetime) -> tuple[tuple[int, ...], str]:
    answer = who_is_on_call(schedule, at)
    return answer.user_ids, answer.source


# ----------------------------------------------------------------------- worked examples


def test_a_two_day_turn_hands_off_every_other_morning() -> None:
    schedule = ScheduleSpec("UTC", (layer(turn_length=2),))

    shifts = final_shifts(schedule, utc(2026, 1, 5, 9), utc(2026, 1, 11, 9))

    assert [(s.start, s.user_ids) for s in shifts] == [
        (utc(2026, 1, 5, 9), (ALICE,)),
        (utc(2026, 1, 7, 9), (BOB,)),
        (utc(2026, 1, 9, 9), (ALICE,)),
    ]


def test_a_two_week_turn_lasts_fourteen_days() -> None:
    schedule = ScheduleSpec("UTC", (layer(turn="weekly", turn_length=2),))

    assert on_call(schedule, utc(2026, 1, 18, 12)) == ((ALICE,), "primary")
    assert on_call(schedule, utc(2026, 1, 19, 9)) == ((BOB,), "primary")


def test_a_gap_in_the_rotation_leaves_nobody_on_call_for_that_turn() -> None:
    schedule = ScheduleSpec("UTC", (layer(user_ids=(ALICE, NOBODY, BOB)),))

    assert on_call(schedule, utc(2026, 1, 5, 12)) == ((ALICE,), "primary")
    assert on_call(schedule, utc(2026, 1, 6, 12)) == ((), "")
    assert on_call(schedule, utc(2026, 1, 7, 12)) == ((BOB,), "primary")
    assert who_is_on_call(schedule, utc(2026, 1, 6, 12)).until == utc(2026, 1, 7, 9)


def test_weekly_windows_span_days_and_can_be_several() -> None:
    business = (
        WeeklyWindow(MON, time(9), FRI, time(17)),
        WeeklyWindow(SAT, time(10), SAT, time(14)),
    )
    schedule = ScheduleSpec("Europe/London", (layer(user_ids=(ALICE,), windows=business),))

    shifts = final_shifts(schedule, utc(2026, 1, 5), utc(2026, 1, 12))

    assert [(s.start, s.end) for s in shifts if s.user_ids] == [
        (utc(2026, 1, 5, 9), utc(2026, 1, 9, 17)),  # Monday 09:00 to Friday 17:00 in one
        (utc(2026, 1, 10, 10), utc(2026, 1, 10, 14)),
    ]


def test_a_window_from_friday_evening_to_monday_morning_wraps_the_week() -> None:
    weekend = (WeeklyWindow(FRI, time(17), MON, time(9)),)
    schedule = ScheduleSpec("UTC", (layer(user_ids=(ALICE,), windows=weekend),))

    assert on_call(schedule, utc(2026, 1, 11, 3)) == ((ALICE,), "primary")  # Sunday
    assert on_call(schedule, utc(2026, 1, 12, 8, 59)) == ((ALICE,), "primary")
    assert on_call(schedule, utc(2026, 1, 12, 9)) == ((), "")


def test_a_window_with_the_same_day_and_time_at_both_ends_is_the_whole_week() -> None:
    always = (WeeklyWindow(WED, time(12), WED, time(12)),)
    schedule = ScheduleSpec("UTC", (layer(user_ids=(ALICE,), windows=always),))

    shifts = final_shifts(schedule, utc(2026, 2, 1), utc(2026, 2, 15))

    assert [(s.start, s.end, s.user_ids) for s in shifts] == [
        (utc(2026, 2, 1), utc(2026, 2, 15), (ALICE,))
    ]


def test_a_layer_only_has_someone_between_its_begin_and_end() -> None:
    bounded = layer(begin=utc(2026, 1, 6, 12), end=utc(2026, 1, 8, 6))
    schedule = ScheduleSpec("UTC", (bounded,))

    shifts = final_shifts(schedule, utc(2026, 1, 5), utc(2026, 1, 9))

    # Turns are still counted from the start: the 6th is Bob's day.
    assert [(s.start, s.end, s.user_ids) for s in shifts if s.user_ids] == [
        (utc(2026, 1, 6, 12), utc(2026, 1, 7, 9), (BOB,)),
        (utc(2026, 1, 7, 9), utc(2026, 1, 8, 6), (ALICE,)),
    ]
    assert who_is_on_call(schedule, utc(2026, 1, 7, 12)).until == utc(2026, 1, 8, 6)
    assert who_is_on_call(schedule, utc(2026, 1, 9)).until is None


def test_a_layer_in_its_own_time_zone_hands_off_at_its_own_local_time() -> None:
    tokyo = layer(time_zone="Asia/Tokyo", user_ids=(ALICE, BOB))
    schedule = ScheduleSpec("Europe/London", (tokyo,))

    shifts = final_shifts(schedule, utc(2026, 1, 5), utc(2026, 1, 6, 12))

    assert [s.start for s in shifts if s.user_ids][1:] == [utc(2026, 1, 6, 0)]  # 09:00 JST


def test_layers_sharing_the_top_position_are_on_call_together_when_asked() -> None:
    days = layer("days", user_ids=(ALICE,))
    nights = layer("nights", user_ids=(BOB,), restrict_start=time(18), restrict_end=time(6))
    backup = layer("backup", position=-1, user_ids=(CAROL,))
    together = ScheduleSpec("UTC", (days, nights, backup), ties="together")
    first_wins = ScheduleSpec("UTC", (days, nights, backup))

    assert on_call(together, utc(2026, 1, 6, 20)) == ((ALICE, BOB), "days + nights")
    assert on_call(together, utc(2026, 1, 6, 12)) == ((ALICE,), "days")
    assert on_call(first_wins, utc(2026, 1, 6, 20)) == ((ALICE,), "days")


def test_an_override_for_nobody_blanks_the_whole_schedule() -> None:
    blank = OverrideSpec(NOBODY, utc(2026, 1, 6, 10), utc(2026, 1, 6, 11))
    schedule = ScheduleSpec("UTC", (layer(),), (blank,))

    assert on_call(schedule, utc(2026, 1, 6, 10, 30)) == ((), "override")
    assert on_call(schedule, utc(2026, 1, 6, 11)) == ((BOB,), "primary")


def test_an_override_naming_a_layer_replaces_only_that_layer_where_it_has_someone() -> None:
    days = layer("days", user_ids=(ALICE,), restrict_start=time(9), restrict_end=time(17))
    nights = layer("nights", user_ids=(BOB,), restrict_start=time(17), restrict_end=time(9))
    cover = OverrideSpec(CAROL, utc(2026, 1, 6, 12), utc(2026, 1, 6, 20), layers=("days",))
    schedule = ScheduleSpec("UTC", (days, nights), (cover,), ties="together")

    assert on_call(schedule, utc(2026, 1, 6, 13)) == ((CAROL,), "override")
    # After 17:00 the days layer has nobody, so the override has nothing to replace.
    assert on_call(schedule, utc(2026, 1, 6, 18)) == ((BOB,), "nights")
    assert who_is_on_call(schedule, utc(2026, 1, 6, 13)).until == utc(2026, 1, 6, 17)


def test_a_layer_scoped_override_for_nobody_leaves_the_other_layers() -> None:
    a = layer("a", user_ids=(ALICE,))
    b = layer("b", user_ids=(BOB,))
    off = OverrideSpec(NOBODY, utc(2026, 1, 6), utc(2026, 1, 7), layers=("a",))
    schedule = ScheduleSpec("UTC", (a, b), (off,), ties="together")

    assert on_call(schedule, utc(2026, 1, 6, 12)) == ((BOB,), "b")


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        (
            ScheduleSpec(
                "UTC",
                (
                    layer(
                        windows=(WeeklyWindow(MON, time(9), MON, time(17)),),
                        restrict_start=time(9),
                    ),
                ),
            ),
            "not both",
        ),
        (
            ScheduleSpec(
                "UTC",
                (layer(),),
                (OverrideSpec(ALICE, utc(2026, 1, 1), utc(2026, 1, 2), ("nope",)),),
            ),
            "names layer 'nope'",
        ),
        (ScheduleSpec("UTC", (layer(),), ties="sometimes"), "unknown ties"),
        (ScheduleSpec("UTC", (layer(turn_length=0),)), "turn_length"),
        (ScheduleSpec("UTC", (layer(turn="hours", turn_hours=8, turn_length=2),)), "turn_length"),
        (ScheduleSpec("UTC", (layer(begin=datetime(2026, 1, 1)),)), "aware"),
    ],
)
def test_contradictory_specs_are_refused_with_the_reason(
    schedule: ScheduleSpec, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        who_is_on_call(schedule, utc(2026, 1, 6))


# -------------------------------------------------------------------------------- oracle

WEEK_MINUTES = 7 * 24 * 60
ZONES = ["UTC", "Europe/London", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]


def minute_of_week(day: int, at: time) -> int:
    return day * 24 * 60 + at.hour * 60 + at.minute


def inside(window: WeeklyWindow, local: datetime) -> bool:
    opens = minute_of_week(window.start_day, window.start)
    length = (minute_of_week(window.end_day, window.end) - opens) % WEEK_MINUTES or WEEK_MINUTES
    return (minute_of_week(local.weekday(), local.time()) - opens) % WEEK_MINUTES < length


def allowed(spec: LayerSpec, local: datetime) -> bool:
    if spec.windows:
        return any(inside(w, local) for w in spec.windows)
    days = set(spec.restrict_weekdays) or set(range(7))
    opens, closes = spec.restrict_start or time(0), spec.restrict_end or time(0)
    now = local.time()
    if spec.restrict_end is not None and closes > opens:
        return local.weekday() in days and opens <= now < closes
    opened_today = now >= opens
    day = local.date() if opened_today else local.date() - timedelta(days=1)
    return (opened_today or now < closes) and day.weekday() in days


def turn_of(spec: LayerSpec, tz: ZoneInfo, at: datetime) -> int:
    if spec.turn == "hours":
        assert spec.turn_hours is not None
        first = datetime.combine(spec.start, spec.handoff_time, tzinfo=tz)
        return (at - first) // timedelta(hours=spec.turn_hours)
    local = at.astimezone(tz)
    days = (local.date() - spec.start).days - (local.time() < spec.handoff_time)
    return days // ((7 if spec.turn == "weekly" else 1) * spec.turn_length)


def oracle_layer(schedule: ScheduleSpec, spec: LayerSpec, at: datetime) -> tuple[int, ...]:
    tz = ZoneInfo(spec.time_zone or schedule.time_zone)
    if (spec.begin and at < spec.begin) or (spec.end and at >= spec.end):
        return ()
    k = turn_of(spec, tz, at)
    user = spec.user_ids[k % len(spec.user_ids)] if k >= 0 else NOBODY
    if user == NOBODY or not allowed(spec, at.astimezone(tz)):
        return ()
    scoped = sorted(
        (o for o in schedule.overrides if spec.name in o.layers and o.start <= at < o.end),
        key=lambda o: o.start,
    )
    if scoped:
        return tuple(dict.fromkeys(o.user_id for o in scoped if o.user_id != NOBODY))
    return (user,)


def oracle(schedule: ScheduleSpec, at: datetime) -> tuple[tuple[int, ...], str]:
    wide = sorted(
        (o for o in schedule.overrides if not o.layers and o.start <= at < o.end),
        key=lambda o: o.start,
    )
    if wide:
        return tuple(dict.fromkeys(o.user_id for o in wide if o.user_id != NOBODY)), "override"
    ranked = sorted(enumerate(schedule.layers), key=lambda pair: (-pair[1].position, pair[0]))
    found: list[tuple[LayerSpec, tuple[int, ...]]] = []
    for _, spec in ranked:
        if found and (schedule.ties == "first" or spec.position != found[0][0].position):
            break
        if users := oracle_layer(schedule, spec, at):
            found.append((spec, users))
    if not found:
        return (), ""
    sources = []
    for spec, _ in found:
        scoped = any(spec.name in o.layers and o.start <= at < o.end for o in schedule.overrides)
        sources.append("override" if scoped else spec.name)
    users = tuple(dict.fromkeys(u for _, group in found for u in group))
    return users, " + ".join(dict.fromkeys(sources))


# --------------------------------------------------------------------------- properties

quarter_hours = st.builds(time, st.integers(4, 23), st.sampled_from([0, 15, 30, 45]))
instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
).map(lambda d: d.replace(second=0, microsecond=0))
NAMES = ("a", "b", "c")


@st.composite
def extended_layers(draw: st.DrawFn, name: str) -> LayerSpec:
    turn = draw(st.sampled_from(["daily", "weekly", "hours"]))
    restriction = draw(st.sampled_from(["none", "times", "windows"]))
    fields: dict[str, object] = {}
    if restriction == "times":
        fields["restrict_weekdays"] = tuple(sorted(draw(st.sets(st.integers(0, 6)))))
        fields["restrict_start"] = draw(quarter_hours)
        fields["restrict_end"] = draw(st.none() | quarter_hours)
    elif restriction == "windows":
        window = st.builds(
            WeeklyWindow, st.integers(0, 6), quarter_hours, st.integers(0, 6), quarter_hours
        )
        fields["windows"] = tuple(draw(st.lists(window, min_size=1, max_size=3)))
    if draw(st.booleans()):
        fields["begin"] = draw(instants)
    if draw(st.booleans()):
        fields["end"] = draw(instants)
    return layer(
        name,
        position=draw(st.integers(0, 1)),
        start=draw(st.dates(date(2026, 1, 1), date(2026, 9, 1))),
        turn=turn,
        turn_hours=draw(st.integers(1, 48)) if turn == "hours" else None,
        turn_length=1 if turn == "hours" else draw(st.integers(1, 3)),
        handoff_time=draw(quarter_hours),
        user_ids=tuple(
            draw(st.lists(st.sampled_from([ALICE, BOB, CAROL, NOBODY]), min_size=1, max_size=4))
        ),
        time_zone=draw(st.none() | st.sampled_from(ZONES)),
        **fields,
    )


@st.composite
def extended_overrides(draw: st.DrawFn) -> OverrideSpec:
    start = draw(instants)
    return OverrideSpec(
        user_id=draw(st.sampled_from([10, 11, NOBODY])),
        start=start,
        end=start + timedelta(minutes=draw(st.integers(1, 72 * 60))),
        layers=tuple(draw(st.sets(st.sampled_from(NAMES), max_size=2))),
    )


@st.composite
def extended_schedules(draw: st.DrawFn) -> ScheduleSpec:
    count = draw(st.integers(1, 3))
    return ScheduleSpec(
        time_zone=draw(st.sampled_from(ZONES)),
        layers=tuple(draw(extended_layers(NAMES[i])) for i in range(count)),
        overrides=tuple(
            o
            for o in draw(st.lists(extended_overrides(), max_size=3))
            if set(o.layers) <= set(NAMES[:count])
        ),
        ties=draw(st.sampled_from(["first", "together"])),
    )


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedule=extended_schedules(), at=instants)
def test_the_answer_is_what_the_extended_layers_and_overrides_imply(
    schedule: ScheduleSpec, at: datetime
) -> None:
    assert on_call(schedule, at) == oracle(schedule, at)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedule=extended_schedules(), start=instants, hours=st.integers(1, 10 * 24))
def test_extended_final_shifts_are_contiguous_and_match_the_oracle_at_every_change(
    schedule: ScheduleSpec, start: datetime, hours: int
) -> None:
    end = start + timedelta(hours=hours)
    shifts = final_shifts(schedule, start, end)

    assert shifts[0].start == start and shifts[-1].end == end
    for before, after in zip(shifts, shifts[1:], strict=False):
        assert before.end == after.start
        assert (before.user_ids, before.source) != (after.user_ids, after.source)
    for shift in shifts:
        assert (shift.user_ids, shift.source) == oracle(schedule, shift.start)
