"""The on-call check: for every schedule of both fakes, Klaxon's answer at 200 instants
over the next 30 days equals the source's own answer; a wrong conversion is caught and
shown with the instant and both answers."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from importers.oncall import oncall_plan
from importers.oncall_api import OnCallClient, fetch_oncall
from importers.opsgenie import opsgenie_plan
from importers.opsgenie_api import OpsgenieClient, fetch_opsgenie
from importers.verify import (
    check_plan,
    describe_checks,
    oncall_answers,
    opsgenie_answers,
    sample_times,
)
from tests.fakes.json_api import Reply
from tests.fakes.opsgenie_server import FakeOpsgenie
from tests.importers.conftest import NOW


def test_every_opsgenie_schedule_agrees_at_all_200_instants(
    opsgenie_client: OpsgenieClient,
) -> None:
    plan = opsgenie_plan(fetch_opsgenie(opsgenie_client))

    checks = check_plan(plan, opsgenie_answers(opsgenie_client, plan), now=NOW)

    assert [(c.name, c.agreeing, c.total) for c in checks] == [
        ("Platform_schedule", 200, 200),
        ("Payments_daily", 200, 200),
        ("SRE_follow_the_sun", 200, 200),
    ]
    assert "Platform_schedule: 200/200 agree (agrees)" in describe_checks(checks, plan)


def test_every_oncall_schedule_agrees_at_all_200_instants(oncall_client: OnCallClient) -> None:
    plan = oncall_plan(fetch_oncall(oncall_client))

    checks = check_plan(plan, oncall_answers(oncall_client), now=NOW)

    assert [(c.name, c.agreeing, c.total) for c in checks] == [
        ("SRE primary", 200, 200),
        ("Payments secondary", 200, 200),
        ("Ops calendar", 200, 200),
    ]


def test_a_wrong_handoff_is_caught_and_shown_with_both_answers(
    opsgenie_client: OpsgenieClient,
) -> None:
    plan = opsgenie_plan(fetch_opsgenie(opsgenie_client))
    payments = plan.schedules[1]
    late = tuple(dataclasses.replace(layer, handoff_time=layer.handoff_time.replace(hour=9))
                 for layer in payments.layers)  # fmt: skip
    wrong = dataclasses.replace(plan, schedules=(dataclasses.replace(payments, layers=late),))

    (check,) = check_plan(wrong, opsgenie_answers(opsgenie_client, wrong), now=NOW)

    assert not check.agrees and 0 < check.agreeing < 200
    first = check.disagreements[0]
    assert first.klaxon != first.source
    text = describe_checks([check], wrong)
    assert "Payments_daily: " in text and "DIFFERS" in text
    assert f"at {first.at:%Y-%m-%d %H:%M} UTC Klaxon says " in text


def test_a_schedule_the_source_cannot_answer_for_is_reported_not_checked(
    opsgenie: FakeOpsgenie, opsgenie_client: OpsgenieClient
) -> None:
    plan = opsgenie_plan(fetch_opsgenie(opsgenie_client))
    opsgenie.fail_with(Reply(403, {"message": "Forbidden"}))

    check = check_plan(plan, opsgenie_answers(opsgenie_client, plan), now=NOW)[0]

    assert not check.agrees
    assert "the API key was refused" in describe_checks([check], plan)


def test_samples_include_every_boundary_and_spread_evenly_over_the_window() -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    end = start + timedelta(days=30)
    handoffs = [start + timedelta(days=d, hours=9) for d in range(30)]

    times = sample_times(start, end, [*handoffs, end + timedelta(days=1)], 200)

    assert len(times) == len(set(times)) == 200
    assert times == sorted(times) and start <= times[0] and times[-1] < end
    assert set(handoffs) <= set(times)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert max(gaps) < timedelta(hours=8)


def test_with_more_boundaries_than_samples_an_even_selection_of_them_is_kept() -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    hourly = [start + timedelta(hours=h) for h in range(720)]

    times = sample_times(start, start + timedelta(days=30), hourly, 200)

    assert len(times) == 200 and set(times) <= set(hourly)
    assert times[0] == start and times[-1] > start + timedelta(days=29)
