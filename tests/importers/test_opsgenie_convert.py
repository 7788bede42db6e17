"""Opsgenie data -> import plan: each documented rotation type, restriction and
participant, overrides, escalations, heartbeats and integrations, and what cannot be
mapped (with the reason a person would read)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import pytest

from importers.opsgenie import opsgenie_plan
from importers.plan import ImportPlan, PlannedRule, PlannedStep
from schedules.oncall import WeeklyWindow, who_is_on_call
from tests.fakes.opsgenie_server import recorded_export

ALICE, BOB = "u-alice", "u-bob"


def user(uid: str, name: str, **fields: Any) -> dict[str, Any]:
    return {"id": uid, "username": f"{name}@example.com", "fullName": name.title(),
            "role": {"id": "User", "name": "User"}, **fields}  # fmt: skip


def person(uid: str) -> dict[str, str]:
    return {"type": "user", "id": uid, "username": f"{uid}@example.com"}


def rotation(**fields: Any) -> dict[str, Any]:
    base = {
        "id": "rot-1",
        "name": "Primary",
        "startDate": "2026-01-05T09:00:00Z",
        "type": "weekly",
        "length": 1,
        "participants": [person(ALICE), person(BOB)],
    }
    return base | fields


def plan_for(*rotations: dict[str, Any], overrides: Any = (), zone: str = "UTC") -> ImportPlan:
    schedule = {"id": "sch-1", "name": "Ops", "timezone": zone, "enabled": True,
                "rotations": list(rotations), "overrides": list(overrides)}  # fmt: skip
    return opsgenie_plan(
        {"users": [user(ALICE, "alice"), user(BOB, "bob")], "schedules": [schedule]}
    )


def whys(plan: ImportPlan) -> list[str]:
    return [f"{u.what}: {u.why}" for u in plan.unmapped]


def on_call(plan: ImportPlan, at: datetime) -> set[str]:
    ids = plan.user_ids()
    names = {v: k for k, v in ids.items()}
    answer = who_is_on_call(plan.schedules[0].spec(ids), at)
    return {names[u] for u in answer.user_ids}


# ------------------------------------------------------------------------ rotations


@pytest.mark.parametrize(
    ("kind", "length", "turn", "turn_hours", "turn_length"),
    [
        ("daily", 2, "daily", None, 2),
        ("weekly", 3, "weekly", None, 3),
        ("hourly", 8, "hours", 8, 1),
    ],
)
def test_each_rotation_type_becomes_the_matching_turn(
    kind: str, length: int, turn: str, turn_hours: int | None, turn_length: int
) -> None:
    (layer,) = plan_for(rotation(type=kind, length=length)).schedules[0].layers

    assert (layer.turn, layer.turn_hours, layer.turn_length) == (turn, turn_hours, turn_length)


def test_the_handoff_is_the_start_dates_local_time_in_the_schedules_zone() -> None:
    start = "2026-01-05T13:00:00Z"  # 08:00 in New York (EST)
    (layer,) = plan_for(rotation(startDate=start), zone="America/New_York").schedules[0].layers

    assert (layer.start, layer.handoff_time) == (date(2026, 1, 5), time(8))


def test_a_none_participant_is_a_turn_with_nobody() -> None:
    plan = plan_for(rotation(type="daily", participants=[person(ALICE), {"type": "none"}]))

    assert plan.schedules[0].layers[0].user_source_ids == (ALICE, None)
    assert on_call(plan, datetime(2026, 1, 6, 12, tzinfo=UTC)) == set()
    assert not plan.unmapped


@pytest.mark.parametrize("kind", ["team", "escalation"])
def test_a_team_or_escalation_participant_leaves_its_turns_empty_and_says_why(kind: str) -> None:
    participants = [person(ALICE), {"type": kind, "id": "x-1", "name": "DBAs"}]
    plan = plan_for(rotation(participants=participants))

    assert plan.schedules[0].layers[0].user_source_ids == (ALICE, None)
    assert whys(plan) == [
        "rotation participant: Klaxon rotations hold people; this participant's turns are "
        "left empty"
    ]


def test_a_time_of_day_restriction_is_a_daily_window_that_may_cross_midnight() -> None:
    nights = {
        "type": "time-of-day",
        "restriction": {"startHour": 22, "startMin": 30, "endHour": 6, "endMin": 0},
    }
    plan = plan_for(rotation(timeRestriction=nights))

    layer = plan.schedules[0].layers[0]
    assert (layer.restrict_weekdays, layer.restrict_start, layer.restrict_end) == (
        (),
        time(22, 30),
        time(6),
    )
    assert on_call(plan, datetime(2026, 1, 7, 3, tzinfo=UTC)) == {ALICE}
    assert on_call(plan, datetime(2026, 1, 7, 12, tzinfo=UTC)) == set()


def test_weekday_ranges_become_weekly_windows_that_span_days() -> None:
    ranges = {"type": "weekday-and-time-of-day", "restrictions": [
        {"startDay": "monday", "startHour": 9, "startMin": 0,
         "endDay": "friday", "endHour": 17, "endMin": 30},
        {"startDay": "saturday", "startHour": 10, "startMin": 0,
         "endDay": "saturday", "endHour": 14, "endMin": 0}]}  # fmt: skip
    plan = plan_for(rotation(timeRestriction=ranges))

    assert plan.schedules[0].layers[0].windows == (
        WeeklyWindow(0, time(9), 4, time(17, 30)),
        WeeklyWindow(5, time(10), 5, time(14)),
    )
    assert on_call(plan, datetime(2026, 1, 7, 2, tzinfo=UTC)) == {ALICE}  # Wednesday night
    assert on_call(plan, datetime(2026, 1, 9, 18, tzinfo=UTC)) == set()  # Friday evening


def test_an_undocumented_restriction_type_is_not_guessed() -> None:
    plan = plan_for(rotation(timeRestriction={"type": "moon-phase"}))

    assert plan.schedules[0].layers == ()
    assert whys(plan) == ["rotation: time restriction 'moon-phase' is not one Opsgenie documents"]


def test_an_end_date_ends_the_layer_and_a_disabled_rotation_is_left_out() -> None:
    plan = plan_for(
        rotation(endDate="2026-02-01T09:00:00Z"),
        rotation(id="rot-2", name="Old", enabled=False),
    )

    (layer,) = plan.schedules[0].layers
    assert layer.end == datetime(2026, 2, 1, 9, tzinfo=UTC)
    assert whys(plan) == ["rotation: disabled: not imported"]


def test_all_rotations_are_on_call_together_and_keep_distinct_names() -> None:
    plan = plan_for(rotation(), rotation(id="rot-2", participants=[person(BOB)]))

    schedule = plan.schedules[0]
    assert schedule.ties == "together"
    assert [(layer.name, layer.position) for layer in schedule.layers] == [
        ("Primary", 0), ("Primary (2)", 0),
    ]  # fmt: skip
    assert on_call(plan, datetime(2026, 1, 6, tzinfo=UTC)) == {ALICE, BOB}


def test_overrides_replace_everyone_or_only_the_named_rotations() -> None:
    everywhere = {
        "alias": "all",
        "user": person(BOB),
        "rotations": [],
        "startDate": "2026-01-06T00:00:00Z",
        "endDate": "2026-01-07T00:00:00Z",
    }
    scoped = {
        "alias": "one",
        "user": {"type": "none"},
        "rotations": [{"id": "rot-2"}],
        "startDate": "2026-01-08T00:00:00Z",
        "endDate": "2026-01-09T00:00:00Z",
    }
    plan = plan_for(
        rotation(participants=[person(ALICE)]),
        rotation(id="rot-2", name="Backup", participants=[person(BOB)]),
        overrides=[everywhere, scoped],
    )

    all_of_them, one = plan.schedules[0].overrides
    assert (all_of_them.user_source_id, all_of_them.layers) == (BOB, ())
    assert (one.user_source_id, one.layers) == (None, ("Backup",))
    assert on_call(plan, datetime(2026, 1, 6, 12, tzinfo=UTC)) == {BOB}
    assert on_call(plan, datetime(2026, 1, 8, 12, tzinfo=UTC)) == {ALICE}


def test_an_override_by_a_team_is_not_mapped() -> None:
    by_team = {"alias": "t", "user": {"type": "team", "id": "t-1"}, "rotations": [],
               "startDate": "2026-01-06T00:00:00Z", "endDate": "2026-01-07T00:00:00Z"}  # fmt: skip
    plan = plan_for(rotation(), overrides=[by_team])

    assert plan.schedules[0].overrides == ()
    assert whys(plan) == ["override: a team as override: Klaxon overrides name a person"]


def test_a_schedule_in_an_unknown_zone_is_not_imported() -> None:
    plan = plan_for(rotation(), zone="Mars/Olympus_Mons")

    assert plan.schedules == ()
    assert whys(plan) == ["schedule: time zone 'Mars/Olympus_Mons' is not an IANA zone"]


# ------------------------------------------------------------------- users and teams


def test_users_keep_their_phones_in_e164_and_rules_for_new_and_closed_alerts() -> None:
    plan = opsgenie_plan(recorded_export())

    alice = plan.users[0]
    assert (alice.username, alice.full_name, alice.role) == (
        "alice@example.com",
        "Alice Adams",
        "admin",
    )
    assert alice.phones == ("+447700900101",)
    assert alice.rules == (
        PlannedRule("triggered", "sms", 0, "+447700900101"),
        PlannedRule("triggered", "voice", 5, "+447700900101"),
        PlannedRule("triggered", "email", 10, "alice@example.com"),
        PlannedRule("resolved", "email", 0, "alice@example.com"),
    )
    assert plan.users[2].emails == ("carol.chen@home.example",)
    assert plan.users[5].role == "viewer"  # an Observer


def test_contacts_and_rules_klaxon_cannot_use_are_listed_with_the_reason() -> None:
    plan = opsgenie_plan(recorded_export())

    reasons = whys(plan)
    assert "contact: Klaxon pages by SMS, voice and email, not this" in reasons  # mobile app
    assert "contact: not a phone number with its country code" in reasons  # "0-12"
    assert (
        "notification rule: acknowledged-alert: Klaxon notifies when incidents trigger or resolve"
    ) in reasons
    assert "notification rule: its conditions or time restriction were dropped: the steps " \
        "apply always" in reasons  # fmt: skip


def test_teams_keep_their_members_with_admins_as_admins() -> None:
    platform = opsgenie_plan(recorded_export()).teams[0]

    assert platform.name == "Platform"
    assert [(m.user_source_id[:8], m.role) for m in platform.members] == [
        ("4513b7ea", "admin"), ("8d9f4b21", "responder"), ("b2f0d6c4", "responder"),
    ]  # fmt: skip


# ---------------------------------------------------- escalations, heartbeats, integrations


def test_escalation_rule_delays_from_creation_become_waits_between_steps() -> None:
    export = recorded_export()
    schedule_id = export["schedules"][0]["id"]
    bob, payments = export["users"][1]["id"], export["teams"][1]["id"]

    policy = opsgenie_plan(export).policies[0]

    assert policy.steps == (
        PlannedStep(delay_minutes=5, schedule_source_ids=(schedule_id,)),
        PlannedStep(delay_minutes=10, user_source_ids=(bob,)),
        PlannedStep(delay_minutes=10, team_source_ids=(payments,)),  # then repeat.waitInterval
    )
    assert policy.repeat == 2


def test_a_first_rule_after_a_delay_starts_with_an_empty_wait_and_repeats_are_capped() -> None:
    escalation = {
        "id": "esc-1", "name": "Slow",
        "rules": [{"condition": "if-not-acked", "notifyType": "default",
                   "delay": {"timeAmount": 2, "timeUnit": "hours"},
                   "recipient": {"type": "user", "id": ALICE}}],
        "repeat": {"waitInterval": 30, "count": 15},
    }  # fmt: skip
    plan = opsgenie_plan({"users": [user(ALICE, "alice")], "escalations": [escalation]})

    (policy,) = plan.policies
    assert policy.steps == (
        PlannedStep(delay_minutes=120),
        PlannedStep(delay_minutes=30, user_source_ids=(ALICE,)),
    )
    assert policy.repeat == 9
    assert whys(plan) == ["escalation: repeats 15 times: Klaxon repeats at most 9"]


def test_escalation_rules_klaxon_cannot_follow_are_listed() -> None:
    reasons = whys(opsgenie_plan(recorded_export()))

    assert "escalation rule: next on-call: Klaxon pages who is on call now" in reasons
    assert "escalation rule: if-not-closed: Klaxon escalates until acknowledged" in reasons


def test_heartbeats_keep_name_interval_and_state() -> None:
    backup, canary = opsgenie_plan(recorded_export()).heartbeats

    assert (backup.source_id, backup.interval_seconds, backup.grace_seconds, backup.enabled) == (
        "nightly-backup",
        25 * 3600,
        0,
        True,
    )
    assert (canary.interval_seconds, canary.enabled) == (300, False)


def test_integrations_map_to_klaxon_kinds_and_email_is_not_mapped() -> None:
    plan = opsgenie_plan(recorded_export())

    assert [(i.name, i.kind, i.enabled) for i in plan.integrations] == [
        ("Default API", "opsgenie", True), ("AWS alarms", "aws_sns", True),
        ("Prometheus", "alertmanager", True), ("Datadog", "webhook", False),
    ]  # fmt: skip
    assert "no Klaxon source for Datadog" in plan.integrations[3].note
    assert "integration: email integration: Klaxon has no inbound email" in whys(plan)


def test_a_malformed_object_is_listed_and_the_rest_still_imported() -> None:
    plan = opsgenie_plan({"users": [{"username": "no-id@example.com"}, user(ALICE, "alice")]})

    assert [u.source_id for u in plan.users] == [ALICE]
    assert plan.unmapped[0].what == "user"
    assert "malformed in the source data (KeyError('id'))" in plan.unmapped[0].why


def test_the_dry_run_text_lists_what_would_be_created_and_what_not() -> None:
    text = opsgenie_plan(recorded_export()).describe()

    assert "  3 schedules" in text
    assert "After hours: every 2 days at 17:00 from 2026-01-05: carol@example.com, nobody, " \
        "bob@example.com" in text  # fmt: skip
    assert "integration Support mailbox: email integration: Klaxon has no inbound email" in text
