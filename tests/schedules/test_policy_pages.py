"""Escalation policy pages: create and edit a policy, add, edit, delete and reorder
its steps, the way a person does it in the browser (with and without htmx)."""

from __future__ import annotations

import html
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains

from accounts.models import Team, User
from escalation.models import EscalationPolicy, EscalationStep
from schedules.models import Schedule
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def user(db: Any) -> Any:
    """Changing escalation policies needs an admin: staff here (team admins, responders and
    viewers: tests/foundation/test_roles.py)."""
    return UserFactory(username="admin", is_staff=True)


def make_policy(name: str = "Production", steps: int = 0) -> EscalationPolicy:
    policy = EscalationPolicy.objects.create(name=name)
    for i in range(steps):
        EscalationStep.objects.create(policy=policy, position=i, delay_minutes=i + 1)
    return policy


def delays(policy: EscalationPolicy) -> list[int]:
    return list(policy.steps.order_by("position").values_list("delay_minutes", flat=True))


def positions(policy: EscalationPolicy) -> list[int]:
    return list(policy.steps.order_by("position").values_list("position", flat=True))


def test_policy_pages_need_sign_in(client: Client) -> None:
    policy = make_policy()
    for url in (
        reverse("policies:list"),
        reverse("policies:create"),
        reverse("policies:detail", args=[policy.pk]),
    ):
        assert client.get(url)["Location"].startswith("/login/")


def test_list_describes_each_policy_in_words(signed_in: Client, user: User) -> None:
    policy = make_policy(steps=1)
    schedule = Schedule.objects.create(name="Primary on-call", time_zone="UTC")
    team = Team.objects.create(name="Platform")
    step = policy.steps.get()
    step.users.add(user)
    step.schedules.add(schedule)
    step.teams.add(team)

    response = signed_in.get(reverse("policies:list"))

    page = html.unescape(response.content.decode())
    assert "Notify admin, whoever is on call in" in page
    assert "Primary on-call" in page and "everyone in Platform" in page
    assertContains(response, reverse("policies:create"))
    assertContains(response, reverse("policies:detail", args=[policy.pk]))


def test_list_query_count_is_fixed(
    signed_in: Client, user: User, django_assert_max_num_queries: Any
) -> None:
    for i in range(5):
        policy = make_policy(name=f"Policy {i}", steps=3)
        for step in policy.steps.all():
            step.users.add(user)
    # session + user, policies, steps, users, schedules, teams
    with django_assert_max_num_queries(7):
        response = signed_in.get(reverse("policies:list"))
    assert response.content.decode().count("Notify admin") == 15


def test_create_edit_and_delete_a_policy(signed_in: Client) -> None:
    team = Team.objects.create(name="Platform")
    response = signed_in.post(
        reverse("policies:create"), {"name": "Production", "team": team.pk, "repeat": "2"}
    )
    policy = EscalationPolicy.objects.get()
    assert response["Location"] == reverse("policies:detail", args=[policy.pk])
    assert (policy.name, policy.team, policy.repeat) == ("Production", team, 2)

    signed_in.post(
        reverse("policies:edit", args=[policy.pk]), {"name": "Prod", "team": "", "repeat": "0"}
    )
    policy.refresh_from_db()
    assert (policy.name, policy.team, policy.repeat) == ("Prod", None, 0)

    url = reverse("policies:delete", args=[policy.pk])
    assertContains(signed_in.get(url), "Delete Prod?")
    assert signed_in.post(url)["Location"] == reverse("policies:list")
    assert not EscalationPolicy.objects.exists()


def test_policy_form_rejects_repeat_outside_0_to_9(signed_in: Client) -> None:
    for bad in ("10", "-1", "many"):
        response = signed_in.post(reverse("policies:create"), {"name": "P", "repeat": bad})
        assert response.status_code == 200
        assert b'class="error"' in response.content
    assert not EscalationPolicy.objects.exists()


def test_add_steps_appends_them_in_order(signed_in: Client, user: User) -> None:
    policy = make_policy()
    schedule = Schedule.objects.create(name="Primary", time_zone="UTC")
    url = reverse("policies:step-create", args=[policy.pk])

    signed_in.post(url, {"delay_minutes": "5", "users": [user.pk]})
    response = signed_in.post(url, {"delay_minutes": "15", "schedules": [schedule.pk]})

    assert response["Location"] == reverse("policies:detail", args=[policy.pk])
    first, second = policy.steps.order_by("position")
    assert (first.position, first.delay_minutes, list(first.users.all())) == (0, 5, [user])
    assert (second.position, second.delay_minutes, list(second.schedules.all())) == (
        1,
        15,
        [schedule],
    )
    page = signed_in.get(reverse("policies:detail", args=[policy.pk]))
    assertContains(page, "<strong>Step 2.</strong> Notify whoever is on call in", html=False)


def test_a_step_must_notify_someone(signed_in: Client) -> None:
    policy = make_policy()
    response = signed_in.post(
        reverse("policies:step-create", args=[policy.pk]), {"delay_minutes": "5"}
    )
    assertContains(response, "Pick at least one user, schedule or team to notify.")
    assert not policy.steps.exists()


def test_edit_a_step(signed_in: Client, user: User) -> None:
    policy = make_policy(steps=1)
    step = policy.steps.get()
    team = Team.objects.create(name="Platform")
    url = reverse("policies:step-edit", args=[policy.pk, step.pk])
    assert signed_in.get(url).status_code == 200

    signed_in.post(url, {"delay_minutes": "30", "teams": [team.pk]})

    step.refresh_from_db()
    assert (step.delay_minutes, list(step.teams.all()), step.position) == (30, [team], 0)


def test_move_steps_up_and_down(signed_in: Client) -> None:
    policy = make_policy(steps=3)  # delays 1, 2, 3
    third = policy.steps.get(delay_minutes=3)
    first = policy.steps.get(delay_minutes=1)

    signed_in.post(reverse("policies:step-move", args=[policy.pk, third.pk]), {"direction": "up"})
    assert delays(policy) == [1, 3, 2]
    signed_in.post(
        reverse("policies:step-move", args=[policy.pk, first.pk]), {"direction": "down"}
    )
    assert delays(policy) == [3, 1, 2]
    assert positions(policy) == [0, 1, 2]


def test_moving_past_either_end_changes_nothing(signed_in: Client) -> None:
    policy = make_policy(steps=2)
    top = policy.steps.get(position=0)
    bottom = policy.steps.get(position=1)
    signed_in.post(reverse("policies:step-move", args=[policy.pk, top.pk]), {"direction": "up"})
    signed_in.post(
        reverse("policies:step-move", args=[policy.pk, bottom.pk]), {"direction": "down"}
    )
    response = signed_in.post(
        reverse("policies:step-move", args=[policy.pk, top.pk]), {"direction": "sideways"}
    )
    assert response.status_code == 302
    assert delays(policy) == [1, 2]


def test_move_with_htmx_returns_the_new_step_list(signed_in: Client) -> None:
    policy = make_policy(steps=2)
    bottom = policy.steps.get(position=1)

    response = signed_in.post(
        reverse("policies:step-move", args=[policy.pk, bottom.pk]),
        {"direction": "up"},
        headers={"HX-Request": "true"},
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<ol class="steps" id="steps">')
    assert "<html" not in body
    assert body.index("wait 2 min") < body.index("wait 1 min")
    assert delays(policy) == [2, 1]


def test_delete_a_step_renumbers_the_rest(signed_in: Client) -> None:
    policy = make_policy(steps=3)
    middle = policy.steps.get(position=1)

    response = signed_in.post(
        reverse("policies:step-delete", args=[policy.pk, middle.pk]),
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 200
    assert delays(policy) == [1, 3]
    assert positions(policy) == [0, 1]
    assert "Step 3." not in response.content.decode()


def test_bad_ids_and_methods(signed_in: Client) -> None:
    policy = make_policy(steps=1)
    other = make_policy(name="Other", steps=1)
    foreign = other.steps.get()
    for url in (
        "/escalation-policies/999999/",
        "/escalation-policies/99999999999999999999999/edit/",
        "/escalation-policies/999999/delete/",
        "/escalation-policies/999999/steps/new/",
        f"/escalation-policies/{policy.pk}/steps/{foreign.pk}/",
    ):
        assert signed_in.get(url).status_code == 404, url
    move = reverse("policies:step-move", args=[policy.pk, foreign.pk])
    assert signed_in.post(move, {"direction": "up"}).status_code == 404
    own = policy.steps.get()
    assert (
        signed_in.get(reverse("policies:step-move", args=[policy.pk, own.pk])).status_code == 405
    )
    assert (
        signed_in.get(reverse("policies:step-delete", args=[policy.pk, own.pk])).status_code == 405
    )
