"""Bad schedule data costs one target, never the whole page or someone else's."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import User
from escalation.engine import escalation_run_steps
from incidents.models import Incident
from schedules.models import Layer, LayerMember, Schedule
from tests.factories import UserFactory
from tests.helpers import T0, lines, make_incident, make_policy

pytestmark = pytest.mark.django_db


def broken_schedule(user: User) -> Schedule:
    """An "every N hours" layer saved without N, as the admin lets one do."""
    schedule = Schedule.objects.create(name="Broken", time_zone="UTC")
    layer = Layer.objects.create(
        schedule=schedule,
        name="Hourly",
        start=dt.date(2026, 11, 1),
        turn=Layer.Turn.HOURS,
        turn_hours=None,
        handoff_time=dt.time(9, 0),
    )
    LayerMember.objects.create(layer=layer, user=user, position=0)
    return schedule


def test_a_broken_schedule_is_skipped_and_the_step_still_pages_the_others() -> None:
    alice = UserFactory(username="alice", phone="+15005550001")
    bob = UserFactory(username="bob", phone="+15005550002")
    policy = make_policy({"users": [alice], "schedules": [broken_schedule(bob)]})
    incident = make_incident(policy)
    counts = escalation_run_steps(steps=[(incident.pk, incident.escalation_token)], now=T0)
    assert counts == {"escalated": 1}
    (line,) = lines(incident)
    assert "notifying alice" in line and "schedule Broken -> error, skipped" in line


def test_one_bad_incident_does_not_hold_back_a_rekick_batch() -> None:
    alice = UserFactory(username="alice", phone="+15005550001")
    bad = make_incident(make_policy({"schedules": [broken_schedule(alice)]}, name="Bad"))
    good = [make_incident(make_policy({"users": [alice]}, name=f"Good {n}")) for n in range(3)]
    steps = [(i.pk, i.escalation_token) for i in [bad, *good]]
    counts = escalation_run_steps(steps=steps, now=T0)
    assert counts.get("escalated") == 4
    for incident in good:
        assert Incident.objects.get(pk=incident.pk).escalation_step == 1


def api_as(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def test_far_off_dates_are_refused_with_a_reason_not_a_500() -> None:
    admin = UserFactory(username="boss", is_staff=True)
    api = api_as(admin)
    created = api.post(
        "/api/v1/schedules/",
        {"name": "S", "time_zone": "UTC", "layers": [{"name": "L", "start": "2026-11-01",
         "turn": "weekly", "handoff_time": "09:00", "users": [admin.pk]}]},
        format="json",
    )  # fmt: skip
    assert created.status_code == 201, created.content
    schedule_id = created.json()["id"]
    far = api.post(
        f"/api/v1/schedules/{schedule_id}/overrides/",
        {"user": admin.pk, "start": "2026-11-21T09:00:00Z", "end": "9999-12-31T23:00:00Z"},
        format="json",
    )
    assert far.status_code == 400
    assert "between 2000 and 2100" in str(far.json())
    ancient = api.post(
        "/api/v1/schedules/",
        {"name": "Old", "time_zone": "UTC", "layers": [{"name": "L", "start": "0001-01-01",
         "turn": "weekly", "handoff_time": "09:00", "users": [admin.pk]}]},
        format="json",
    )  # fmt: skip
    assert ancient.status_code == 400
    assert api.get(f"/api/v1/schedules/{schedule_id}/oncall/").status_code == 200
