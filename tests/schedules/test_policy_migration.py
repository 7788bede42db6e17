"""Escalation policies moved from the schedules app to the escalation app: a database
written before the move keeps every policy, step, target and integration link."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.apps import apps as current_apps
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

# The last state of each app in which policies still lived in schedules.
BEFORE_THE_MOVE = [
    ("escalation", None),
    ("schedules", "0002_bounded_schedule_dates"),
    ("integrations", "0003_inbound_source"),
]


def _migrate(targets: list[tuple[str, str | None]]) -> Any:
    """Migrate the test database to ``targets``; the historical apps of that state."""
    executor = MigrationExecutor(connection)
    state = executor.migrate(targets)
    return state.apps


@pytest.fixture
def database_before_the_move(transactional_db: Any) -> Iterator[Any]:
    old_apps = _migrate(BEFORE_THE_MOVE)
    yield old_apps
    # Whatever the test did, leave the database at the newest state for the next test.
    call_command("migrate", verbosity=0)
    ContentType.objects.clear_cache()


def test_policies_written_before_the_move_are_found_after_it(
    database_before_the_move: Any,
) -> None:
    old = database_before_the_move
    User = old.get_model("accounts", "User")
    Team = old.get_model("accounts", "Team")
    Schedule = old.get_model("schedules", "Schedule")
    OldPolicy = old.get_model("schedules", "EscalationPolicy")
    OldStep = old.get_model("schedules", "EscalationStep")
    Integration = old.get_model("integrations", "Integration")

    alice = User.objects.create(username="alice", ical_token="alice-feed")
    ops = Team.objects.create(name="Ops")
    primary = Schedule.objects.create(name="Primary", ical_token="primary-feed")
    policy = OldPolicy.objects.create(name="Wake the on-call", team=ops, repeat=2)
    first = OldStep.objects.create(policy=policy, position=0, delay_minutes=5)
    first.users.add(alice)
    second = OldStep.objects.create(policy=policy, position=1, delay_minutes=15)
    second.schedules.add(primary)
    second.teams.add(ops)
    Integration.objects.create(
        name="Prod alarms", token="t" * 32, token_hash="h" * 64, escalation_policy=policy
    )
    old_type = ContentType.objects.get_for_model(OldPolicy)

    new = _migrate(_newest_targets())

    NewPolicy = new.get_model("escalation", "EscalationPolicy")
    moved = NewPolicy.objects.get(pk=policy.pk)
    assert (moved.name, moved.team.name, moved.repeat) == ("Wake the on-call", "Ops", 2)
    steps = list(moved.steps.order_by("position"))
    assert [(s.position, s.delay_minutes) for s in steps] == [(0, 5), (1, 15)]
    assert [u.username for u in steps[0].users.all()] == ["alice"]
    assert [s.name for s in steps[1].schedules.all()] == ["Primary"]
    assert [t.name for t in steps[1].teams.all()] == ["Ops"]
    linked = new.get_model("integrations", "Integration").objects.get(name="Prod alarms")
    assert linked.escalation_policy.name == "Wake the on-call"

    # The code of today reads them too, and their content type (permissions, admin
    # history) moved with them instead of being left behind.
    from escalation.models import EscalationPolicy

    assert EscalationPolicy.objects.get(pk=policy.pk).steps.count() == 2
    moved_type = ContentType.objects.get(pk=old_type.pk)
    assert (moved_type.app_label, moved_type.model) == ("escalation", "escalationpolicy")
    assert current_apps.get_model("escalation", "EscalationPolicy") is EscalationPolicy


def _newest_targets() -> list[tuple[str, str | None]]:
    executor = MigrationExecutor(connection)
    leaves: list[tuple[str, str | None]] = executor.loader.graph.leaf_nodes()
    return leaves
