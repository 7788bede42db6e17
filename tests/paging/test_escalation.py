"""The escalation engine, in process: steps, delays, rounds, targets, stopping, and the
guard against duplicated tasks. Time is passed in (``now=``), never slept."""

from __future__ import annotations

import datetime as dt
from dataclasses import FrozenInstanceError
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Membership, Team, User
from escalation import engine
from escalation.engine import escalation_run_step
from escalation.models import EscalationPolicy
from escalation.snapshot import PolicySnapshot, Ref
from escalation.tasks import escalate, rekick_due_escalations
from incidents.models import Incident, IncidentEvent
from incidents.services import incident_acknowledge, incident_open, incident_resolve
from integrations.models import Integration
from notifications.models import Notification
from schedules.models import Layer, LayerMember, Override, Schedule
from tests.factories import IntegrationFactory, UserFactory
from tests.helpers import T0, lines, make_incident, make_policy

Via = IncidentEvent.Via

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice() -> User:
    return UserFactory(username="alice", phone="+15005550001")


@pytest.fixture
def bob() -> User:
    return UserFactory(username="bob", phone="")


@pytest.fixture
def carol() -> User:
    return UserFactory(username="carol", phone="+15005550003")


def step(incident: Incident, now: datetime) -> str:
    """Run the due step as the queued task would: with the row's current token."""
    incident.refresh_from_db()
    return escalation_run_step(incident_id=incident.pk, token=incident.escalation_token, now=now)


def paged_ids(incident: Incident) -> set[int]:
    notified = incident.events.filter(kind=IncidentEvent.Kind.NOTIFIED)
    return {int(e.data["user_id"]) for e in notified}


def primary_schedule(day_user: User, override_user: User) -> Schedule:
    """``day_user`` on call all the time; ``override_user`` from 09:00 to 10:00 on T0's day."""
    schedule = Schedule.objects.create(name="Primary", time_zone="UTC")
    layer = Layer.objects.create(
        schedule=schedule,
        name="Weekly",
        start=dt.date(2026, 11, 1),
        turn=Layer.Turn.WEEKLY,
        handoff_time=dt.time(9, 0),
    )
    LayerMember.objects.create(layer=layer, user=day_user, position=0)
    Override.objects.create(
        schedule=schedule,
        user=override_user,
        start=T0.replace(hour=9, minute=0),
        end=T0.replace(hour=10, minute=0),
    )
    return schedule


def test_timeline_shows_who_why_and_when_next(alice: User, bob: User, carol: User) -> None:
    ops = Team.objects.create(name="Ops")
    Membership.objects.create(team=ops, user=bob)
    Membership.objects.create(team=ops, user=carol)
    schedule = primary_schedule(day_user=carol, override_user=bob)
    policy = make_policy(
        {"users": [alice], "delay": 5},
        {"schedules": [schedule], "delay": 10},
        {"teams": [ops], "delay": 15},
        repeat=2,
    )
    incident = make_incident(policy)

    assert step(incident, T0) == engine.ESCALATED
    assert step(incident, T0 + timedelta(minutes=5)) == engine.ESCALATED
    assert step(incident, T0 + timedelta(minutes=15)) == engine.ESCALATED

    assert lines(incident) == [
        "Step 1 of 3 (round 1 of 3): notifying alice (user alice); next step at 08:35 UTC.",
        "Step 2 of 3 (round 1 of 3): notifying carol (schedule Primary -> carol (Weekly)); "
        "next step at 08:45 UTC.",
        "Step 3 of 3 (round 1 of 3): notifying bob, carol (team Ops -> bob, carol); "
        "next step at 09:00 UTC.",
    ]
    assert lines(incident, IncidentEvent.Kind.NOTIFIED) == [
        "Paging alice: SMS to +15005550001 now, voice call to +15005550001 after 5 min "
        "(08:35 UTC). Reason: escalation step 1 of 3 (round 1 of 3)",
        "Paging carol: SMS to +15005550003 now, voice call to +15005550003 after 5 min "
        "(08:40 UTC). Reason: escalation step 2 of 3 (round 1 of 3)",
        "Paging bob: email to bob@example.com now. Reason: escalation step 3 of 3 (round 1 of 3)",
        "Paging carol: SMS to +15005550003 now, voice call to +15005550003 after 5 min "
        "(08:50 UTC). Reason: escalation step 3 of 3 (round 1 of 3)",
    ]
    # One row per rule, due by the rule's delay, queued before anything is sent.
    pages = Notification.objects.filter(incident=incident).order_by("id")
    assert [(n.user.username, n.channel, n.status, n.due_at - T0) for n in pages] == [
        ("alice", "sms", "queued", timedelta(0)),
        ("alice", "voice", "queued", timedelta(minutes=5)),
        ("carol", "sms", "queued", timedelta(minutes=5)),
        ("carol", "voice", "queued", timedelta(minutes=10)),
        ("bob", "email", "queued", timedelta(minutes=15)),
        ("carol", "sms", "queued", timedelta(minutes=15)),
        ("carol", "voice", "queued", timedelta(minutes=20)),
    ]
    first = incident.events.filter(kind=IncidentEvent.Kind.ESCALATED).first()
    assert first is not None
    assert first.data["user_ids"] == [alice.pk]
    assert first.data["next_escalation_at"] == (T0 + timedelta(minutes=5)).isoformat()


def test_first_step_snapshots_the_policy_and_later_steps_ignore_edits(
    alice: User, bob: User, carol: User
) -> None:
    policy = make_policy({"users": [alice], "delay": 5}, {"users": [bob], "delay": 5})
    incident = make_incident(policy)
    assert incident.escalation_snapshot == {}

    step(incident, T0)
    incident.refresh_from_db()
    assert incident.escalation_snapshot == {
        "policy": {"id": policy.pk, "name": "Platform"},
        "repeat": 0,
        "steps": [
            {
                "delay_minutes": 5,
                "users": [{"id": alice.pk, "name": "alice"}],
                "schedules": [],
                "teams": [],
            },
            {
                "delay_minutes": 5,
                "users": [{"id": bob.pk, "name": "bob"}],
                "schedules": [],
                "teams": [],
            },
        ],
    }

    # Edits to the live policy after the first step do not reach this incident.
    second = policy.steps.get(position=1)
    second.users.set([carol])
    policy.steps.create(position=2, delay_minutes=1).users.set([carol])

    step(incident, T0 + timedelta(minutes=5))
    assert lines(incident)[1].startswith("Step 2 of 2 (round 1 of 1): notifying bob (user bob)")
    assert not IncidentEvent.objects.filter(message__contains="carol").exists()


def test_steps_run_in_order_after_their_delays(alice: User, bob: User, carol: User) -> None:
    policy = make_policy(
        {"users": [alice], "delay": 5}, {"users": [bob], "delay": 10}, {"users": [carol]}
    )
    incident = make_incident(policy)

    step(incident, T0)
    incident.refresh_from_db()
    assert (incident.escalation_step, incident.next_escalation_at) == (
        1,
        T0 + timedelta(minutes=5),
    )

    # Bob's step is not due before alice's 5 minutes are up.
    assert step(incident, T0 + timedelta(minutes=4)) == engine.NOT_DUE
    step(incident, T0 + timedelta(minutes=5))
    incident.refresh_from_db()
    assert incident.next_escalation_at == T0 + timedelta(minutes=15)
    assert step(incident, T0 + timedelta(minutes=14)) == engine.NOT_DUE
    step(incident, T0 + timedelta(minutes=15))

    paged = incident.events.filter(kind=IncidentEvent.Kind.NOTIFIED).values_list(
        "data__user_id", "at"
    )
    assert list(paged) == [
        (alice.pk, T0),
        (bob.pk, T0 + timedelta(minutes=5)),
        (carol.pk, T0 + timedelta(minutes=15)),
    ]


def test_policy_repeats_then_says_nobody_acknowledged(alice: User, bob: User) -> None:
    policy = make_policy({"users": [alice], "delay": 5}, {"users": [bob], "delay": 10}, repeat=1)
    incident = make_incident(policy)

    now = T0
    outcomes = []
    for _ in range(5):
        incident.refresh_from_db()
        assert incident.next_escalation_at is not None
        now = incident.next_escalation_at
        outcomes.append(step(incident, now))

    assert outcomes == [engine.ESCALATED] * 4 + [engine.FINISHED]
    assert [line.split(":")[0] for line in lines(incident)] == [
        "Step 1 of 2 (round 1 of 2)",
        "Step 2 of 2 (round 1 of 2)",
        "Step 1 of 2 (round 2 of 2)",
        "Step 2 of 2 (round 2 of 2)",
        "Escalation finished",
    ]
    assert lines(incident)[3].endswith("escalation ends at 09:00 UTC if nobody acknowledges.")
    assert lines(incident)[-1] == "Escalation finished: nobody acknowledged after 2 rounds."
    # The finish line waits for the last step's delay.
    assert now == T0 + timedelta(minutes=30)
    incident.refresh_from_db()
    assert incident.next_escalation_at is None
    assert engine.escalation_rekick_due(now=now + timedelta(hours=1)) == 0


def test_schedule_target_is_whoever_is_on_call_when_the_step_runs(
    alice: User, bob: User, carol: User
) -> None:
    schedule = primary_schedule(day_user=alice, override_user=bob)
    policy = make_policy({"users": [carol], "delay": 60}, {"schedules": [schedule]})
    incident = make_incident(policy)

    step(incident, T0)  # 08:30: alice is on call, but the schedule is step 2
    step(incident, T0 + timedelta(minutes=60))  # 09:30: bob's override

    assert "schedule Primary -> bob (override)" in lines(incident)[1]
    notified = incident.events.filter(kind=IncidentEvent.Kind.NOTIFIED)
    assert [e.data["user_id"] for e in notified] == [carol.pk, bob.pk]


def test_schedule_with_nobody_on_call_is_said_so(alice: User) -> None:
    empty = Schedule.objects.create(name="Empty", time_zone="UTC")
    incident = make_incident(make_policy({"schedules": [empty]}))

    step(incident, T0)

    assert lines(incident)[0].startswith(
        "Step 1 of 1 (round 1 of 1): nobody to notify (schedule Empty -> nobody on call)"
    )
    assert not incident.events.filter(kind=IncidentEvent.Kind.NOTIFIED).exists()


def test_team_target_pages_the_members_at_step_time(alice: User, bob: User, carol: User) -> None:
    ops = Team.objects.create(name="Ops")
    Membership.objects.create(team=ops, user=alice)
    incident = make_incident(make_policy({"users": [carol], "delay": 5}, {"teams": [ops]}))
    step(incident, T0)

    Membership.objects.create(team=ops, user=bob)  # joins after the snapshot
    step(incident, T0 + timedelta(minutes=5))

    assert "team Ops -> alice, bob" in lines(incident)[1]
    notified = incident.events.filter(kind=IncidentEvent.Kind.NOTIFIED)
    assert [e.data["user_id"] for e in notified] == [carol.pk, alice.pk, bob.pk]


def test_team_step_does_not_page_the_teams_viewers(alice: User, bob: User, carol: User) -> None:
    ops = Team.objects.create(name="Ops")
    Membership.objects.create(team=ops, user=alice)
    Membership.objects.create(team=ops, user=bob, role=Membership.Role.VIEWER)
    # carol responds for another team, but only observes Ops: Ops does not page her.
    Membership.objects.create(team=ops, user=carol, role=Membership.Role.VIEWER)
    Membership.objects.create(team=Team.objects.create(name="Web"), user=carol)
    incident = make_incident(make_policy({"teams": [ops]}))

    step(incident, T0)

    assert lines(incident)[0].startswith(
        "Step 1 of 1 (round 1 of 1): notifying alice "
        "(team Ops -> alice (bob, carol: viewers, not paged));"
    )
    assert paged_ids(incident) == {alice.pk}


def test_a_viewer_named_in_a_step_or_on_call_is_not_paged(
    alice: User, bob: User, carol: User
) -> None:
    Membership.objects.create(
        team=Team.objects.create(name="Ops"), user=bob, role=Membership.Role.VIEWER
    )
    schedule = primary_schedule(day_user=bob, override_user=bob)
    incident = make_incident(make_policy({"users": [bob, carol], "schedules": [schedule]}))

    step(incident, T0)

    assert lines(incident)[0].startswith(
        "Step 1 of 1 (round 1 of 1): notifying carol (user bob (viewer, not paged); "
        "user carol; schedule Primary -> nobody to page (bob: viewer, not paged));"
    )
    assert paged_ids(incident) == {carol.pk}


def test_a_user_reached_twice_in_one_step_is_paged_once(alice: User) -> None:
    ops = Team.objects.create(name="Ops")
    Membership.objects.create(team=ops, user=alice)
    incident = make_incident(make_policy({"users": [alice], "teams": [ops]}))

    step(incident, T0)

    assert incident.events.filter(kind=IncidentEvent.Kind.NOTIFIED).count() == 1
    assert "(user alice; team Ops -> alice)" in lines(incident)[0]


def test_deactivated_user_is_skipped_and_the_reason_says_so(alice: User, bob: User) -> None:
    incident = make_incident(make_policy({"users": [alice, bob]}))
    User.objects.filter(pk=alice.pk).update(is_active=False)

    step(incident, T0)

    assert lines(incident)[0].startswith(
        "Step 1 of 1 (round 1 of 1): notifying bob (user alice (deactivated, skipped); user bob)"
    )


def test_user_without_rules_is_recorded_as_unreachable(db: Any) -> None:
    nobody = UserFactory(username="dave", phone="", email="")
    incident = make_incident(make_policy({"users": [nobody]}))

    step(incident, T0)

    assert lines(incident, IncidentEvent.Kind.NOTIFIED) == [
        "Cannot page dave: no notification rule with a verified contact method. "
        "Reason: escalation step 1 of 1 (round 1 of 1)"
    ]


def test_acknowledge_stops_escalation(
    alice: User, bob: User, django_capture_on_commit_callbacks: Any
) -> None:
    incident = make_incident(make_policy({"users": [alice]}, {"users": [bob]}))
    step(incident, T0)
    incident.refresh_from_db()
    queued_token = incident.escalation_token

    with django_capture_on_commit_callbacks(execute=True):
        incident_acknowledge(incident_id=incident.pk, user=alice, via=Via.WEB)

    incident.refresh_from_db()
    assert incident.next_escalation_at is None
    assert incident.escalation_token != queued_token
    outcome = escalation_run_step(
        incident_id=incident.pk, token=queued_token, now=T0 + timedelta(hours=1)
    )
    assert outcome == engine.NOT_TRIGGERED
    assert len(lines(incident)) == 1
    assert engine.escalation_rekick_due(now=T0 + timedelta(hours=1)) == 0


def test_resolve_stops_escalation(
    alice: User, bob: User, django_capture_on_commit_callbacks: Any
) -> None:
    incident = make_incident(make_policy({"users": [alice]}, {"users": [bob]}))
    step(incident, T0)

    with django_capture_on_commit_callbacks(execute=True):
        incident_resolve(incident_id=incident.pk, user=alice, via=Via.WEB)

    incident.refresh_from_db()
    assert incident.next_escalation_at is None
    assert step(incident, T0 + timedelta(hours=1)) == engine.NOT_TRIGGERED
    assert len(lines(incident)) == 1


def test_step_checks_the_state_even_before_the_stop_receiver_runs(alice: User) -> None:
    incident = make_incident(make_policy({"users": [alice]}))
    Incident.objects.filter(pk=incident.pk).update(state=Incident.State.ACKNOWLEDGED)

    assert step(incident, T0) == engine.NOT_TRIGGERED
    assert not incident.events.exists()


def test_duplicated_task_pages_once(alice: User, bob: User) -> None:
    incident = make_incident(make_policy({"users": [alice, bob]}), due=timezone.now())
    token = incident.escalation_token

    # The task body, twice, as two deliveries of one message would run it.
    assert (escalate(incident.pk, token), escalate(incident.pk, token)) == (
        engine.ESCALATED,
        engine.STALE,
    )
    assert incident.events.filter(kind=IncidentEvent.Kind.NOTIFIED).count() == 2
    assert len(lines(incident)) == 1


def test_stale_or_empty_token_exits_without_paging(alice: User) -> None:
    incident = make_incident(make_policy({"users": [alice]}))

    for token in ("0123456789abcdef", ""):
        assert escalation_run_step(incident_id=incident.pk, token=token, now=T0) == engine.STALE
    assert escalation_run_step(incident_id=10**9, token="x", now=T0) == engine.MISSING
    assert not incident.events.exists()


def test_integration_without_policy_never_escalates(
    db: Any, django_capture_on_commit_callbacks: Any
) -> None:
    integration = IntegrationFactory(escalation_policy=None)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result = incident_open(integration=integration, dedup_key="k", title="Disk full")

    assert result.incident_id is not None
    incident = Incident.objects.get(pk=result.incident_id)
    assert (incident.next_escalation_at, incident.escalation_token) == (None, "")
    assert not callbacks  # nothing to queue: no escalation, no broker message
    assert engine.escalation_rekick_due(now=timezone.now() + timedelta(days=1)) == 0
    assert not incident.events.exclude(kind=IncidentEvent.Kind.TRIGGERED).exists()


def test_opening_an_incident_runs_the_first_step_on_commit(
    alice: User, django_capture_on_commit_callbacks: Any
) -> None:
    policy = make_policy({"users": [alice], "delay": 5}, {"users": [alice]})
    integration = IntegrationFactory(escalation_policy=policy)

    with django_capture_on_commit_callbacks(execute=True):
        result = incident_open(integration=integration, dedup_key="k", title="Disk full")

    assert result.incident_id is not None
    incident = Incident.objects.get(pk=result.incident_id)
    assert incident.escalation_step == 1
    assert incident.escalation_snapshot["policy"]["name"] == "Platform"
    assert lines(incident)[0].startswith("Step 1 of 2 (round 1 of 1): notifying alice")
    assert incident.next_escalation_at is not None
    assert incident.next_escalation_at > timezone.now() + timedelta(minutes=4)


def test_policy_removed_before_the_first_step_stops_with_a_reason(alice: User) -> None:
    incident = make_incident(make_policy({"users": [alice]}))
    Integration.objects.filter(pk=incident.integration_id).update(escalation_policy=None)

    assert step(incident, T0) == engine.FINISHED

    assert lines(incident) == ["Escalation stopped: the integration has no escalation policy."]
    incident.refresh_from_db()
    assert incident.next_escalation_at is None


def test_rekick_queues_every_overdue_step_in_batches(alice: User) -> None:
    policy = make_policy({"users": [alice], "delay": 5}, {"users": [alice]})
    now = timezone.now()
    overdue = [make_incident(policy, due=now - timedelta(minutes=1)) for _ in range(5)]
    later = make_incident(policy, due=now + timedelta(minutes=10))
    acknowledged = make_incident(policy, due=now - timedelta(minutes=1))
    Incident.objects.filter(pk=acknowledged.pk).update(state=Incident.State.ACKNOWLEDGED)

    assert engine.escalation_rekick_due(now=now, batch_size=2) == 5

    for incident in overdue:
        assert len(lines(incident)) == 1
    assert not later.events.exists()
    assert not acknowledged.events.exists()
    # Nothing is overdue any more: a second beat queues nothing.
    assert rekick_due_escalations() == 0


def test_escalate_now_runs_the_next_step_without_waiting(alice: User, bob: User) -> None:
    incident = make_incident(make_policy({"users": [alice], "delay": 30}, {"users": [bob]}))
    step(incident, T0)

    assert engine.escalation_escalate_now(
        incident_id=incident.pk, now=T0 + timedelta(minutes=1), user=alice, via=Via.WEB
    )
    assert step(incident, T0 + timedelta(minutes=1)) == engine.ESCALATED
    assert lines(incident)[1] == "Escalated now by alice via web."
    assert "notifying bob" in lines(incident)[2]


def test_many_steps_in_one_task_check_each_token_and_write_the_same_timeline(
    alice: User, bob: User
) -> None:
    policy = make_policy({"users": [alice], "delay": 5}, {"users": [bob]})
    due = make_incident(policy)
    stale = make_incident(policy)
    later = make_incident(policy, due=T0 + timedelta(minutes=10))
    acknowledged = make_incident(policy)
    Incident.objects.filter(pk=acknowledged.pk).update(state=Incident.State.ACKNOWLEDGED)
    batch = [
        (due.pk, due.escalation_token),
        (stale.pk, "0123456789abcdef"),
        (later.pk, later.escalation_token),
        (acknowledged.pk, acknowledged.escalation_token),
        (10**9, "x"),
    ]

    counts = engine.escalation_run_steps(steps=batch, now=T0)

    assert counts == {
        engine.ESCALATED: 1,
        engine.STALE: 1,
        engine.NOT_DUE: 1,
        engine.NOT_TRIGGERED: 1,
        engine.MISSING: 1,
    }
    assert lines(due) == [
        "Step 1 of 2 (round 1 of 1): notifying alice (user alice); next step at 08:35 UTC."
    ]
    due.refresh_from_db()
    assert (due.escalation_step, due.next_escalation_at) == (1, T0 + timedelta(minutes=5))
    assert due.escalation_snapshot["policy"]["name"] == "Platform"
    # The same batch delivered again (a duplicated message) pages nobody.
    assert engine.escalation_run_steps(steps=batch[:1], now=T0) == {engine.STALE: 1}
    assert IncidentEvent.objects.filter(kind=IncidentEvent.Kind.NOTIFIED).count() == 1
    assert not IncidentEvent.objects.exclude(incident=due).exists()


def test_incident_page_shows_the_escalation_steps(alice: User, client: Any) -> None:
    incident = make_incident(make_policy({"users": [alice], "delay": 5}, {"users": [alice]}))
    step(incident, T0)
    client.force_login(alice)

    page = client.get(incident.get_absolute_url()).content.decode()

    assert (
        "Step 1 of 2 (round 1 of 1): notifying alice (user alice); next step at 08:35 UTC." in page
    )
    assert "Paging alice: SMS to +15005550001 now, voice call to +15005550001 after 5 min" in page


def test_a_worker_reuses_a_policy_snapshot_only_within_the_cache_window(
    settings: Any, alice: User
) -> None:
    policy = make_policy({"users": [alice]}, repeat=0)
    integration_id = make_incident(policy).integration_id
    engine._recent_snapshots.clear()
    settings.INTEGRATION_CACHE_SECONDS = 60
    first = engine.recent_policy_snapshot(integration_id)
    assert first is not None and first.repeat == 0
    with pytest.raises(FrozenInstanceError):  # shared between callers: nobody can change it
        first.repeat = 99  # type: ignore[misc]
    EscalationPolicy.objects.filter(pk=policy.pk).update(repeat=2)

    assert engine.recent_policy_snapshot(integration_id) == first  # cached
    settings.INTEGRATION_CACHE_SECONDS = 0
    again = engine.recent_policy_snapshot(integration_id)
    assert again is not None and again.repeat == 2


def test_the_incident_remembers_who_the_last_step_paged(alice: User, bob: User) -> None:
    incident = make_incident(make_policy({"users": [alice]}, {"users": [bob, alice]}))
    step(incident, T0)
    incident.refresh_from_db()
    assert incident.escalation_targets == [{"id": alice.pk, "name": "alice"}]
    step(incident, T0 + timedelta(minutes=5))
    incident.refresh_from_db()
    assert [t["name"] for t in incident.escalation_targets] == ["alice", "bob"]  # by name


def test_the_stored_snapshot_reads_back_as_the_policy_it_froze(alice: User, bob: User) -> None:
    schedule = Schedule.objects.create(name="Primary")
    policy = make_policy({"users": [alice, bob]}, {"schedules": [schedule]}, repeat=1)
    incident = make_incident(policy)

    step(incident, T0)

    incident.refresh_from_db()
    stored = incident.escalation_snapshot
    # The row keeps plain JSON (readable in the admin and by older code)...
    assert stored["policy"] == {"id": policy.pk, "name": policy.name}
    assert stored["steps"][0]["users"] == [
        {"id": alice.pk, "name": "alice"},
        {"id": bob.pk, "name": "bob"},
    ]
    # ... which is the typed snapshot, both ways.
    snapshot = PolicySnapshot.from_json(stored)
    assert snapshot is not None
    assert (snapshot.repeat, snapshot.rounds, len(snapshot.steps)) == (1, 2, 2)
    assert snapshot.steps[1].schedules == (Ref(schedule.pk, "Primary"),)
    assert snapshot.to_json() == stored
    assert PolicySnapshot.from_json({}) is None
