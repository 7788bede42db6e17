"""Who is on call, worked examples: the cases a responder would check by hand."""

from __future__ import annotations

import time as clock
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from schedules.oncall import (
    LayerSpec,
    OverrideSpec,
    ScheduleSpec,
    final_shifts,
    layer_shifts,
    who_is_on_call,
)

ALICE, BOB, CAROL, DAN = 1, 2, 3, 4
LONDON = ZoneInfo("Europe/London")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def daily(start: date, handoff: time = time(9), users: tuple[int, ...] = (ALICE, BOB, CAROL),
          **kwargs: object) -> LayerSpec:  # fmt: skip
    fields: dict[str, object] = {"name": "primary", "position": 0, "turn": "daily",
                                 "turn_hours": None}  # fmt: skip
    fields.update(kwargs)
    return LayerSpec(start=start, handoff_time=handoff, user_ids=users, **fields)  # type: ignore[arg-type]


def test_a_daily_rotation_hands_off_at_nine_local_on_both_sides_of_the_spring_change() -> None:
    schedule = ScheduleSpec("Europe/London", (daily(date(2026, 3, 27)),))

    shifts = final_shifts(schedule, utc(2026, 3, 27, 9), utc(2026, 3, 30, 8))

    assert [(s.start, s.end, s.user_ids) for s in shifts] == [
        (utc(2026, 3, 27, 9), utc(2026, 3, 28, 9), (ALICE,)),  # 09:00 GMT
        (utc(2026, 3, 28, 9), utc(2026, 3, 29, 8), (BOB,)),  # 23 hours: clocks go forward
        (utc(2026, 3, 29, 8), utc(2026, 3, 30, 8), (CAROL,)),  # 09:00 BST
    ]


def test_the_shift_over_the_autumn_change_in_new_york_is_25_hours() -> None:
    layer = daily(date(2026, 10, 30), users=(ALICE, BOB))
    schedule = ScheduleSpec("America/New_York", (layer,))

    turns = layer_shifts(schedule, layer, utc(2026, 10, 30), utc(2026, 11, 3))

    assert [t.end - t.start for t in turns[:-1]] == [timedelta(hours=h) for h in (24, 25, 24)]
    new_york = ZoneInfo("America/New_York")
    assert {t.start.astimezone(new_york).hour for t in turns[1:]} == {9}


def test_a_weekly_rotation_gives_each_user_seven_days_in_turn() -> None:
    layer = daily(date(2026, 1, 5), turn="weekly", users=(ALICE, BOB))
    schedule = ScheduleSpec("UTC", (layer,))

    assert who_is_on_call(schedule, utc(2026, 1, 12, 8, 59)).user_ids == (ALICE,)
    answer = who_is_on_call(schedule, utc(2026, 1, 12, 9))
    assert answer.user_ids == (BOB,)
    assert answer.since == utc(2026, 1, 12, 9)
    assert answer.until == utc(2026, 1, 19, 9)
    assert who_is_on_call(schedule, utc(2026, 1, 19, 9)).user_ids == (ALICE,)


def test_nobody_is_on_call_before_the_first_turn() -> None:
    schedule = ScheduleSpec("UTC", (daily(date(2026, 1, 5)),))

    answer = who_is_on_call(schedule, utc(2026, 1, 1))

    assert answer.user_ids == () and answer.source == ""
    assert answer.since is None
    assert answer.until == utc(2026, 1, 5, 9)


def test_a_single_user_around_the_clock_is_on_call_until_further_notice() -> None:
    schedule = ScheduleSpec("UTC", (daily(date(2026, 1, 5), users=(ALICE,)),))

    answer = who_is_on_call(schedule, utc(2026, 6, 1))

    assert answer.user_ids == (ALICE,)
    assert answer.since == utc(2026, 1, 5, 9)
    assert answer.until is None


def test_a_business_hours_layer_wins_on_weekdays_and_the_base_layer_covers_the_rest() -> None:
    base = daily(date(2026, 1, 1), users=(ALICE,), name="base")
    office = daily(date(2026, 1, 1), users=(BOB,), name="office", position=1,
                   restrict_weekdays=(0, 1, 2, 3, 4), restrict_start=time(9),
                   restrict_end=time(17))  # fmt: skip
    schedule = ScheduleSpec("Europe/London", (base, office))

    friday = who_is_on_call(schedule, datetime(2026, 7, 3, 12, tzinfo=LONDON))
    friday_night = who_is_on_call(schedule, datetime(2026, 7, 3, 18, tzinfo=LONDON))
    saturday = who_is_on_call(schedule, datetime(2026, 7, 4, 12, tzinfo=LONDON))

    assert (friday.user_ids, friday.source) == ((BOB,), "office")
    assert friday.until == datetime(2026, 7, 3, 17, tzinfo=LONDON)
    assert (friday_night.user_ids, friday_night.source) == ((ALICE,), "base")
    assert friday_night.until == datetime(2026, 7, 6, 9, tzinfo=LONDON)  # Monday morning
    assert saturday.user_ids == (ALICE,)


def test_a_night_window_wraps_past_midnight_and_belongs_to_the_day_it_opens() -> None:
    nights = daily(date(2026, 1, 1), users=(CAROL,), restrict_weekdays=(4,),
                   restrict_start=time(22), restrict_end=time(6))  # fmt: skip
    schedule = ScheduleSpec("UTC", (nights,))

    assert who_is_on_call(schedule, utc(2026, 7, 3, 23)).user_ids == (CAROL,)  # Friday night
    assert who_is_on_call(schedule, utc(2026, 7, 4, 5, 59)).user_ids == (CAROL,)  # Sat 05:59
    assert who_is_on_call(schedule, utc(2026, 7, 4, 6)).user_ids == ()
    assert who_is_on_call(schedule, utc(2026, 7, 4, 23)).user_ids == ()  # Saturday night
    assert who_is_on_call(schedule, utc(2026, 7, 3, 5)).user_ids == ()  # Thursday's night


def test_an_override_beats_every_layer_and_overlapping_ones_add_up_in_start_order() -> None:
    top = daily(date(2026, 1, 1), users=(ALICE,), position=5)
    overrides = (
        OverrideSpec(DAN, utc(2026, 2, 1, 12), utc(2026, 2, 1, 18)),
        OverrideSpec(CAROL, utc(2026, 2, 1, 10), utc(2026, 2, 1, 14)),
    )
    schedule = ScheduleSpec("UTC", (top,), overrides)

    assert who_is_on_call(schedule, utc(2026, 2, 1, 11)).user_ids == (CAROL,)
    both = who_is_on_call(schedule, utc(2026, 2, 1, 13))
    assert (both.user_ids, both.source) == ((CAROL, DAN), "override")
    assert (both.since, both.until) == (utc(2026, 2, 1, 12), utc(2026, 2, 1, 14))
    after = who_is_on_call(schedule, utc(2026, 2, 1, 18))
    assert (after.user_ids, after.source, after.until) == ((ALICE,), "primary", None)


def test_a_kathmandu_handoff_at_nine_is_0315_utc() -> None:
    schedule = ScheduleSpec("Asia/Kathmandu", (daily(date(2026, 1, 1), users=(ALICE, BOB)),))

    answer = who_is_on_call(schedule, utc(2026, 1, 2, 3, 14))

    assert answer.user_ids == (ALICE,)
    assert answer.until == utc(2026, 1, 2, 3, 15)


def test_a_kolkata_handoff_at_nine_is_0330_utc() -> None:
    schedule = ScheduleSpec("Asia/Kolkata", (daily(date(2026, 1, 1), users=(ALICE, BOB)),))

    assert who_is_on_call(schedule, utc(2026, 1, 2, 3, 30)).user_ids == (BOB,)


def test_twelve_hour_turns_stay_twelve_real_hours_when_the_clocks_change() -> None:
    layer = daily(date(2026, 3, 28), turn="hours", turn_hours=12, users=(ALICE, BOB))
    schedule = ScheduleSpec("Europe/London", (layer,))

    turns = layer_shifts(schedule, layer, utc(2026, 3, 28), utc(2026, 3, 31))

    assert all(t.end - t.start == timedelta(hours=12) for t in turns[:-1])
    assert turns[0].start.astimezone(LONDON).hour == 9
    assert turns[4].start.astimezone(LONDON).hour == 10  # 48 real hours on: 10:00 BST


def test_the_highest_layer_wins_and_ties_go_to_the_first_listed() -> None:
    low = daily(date(2026, 1, 1), users=(ALICE,), name="low", position=0)
    first = daily(date(2026, 1, 1), users=(BOB,), name="first", position=3)
    second = daily(date(2026, 1, 1), users=(CAROL,), name="second", position=3)

    answer = who_is_on_call(ScheduleSpec("UTC", (low, first, second)), utc(2026, 5, 5))

    assert (answer.user_ids, answer.source) == ((BOB,), "first")


def test_final_shifts_cover_the_window_with_gaps_marked_as_nobody() -> None:
    schedule = ScheduleSpec("UTC", (daily(date(2026, 1, 3), users=(ALICE,)),))

    shifts = final_shifts(schedule, utc(2026, 1, 1), utc(2026, 1, 5))

    assert [(s.start, s.end, s.user_ids, s.source) for s in shifts] == [
        (utc(2026, 1, 1), utc(2026, 1, 3, 9), (), ""),
        (utc(2026, 1, 3, 9), utc(2026, 1, 5), (ALICE,), "primary"),
    ]


def test_fourteen_days_of_hourly_turns_are_computed_arithmetically() -> None:
    layers = tuple(
        daily(date(2025, 1, 1), turn="hours", turn_hours=1, users=(ALICE, BOB, CAROL),
              name=f"l{i}", position=i, restrict_start=time(8), restrict_end=time(20))
        for i in range(5)
    )  # fmt: skip
    schedule = ScheduleSpec("Europe/London", layers)

    started = clock.perf_counter()
    shifts = final_shifts(schedule, utc(2026, 3, 20), utc(2026, 4, 3))
    elapsed = clock.perf_counter() - started

    assert len(shifts) == 14 * 12 + 15  # 12 one-hour turns a day, 15 nights (gaps)
    assert elapsed < 0.5


def test_naive_datetimes_are_refused() -> None:
    schedule = ScheduleSpec("UTC", ())
    with pytest.raises(ValueError, match="aware"):
        who_is_on_call(schedule, datetime(2026, 1, 1))


def test_an_empty_schedule_has_nobody_forever() -> None:
    answer = who_is_on_call(ScheduleSpec("UTC", ()), utc(2026, 1, 1))
    assert (answer.user_ids, answer.since, answer.until, answer.source) == ((), None, None, "")
