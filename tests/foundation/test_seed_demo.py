"""The demo seed gives its responders verified phones, emails and the default rules, and
running it again changes nothing; the team list shows those phones cheaply."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from accounts.models import ContactMethod, Membership, NotificationRule, Team, User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def snapshot() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    methods = list(
        ContactMethod.objects.order_by("id").values_list("id", "user__username", "kind", "value")
    )
    rules = list(
        NotificationRule.objects.order_by("id").values_list(
            "id", "user__username", "event", "channel", "delay_minutes", "contact_method__value"
        )
    )
    return methods, rules


def test_demo_responders_can_be_paged_and_a_second_run_changes_nothing() -> None:
    call_command("seed_demo", stdout=StringIO())
    first = snapshot()
    call_command("seed_demo", stdout=StringIO())
    assert snapshot() == first

    for username, phone in (
        ("alice", "+15005550001"),
        ("bob", "+15005550002"),
        ("carol", "+15005550003"),
    ):
        person = User.objects.get(username=username)
        assert person.phone == phone
        assert {(m.kind, m.value, m.is_verified) for m in person.contact_methods.all()} == {
            ("phone", phone, True),
            ("email", f"{username}@example.com", True),
        }
        rules = [
            (r.event, r.channel, r.delay_minutes, r.contact_method.value)
            for r in person.notification_rules.select_related("contact_method")
        ]
        assert rules == [
            ("resolved", "sms", 0, phone),
            ("triggered", "sms", 0, phone),
            ("triggered", "voice", 5, phone),
        ]
    assert len(first[0]) == 6 and len(first[1]) == 9


def test_the_team_list_shows_phones_in_a_fixed_number_of_queries(
    client: Client, django_assert_max_num_queries: Any
) -> None:
    team = Team.objects.create(name="Platform")
    viewer = UserFactory(username="viewer")
    client.force_login(viewer)
    Membership.objects.create(team=team, user=UserFactory(username="m0", phone="+15005550010"))
    with django_assert_max_num_queries(5):
        client.get("/teams/")
    for n in range(1, 8):
        person = UserFactory(username=f"m{n}", phone=f"+150055500{10 + n}")
        Membership.objects.create(team=team, user=person)

    with django_assert_max_num_queries(5):
        page = client.get("/teams/").content.decode()

    assert all(f"+150055500{10 + n}" in page for n in range(8))


def test_history_adds_a_month_of_resolved_incidents_for_reports(
    client: Client, settings: Any
) -> None:
    settings.REPORTS_CACHE_SECONDS = 0
    from incidents.models import Incident

    call_command("seed_demo", "--history", stdout=StringIO())
    past = Incident.objects.all()
    assert past.count() > 30
    assert {i.state for i in past} == {"resolved"}
    assert all(i.created_at < i.acknowledged_at < i.resolved_at for i in past)  # type: ignore[operator]
    client.force_login(User.objects.get(username="admin"))
    page = client.get("/reports/?days=30").content.decode()
    assert "ConsoleSignInFailures" in page
