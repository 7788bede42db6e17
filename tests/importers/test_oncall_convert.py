"""Grafana OnCall data -> import plan: shift types and recurrences, levels, groups,
iCal calendars, escalation chains, rules and integrations, and what cannot be mapped."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import pytest

from importers.oncall import oncall_plan
from importers.plan import ImportPlan, PlannedRule, PlannedStep
from schedules.oncall import WeeklyWindow, who_is_on_call
from tests.fakes.oncall_server import recorded_export

ALICE, BOB, CAROL = "UALICE", "UBOB", "UCAROL"
USERS = [
    {"id": uid, "username": name, "email": f"{name}@example.com", "role": "editor", "teams": []}
    for uid, name in ((ALICE, "alice"), (BOB, "bob"), (CAROL, "carol"))
]


def rolling(**fields: Any) -> dict[str, Any]:
    base = {"id": "O1", "name": "Primary", "type": "rolling_users", "level": 0,
            "start": "2026-01-05T09:00:00", "duration": 604800, "frequency": "weekly",
            "interval": 1, "week_start": "MO", "rolling_users": [[ALICE], [BOB]],
            "start_rotation_from_user_index": 0}  # fmt: skip
    return base | fields


def plan_for(*shifts: dict[str, Any], zone: str = "UTC", **schedule: Any) -> ImportPlan:
    raw = {"id": "S1", "name": "Ops", "type": "web", "time_zone": zone,
           "on_call_shifts": list(shifts)} | schedule  # fmt: skip
    return oncall_plan({"users": USERS, "schedules": [raw]})


def on_call(plan: ImportPlan, at: datetime) -> set[str]:
    ids = plan.user_ids()
    names = {v: k for k, v in ids.items()}
    return {names[u] for u in who_is_on_call(plan.schedules[0].spec(ids), at).user_ids}


def whys(plan: ImportPlan) -> list[str]:
    return [f"{u.what}: {u.why}" for u in plan.unmapped]


# --------------------------------------------------------------------------- shifts


def test_weekly_rolling_users_hand_over_every_week_at_the_start_time() -> None:
    plan = plan_for(rolling(), zone="Europe/Berlin")

    (layer,) = plan.schedules[0].layers
    assert (layer.turn, layer.start, layer.handoff_time) == ("weekly", date(2026, 1, 5), time(9))
    assert layer.user_source_ids == (ALICE, BOB)
    assert on_call(plan, datetime(2026, 1, 12, 8, 30, tzinfo=UTC)) == {BOB}  # 09:30 Berlin


def test_the_rotation_starts_from_the_given_user_index() -> None:
    plan = plan_for(
        rolling(rolling_users=[[ALICE], [BOB], [CAROL]], start_rotation_from_user_index=2)
    )

    assert plan.schedules[0].layers[0].user_source_ids == (CAROL, ALICE, BOB)


def test_a_group_of_several_users_puts_them_all_on_call_with_a_gap_where_a_group_is_short() -> (
    None
):
    plan = plan_for(rolling(rolling_users=[[ALICE, BOB], [CAROL]]))

    first, second = plan.schedules[0].layers
    assert (first.user_source_ids, second.user_source_ids) == ((ALICE, CAROL), (BOB, None))
    assert plan.schedules[0].ties == "together"
    assert on_call(plan, datetime(2026, 1, 6, tzinfo=UTC)) == {ALICE, BOB}
    assert on_call(plan, datetime(2026, 1, 13, tzinfo=UTC)) == {CAROL}


def test_a_shorter_daily_shift_is_a_daily_window() -> None:
    evenings = rolling(frequency="daily", start="2026-01-01T20:00:00", duration=4 * 3600)
    (layer,) = plan_for(evenings).schedules[0].layers

    assert (layer.turn, layer.restrict_start, layer.restrict_end) == ("daily", time(20), time(0))


def test_weekly_rotations_on_chosen_days_hand_over_at_the_week_start() -> None:
    weekdays = rolling(by_day=["MO", "WE"], duration=8 * 3600, start="2026-01-07T09:00:00",
                       week_start="SU")  # fmt: skip
    (layer,) = plan_for(weekdays).schedules[0].layers

    assert layer.start == date(2026, 1, 4)  # the Sunday that starts the week of the 7th
    assert layer.windows == (
        WeeklyWindow(0, time(9), 0, time(17)),
        WeeklyWindow(2, time(9), 2, time(17)),
    )
    assert layer.begin == datetime(2026, 1, 7, 9, tzinfo=UTC)


def test_daily_rotations_on_chosen_days_walk_the_chosen_days_one_group_after_another() -> None:
    business = rolling(frequency="daily", by_day=["MO", "TU", "WE", "TH", "FR"], duration=8 * 3600)
    plan = plan_for(business)

    monday = plan.schedules[0].layers[0]
    assert (monday.name, monday.turn, monday.user_source_ids) == (
        "Primary MO",
        "weekly",
        (ALICE, BOB),
    )
    assert [on_call(plan, datetime(2026, 1, d, 12, tzinfo=UTC)) for d in (9, 12, 13)] == [
        {ALICE}, {BOB}, {ALICE},  # Fri, then Mon continues with the next group
    ]  # fmt: skip


def test_an_hourly_rotation_restarted_later_begins_again_with_the_first_group() -> None:
    twelve = rolling(
        frequency="hourly",
        interval=12,
        duration=12 * 3600,
        start="2026-01-01T08:00:00",
        rotation_start="2026-01-03T08:00:00",
    )
    (layer,) = plan_for(twelve).schedules[0].layers

    assert (layer.turn, layer.turn_hours, layer.start, layer.handoff_time) == (
        "hours",
        12,
        date(2026, 1, 3),
        time(8),
    )
    assert on_call(plan_for(twelve), datetime(2026, 1, 3, 9, tzinfo=UTC)) == {ALICE}


def test_levels_become_positions_and_the_higher_level_wins() -> None:
    plan = plan_for(
        rolling(), rolling(id="O2", name="Cover", level=2, rolling_users=[[CAROL]],
                           frequency="daily", duration=3600, start="2026-01-05T12:00:00"),
    )  # fmt: skip

    assert [layer.position for layer in plan.schedules[0].layers] == [0, 2]
    assert on_call(plan, datetime(2026, 1, 6, 12, 30, tzinfo=UTC)) == {CAROL}
    assert on_call(plan, datetime(2026, 1, 6, 14, tzinfo=UTC)) == {ALICE}


def test_recurrent_and_single_events_and_overrides() -> None:
    weekends = {
        "id": "O3",
        "name": "Weekends",
        "type": "recurrent_event",
        "level": 1,
        "start": "2026-01-03T00:00:00",
        "duration": 86400,
        "frequency": "weekly",
        "interval": 1,
        "week_start": "MO",
        "by_day": ["SA", "SU"],
        "users": [BOB, CAROL],
    }
    once = {
        "id": "O4",
        "name": "Once",
        "type": "single_event",
        "level": 3,
        "start": "2026-01-10T10:00:00",
        "duration": 7200,
        "users": [ALICE],
    }
    cover = {"id": "O5", "name": "Cover", "type": "override", "start": "2026-01-10T11:00:00",
             "duration": 600, "users": [CAROL]}  # fmt: skip
    plan = plan_for(weekends, once, cover)

    assert on_call(plan, datetime(2026, 1, 10, 9, tzinfo=UTC)) == {BOB, CAROL}
    assert on_call(plan, datetime(2026, 1, 10, 10, 30, tzinfo=UTC)) == {ALICE}
    assert on_call(plan, datetime(2026, 1, 10, 11, 5, tzinfo=UTC)) == {CAROL}
    assert on_call(plan, datetime(2026, 1, 12, 9, tzinfo=UTC)) == set()


def test_a_shift_in_its_own_zone_keeps_it_on_the_layer() -> None:
    (layer,) = plan_for(rolling(time_zone="Asia/Tokyo"), zone="Europe/Berlin").schedules[0].layers

    assert layer.time_zone == "Asia/Tokyo"


@pytest.mark.parametrize(
    ("shift", "why"),
    [
        (rolling(frequency="monthly"), "monthly rotations: Klaxon turns are days, weeks or hours"),
        (rolling(by_monthday=[1, 15]), "months or month days"),
        (
            rolling(frequency="daily", interval=2, duration=3600),
            "on call for 1:00:00 at the start",
        ),
        (rolling(by_day=["MO"], interval=2, duration=3600), "Klaxon's windows repeat every week"),
        (rolling(frequency="hourly", by_day=["MO"], duration=3600), "hourly repeats limited"),
        (
            rolling(by_day=["SU"], week_start="MO", duration=2 * 86400),
            "the SU occurrence runs past the weekly handoff on MO",
        ),
        (rolling(duration=0), "its duration is not positive"),
    ],
)
def test_recurrences_klaxon_cannot_express_are_listed_with_the_reason(
    shift: dict[str, Any], why: str
) -> None:
    plan = plan_for(shift)

    assert plan.schedules[0].layers == ()
    (item,) = plan.unmapped
    assert (item.what, item.source_id) == ("shift", "Ops/Primary")
    assert why in item.why


def test_unknown_users_in_a_shift_are_left_out_and_listed() -> None:
    plan = plan_for(rolling(rolling_users=[[ALICE], ["UGHOST"]]))

    assert plan.schedules[0].layers[0].user_source_ids == (ALICE, None)
    assert whys(plan) == ["shift user: unknown user; left out"]


# ---------------------------------------------------------------------------- iCal

ICAL = "\r\n".join([
    "BEGIN:VCALENDAR", "VERSION:2.0",
    "BEGIN:VEVENT", "UID:a", "SUMMARY:[L2] alice bob@example.com",
    "DTSTART;TZID=Europe/London:20260105T090000", "DTEND;TZID=Europe/London:20260105T170000",
    "RRULE:FREQ=WEEKLY;BYDAY=MO,TU;WKST=MO", "END:VEVENT",
    "BEGIN:VEVENT", "UID:b", "SUMMARY:carol", "DTSTART:20260101T000000Z",
    "DURATION:P1D", "RRULE:FREQ=DAILY", "EXDATE:20260102T000000Z", "END:VEVENT",
    "BEGIN:VEVENT", "UID:c", "SUMMARY:nobody-we-know", "DTSTART:20260101T000000Z",
    "DTEND:20260101T010000Z", "END:VEVENT",
    "END:VCALENDAR",
])  # fmt: skip


def test_ical_events_name_their_users_and_level_in_the_summary() -> None:
    plan = plan_for(type="ical", ical_primary=ICAL)

    first, second = plan.schedules[0].layers[:2]
    assert (first.position, first.user_source_ids, second.user_source_ids) == (2, (ALICE,), (BOB,))
    assert first.time_zone == "Europe/London"
    assert first.windows == (
        WeeklyWindow(0, time(9), 0, time(17)),
        WeeklyWindow(1, time(9), 1, time(17)),
    )


def test_ical_events_klaxon_cannot_express_are_listed() -> None:
    reasons = whys(plan_for(type="ical", ical_primary=ICAL))

    assert "shift: EXDATE: moved or cancelled occurrences cannot be expressed" in reasons
    assert "iCal event: 'nobody-we-know' names someone who is not an OnCall user" in reasons


def test_an_ical_schedule_whose_calendar_could_not_be_read_is_not_imported() -> None:
    plan = plan_for(type="ical", ical_error="the iCal URL answered HTTP 403")

    assert plan.schedules == ()
    assert whys(plan) == [
        "schedule: iCal-backed and its calendar cannot be read: the iCal URL answered HTTP 403"
    ]


# ------------------------------------------------------- users, policies, integrations


def test_personal_rules_become_delays_and_phone_numbers_are_asked_for() -> None:
    plan = oncall_plan(recorded_export())

    alice = plan.users[0]
    assert alice.rules == (
        PlannedRule("triggered", "sms", 0, None),
        PlannedRule("triggered", "voice", 5, None),
        PlannedRule("triggered", "email", 15, "alice@example.com"),
    )
    assert alice.role == "admin" and plan.users[5].role == "viewer"
    reasons = whys(plan)
    assert "notification rules: important rules were not imported: Klaxon has one rule list " \
        "per user" in reasons  # fmt: skip
    assert "phone number: OnCall's API does not give phone numbers: add it in Klaxon for the " \
        "SMS and voice rules to work" in reasons  # fmt: skip


def test_team_members_come_from_each_users_teams() -> None:
    sre, payments = oncall_plan(recorded_export()).teams

    assert [m.user_source_id for m in sre.members] == [
        "UALICE7R2K9QF",
        "UBOB4N8W1ZC3M",
        "UCAROL5T6Y7HX",
    ]
    assert len(payments.members) == 4


def test_escalation_chains_group_steps_between_waits_and_repeat() -> None:
    export = recorded_export()
    primary, secondary = (s["id"] for s in export["schedules"][:2])

    sre, payments = oncall_plan(export).policies

    assert sre.steps == (
        PlannedStep(delay_minutes=5, schedule_source_ids=(primary,)),
        PlannedStep(delay_minutes=15, user_source_ids=("UALICE7R2K9QF", "UBOB4N8W1ZC3M")),
        PlannedStep(delay_minutes=0, team_source_ids=("TPAY3H8N6Q1WD",)),
    )
    assert sre.repeat == 5
    assert payments.steps == (
        PlannedStep(delay_minutes=10, user_source_ids=("UDAN2P9L4J8RV",)),
        PlannedStep(delay_minutes=0, schedule_source_ids=(secondary,)),
    )


def test_a_wait_before_anyone_is_paged_is_an_empty_first_step() -> None:
    chain = {"id": "F1", "name": "Later"}
    steps = [
        {"id": "E1", "escalation_chain_id": "F1", "position": 0, "type": "wait", "duration": 900},
        {
            "id": "E2",
            "escalation_chain_id": "F1",
            "position": 1,
            "type": "notify_persons",
            "persons_to_notify": [ALICE],
        },
    ]
    plan = oncall_plan(
        {"users": USERS, "escalation_chains": [chain], "escalation_policies": steps}
    )

    assert plan.policies[0].steps == (
        PlannedStep(delay_minutes=15),
        PlannedStep(delay_minutes=0, user_source_ids=(ALICE,)),
    )


def test_escalation_steps_without_a_klaxon_equivalent_are_listed() -> None:
    reasons = whys(oncall_plan(recorded_export()))

    assert (
        "escalation step: webhook step: Klaxon's outgoing webhooks fire on incident events"
        in reasons
    )
    assert "escalation step: Slack user group: page a Klaxon team instead" in reasons


def test_integrations_keep_their_route_and_old_url() -> None:
    plan = oncall_plan(recorded_export())

    assert [(i.name, i.kind, i.policy_source_id) for i in plan.integrations] == [
        ("Alertmanager prod", "alertmanager", "FSRE6K2J8H4G1"),
        ("Grafana alerts", "alertmanager", "FSRE6K2J8H4G1"),
        ("Deploy hooks", "webhook", "FPAY1M5N9B3V7"),
        ("AWS", "aws_sns", "FPAY1M5N9B3V7"),
        ("Zabbix", "webhook", "FSRE6K2J8H4G1"),
    ]
    assert plan.integrations[0].old_url.startswith("https://oncall.example.com/integrations/v1/")
    reasons = whys(plan)
    assert "integration: email integration: Klaxon has no inbound email" in reasons
    assert "heartbeat: OnCall's API gives the heartbeat's URL but not its timeout: create it " \
        "in Klaxon" in reasons  # fmt: skip
