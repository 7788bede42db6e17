"""Roles on every page and API endpoint that changes something: viewers read, responders
cover shifts and send test alerts, admins (staff or a team's admin) manage everything."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains
from rest_framework.authtoken.models import Token

from accounts.models import Membership, Team, User
from accounts.roles import ADMIN, RESPONDER, VIEWER, role_of
from escalation.models import EscalationPolicy, EscalationStep
from incidents.models import Incident
from integrations.models import InboundMessage, Integration
from schedules.models import Layer, LayerMember, Override, Schedule
from tests.factories import IntegrationFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

FORBIDDEN_PAGE = "This needs an admin; you are a viewer."


def member(username: str, role: str, team: Team | None = None) -> User:
    user: User = UserFactory(username=username, password=None)
    Membership.objects.create(team=team or TeamFactory(), user=user, role=role)
    return user


@pytest.fixture
def viewer() -> User:
    return member("vera", Membership.Role.VIEWER)


@pytest.fixture
def responder() -> User:
    return member("rita", Membership.Role.RESPONDER)


@pytest.fixture
def team_admin() -> User:
    """An admin through a team membership, not staff."""
    return member("ada", Membership.Role.ADMIN)


def browser(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api(user: User) -> Client:
    key = Token.objects.get_or_create(user=user)[0].key
    return Client(headers={"Authorization": f"Token {key}"}, enforce_csrf_checks=True)


def post_json(client: Client, url: str, data: object, method: str = "post") -> Any:
    return getattr(client, method)(url, json.dumps(data), content_type="application/json")


@pytest.fixture
def world() -> dict[str, Any]:
    """One of everything, for the refusals to aim at."""
    alice = UserFactory(username="alice", password=None)
    integration = IntegrationFactory(name="Prod", topic_arn="arn:aws:sns:us-east-1:1:t")
    schedule = Schedule.objects.create(name="Primary", time_zone="UTC")
    layer = Layer.objects.create(
        schedule=schedule, name="Weekly", start="2026-01-05", handoff_time="09:00"
    )
    LayerMember.objects.create(layer=layer, user=alice, position=0)
    now = timezone.now()
    override = Override.objects.create(
        schedule=schedule, user=alice, start=now, end=now + timedelta(hours=2)
    )
    policy = EscalationPolicy.objects.create(name="Prod policy")
    steps = [
        EscalationStep.objects.create(policy=policy, position=i, delay_minutes=5 + i)
        for i in range(2)
    ]
    for step in steps:
        step.users.add(alice)
    confirmation = InboundMessage.objects.create(
        integration=integration,
        received_at=now,
        message_type="SubscriptionConfirmation",
        subscribe_url="https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=x",
        outcome=InboundMessage.Outcome.SUBSCRIPTION_PENDING,
    )
    team = Team.objects.create(name="Ops")
    membership = Membership.objects.create(team=team, user=alice, role="responder")
    return {
        "alice": alice,
        "integration": integration,
        "schedule": schedule,
        "layer": layer,
        "override": override,
        "policy": policy,
        "step": steps[1],
        "confirmation": confirmation,
        "team": team,
        "membership": membership,
    }


def admin_pages(w: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, url, data) of every page action only an admin may take."""
    i, s, p = w["integration"].pk, w["schedule"].pk, w["policy"].pk
    layer, step, team, m = w["layer"].pk, w["step"].pk, w["team"].pk, w["membership"].pk
    return [
        ("get", reverse("integrations:create"), {}),
        ("post", reverse("integrations:create"), {"name": "X", "kind": "aws_sns"}),
        ("get", reverse("integrations:edit", args=[i]), {}),
        ("post", reverse("integrations:edit", args=[i]), {"name": "X", "kind": "aws_sns"}),
        ("get", reverse("integrations:delete", args=[i]), {}),
        ("post", reverse("integrations:delete", args=[i]), {}),
        ("post", reverse("integrations:rotate", args=[i]), {}),
        ("post", reverse("integrations:rebind", args=[i]), {}),
        ("post", reverse("integrations:inbound-confirm", args=[w["confirmation"].pk]), {}),
        ("get", reverse("schedules:create"), {}),
        ("post", reverse("schedules:create"), {"name": "X", "zone_choice": "UTC"}),
        ("post", reverse("schedules:edit", args=[s]), {"name": "X", "zone_choice": "UTC"}),
        ("post", reverse("schedules:delete", args=[s]), {}),
        ("get", reverse("schedules:layer-create", args=[s]), {}),
        ("post", reverse("schedules:layer-edit", args=[s, layer]), {"name": "X"}),
        ("post", reverse("schedules:layer-delete", args=[s, layer]), {}),
        ("get", reverse("policies:create"), {}),
        ("post", reverse("policies:create"), {"name": "X", "repeat": "0"}),
        ("post", reverse("policies:edit", args=[p]), {"name": "X", "repeat": "0"}),
        ("post", reverse("policies:delete", args=[p]), {}),
        ("post", reverse("policies:step-create", args=[p]), {"delay_minutes": "1"}),
        ("post", reverse("policies:step-edit", args=[p, step]), {"delay_minutes": "1"}),
        ("post", reverse("policies:step-delete", args=[p, step]), {}),
        ("post", reverse("policies:step-move", args=[p, step]), {"direction": "up"}),
        ("get", reverse("accounts:team-create"), {}),
        ("post", reverse("accounts:team-create"), {"name": "New"}),
        ("post", reverse("accounts:team-edit", args=[team]), {"name": "Renamed"}),
        ("post", reverse("accounts:team-delete", args=[team]), {}),
        ("post", reverse("accounts:member-add", args=[team]), {"username": "vera"}),
        ("post", reverse("accounts:member-role", args=[team, m]), {"role": "admin"}),
        ("post", reverse("accounts:member-remove", args=[team, m]), {}),
    ]


def state(w: dict[str, Any]) -> Any:
    """Everything the refused requests could have changed."""
    integration = Integration.objects.get(pk=w["integration"].pk)
    return (
        list(Integration.objects.values_list("name", "token", "topic_arn", "enabled")),
        integration.inbound_messages.get().outcome,
        list(Schedule.objects.values_list("name", "time_zone")),
        list(Layer.objects.values_list("name", "position")),
        list(Override.objects.values_list("id", "end")),
        list(EscalationPolicy.objects.values_list("name", "repeat")),
        list(EscalationStep.objects.values_list("id", "position", "delay_minutes")),
        list(Team.objects.values_list("name", flat=True)),
        list(Membership.objects.values_list("team__name", "user__username", "role")),
    )


# -------------------------------------------------------------------------- role_of


def test_a_role_is_the_highest_any_membership_gives() -> None:
    viewer_only = member("v", VIEWER)
    both = member("b", VIEWER)
    Membership.objects.create(team=TeamFactory(), user=both, role=RESPONDER)
    nobody = UserFactory(username="n", password=None)
    staff = UserFactory(username="s", password=None, is_staff=True)
    gone = member("g", ADMIN)
    gone.is_active = False

    assert role_of(viewer_only) == VIEWER
    assert role_of(both) == RESPONDER
    assert role_of(nobody) == RESPONDER  # users made through the API start as responders
    assert role_of(member("a", ADMIN)) == ADMIN
    assert role_of(staff) == ADMIN
    assert role_of(gone) is None


# -------------------------------------------------------------------------- viewers


def test_a_viewer_is_refused_every_admin_page_and_nothing_changes(
    viewer: User, world: dict[str, Any]
) -> None:
    client = browser(viewer)
    before = state(world)

    for method, url, data in admin_pages(world):
        response = getattr(client, method)(url, data)
        assert response.status_code == 403, (method, url)
        assertContains(response, FORBIDDEN_PAGE, status_code=403)

    assert state(world) == before


def test_a_viewer_cannot_send_a_test_alert_or_touch_overrides(
    viewer: User, world: dict[str, Any]
) -> None:
    client = browser(viewer)
    s = world["schedule"].pk
    tries = [
        ("post", reverse("integrations:test-alert", args=[world["integration"].pk])),
        ("get", reverse("schedules:override-create", args=[s])),
        ("post", reverse("schedules:override-create", args=[s])),
        ("post", reverse("schedules:override-delete", args=[s, world["override"].pk])),
    ]
    for method, url in tries:
        response = getattr(client, method)(url)
        assert response.status_code == 403, url
        assertContains(
            response, "This needs a responder or an admin; you are a viewer.", status_code=403
        )
    assert not Incident.objects.exists()
    assert Override.objects.filter(pk=world["override"].pk).exists()


def test_a_viewer_reads_every_page(viewer: User, world: dict[str, Any]) -> None:
    client = browser(viewer)
    urls = [
        reverse("integrations:list"),
        reverse("integrations:detail", args=[world["integration"].pk]),
        reverse("integrations:inbound-list"),
        reverse("integrations:inbound-detail", args=[world["confirmation"].pk]),
        reverse("schedules:list"),
        reverse("schedules:detail", args=[world["schedule"].pk]),
        reverse("policies:list"),
        reverse("policies:detail", args=[world["policy"].pk]),
        reverse("accounts:teams"),
        reverse("accounts:team-detail", args=[world["team"].pk]),
        reverse("audit:list"),
    ]
    for url in urls:
        assert client.get(url).status_code == 200, url


def test_a_viewer_reads_the_api_but_every_write_is_a_403_with_a_reason(
    viewer: User, world: dict[str, Any]
) -> None:
    client = api(viewer)
    i, s, p = world["integration"].pk, world["schedule"].pk, world["policy"].pk
    before = state(world)
    policy_body = {"name": "X", "steps": [{"users": [world["alice"].pk]}]}
    writes = [
        ("post", "/api/v1/integrations/", {"name": "X", "kind": "aws_sns"}),
        ("patch", f"/api/v1/integrations/{i}/", {"enabled": False}),
        ("delete", f"/api/v1/integrations/{i}/", None),
        ("post", f"/api/v1/integrations/{i}/rotate-url/", None),
        ("post", "/api/v1/schedules/", {"name": "X", "layers": []}),
        ("post", f"/api/v1/schedules/{s}/overrides/", {}),
        ("post", "/api/v1/escalation-policies/", policy_body),
        ("put", f"/api/v1/escalation-policies/{p}/", policy_body),
        ("post", "/api/v1/users/", {"username": "x", "email": "x@example.com"}),
    ]
    for method, url, data in writes:
        response = post_json(client, url, data, method)
        assert response.status_code == 403, (method, url)
        assert "viewer" in response.json()["detail"] or "admin" in response.json()["detail"]

    assert state(world) == before
    for url in (
        "/api/v1/integrations/",
        f"/api/v1/integrations/{i}/",
        "/api/v1/schedules/",
        f"/api/v1/schedules/{s}/overrides/",
        "/api/v1/escalation-policies/",
        "/api/v1/users/",
    ):
        assert client.get(url).status_code == 200, url


def test_a_viewer_sees_no_buttons_they_cannot_use(viewer: User, world: dict[str, Any]) -> None:
    client = browser(viewer)
    integration = client.get(reverse("integrations:detail", args=[world["integration"].pk]))
    for label in (
        "Send test alert",
        "Rotate URL",
        "Re-bind to another topic",
        ">Edit<",
        ">Delete<",
    ):
        assertNotContains(integration, label)
    assertNotContains(client.get(reverse("integrations:list")), "New integration")
    confirmation = client.get(
        reverse("integrations:inbound-detail", args=[world["confirmation"].pk])
    )
    assertNotContains(confirmation, "Confirm subscription</button>")
    assertContains(confirmation, "an admin can confirm it here")

    schedule = client.get(reverse("schedules:detail", args=[world["schedule"].pk]))
    for label in ("Add override", "Add layer", ">Edit<", ">Delete<", "/overrides/new/"):
        assertNotContains(schedule, label)
    assertNotContains(client.get(reverse("schedules:list")), "New schedule")

    policy = client.get(reverse("policies:detail", args=[world["policy"].pk]))
    for label in ("Add step", "Move step", ">Edit<", ">Delete<"):
        assertNotContains(policy, label)
    assertNotContains(client.get(reverse("policies:list")), "New policy")

    team = client.get(reverse("accounts:team-detail", args=[world["team"].pk]))
    for label in ("Add a member", "Change role", ">Remove<", ">Edit<"):
        assertNotContains(team, label)
    assertContains(team, '<span class="badge">Responder</span>', html=True)
    assertNotContains(client.get(reverse("accounts:teams")), "New team")


def test_an_admin_sees_the_buttons(world: dict[str, Any]) -> None:
    client = browser(member("boss", ADMIN))
    integration = client.get(reverse("integrations:detail", args=[world["integration"].pk]))
    for label in ("Send test alert", "Rotate URL", "Re-bind to another topic", ">Edit<"):
        assertContains(integration, label)
    policy = client.get(reverse("policies:detail", args=[world["policy"].pk]))
    for label in ("Add step", "Move step 2 up", ">Edit<"):
        assertContains(policy, label)
    schedule = client.get(reverse("schedules:detail", args=[world["schedule"].pk]))
    for label in ("Add override", "Add layer", ">Edit<"):
        assertContains(schedule, label)
    assertContains(
        client.get(reverse("accounts:team-detail", args=[world["team"].pk])), "Add a member"
    )


# ----------------------------------------------------------------------- responders


def test_a_responder_adds_and_deletes_an_override_on_the_page(
    responder: User, world: dict[str, Any]
) -> None:
    client = browser(responder)
    s = world["schedule"].pk
    response = client.post(
        reverse("schedules:override-create", args=[s]),
        {"user": responder.pk, "start": "2026-06-01T09:00", "end": "2026-06-01T17:00"},
    )
    assert response.status_code == 302
    mine = Override.objects.get(user=responder)
    assert mine.schedule_id == s

    response = client.post(reverse("schedules:override-delete", args=[s, mine.pk]))
    assert response.status_code == 302
    assert not Override.objects.filter(pk=mine.pk).exists()


def test_a_responder_adds_an_override_over_the_api(responder: User, world: dict[str, Any]) -> None:
    response = post_json(
        api(responder),
        f"/api/v1/schedules/{world['schedule'].pk}/overrides/",
        {"user": responder.pk, "start": "2026-06-01T09:00Z", "end": "2026-06-01T17:00Z"},
    )
    assert response.status_code == 201, response.content
    assert Override.objects.filter(user=responder).count() == 1


def test_a_responder_cannot_edit_a_policy_on_the_page_or_the_api(
    responder: User, world: dict[str, Any]
) -> None:
    policy = world["policy"]
    page = browser(responder).post(
        reverse("policies:edit", args=[policy.pk]), {"name": "Mine now", "repeat": "3"}
    )
    assert page.status_code == 403
    assertContains(page, "This needs an admin; you are a responder.", status_code=403)
    move = browser(responder).post(
        reverse("policies:step-move", args=[policy.pk, world["step"].pk]), {"direction": "up"}
    )
    assert move.status_code == 403
    put = post_json(
        api(responder),
        f"/api/v1/escalation-policies/{policy.pk}/",
        {"name": "Mine now", "steps": [{"users": [responder.pk]}]},
        "put",
    )
    assert put.status_code == 403
    assert put.json()["detail"] == "Only an admin can change this."

    policy.refresh_from_db()
    assert (policy.name, policy.repeat) == ("Prod policy", 0)
    assert list(policy.steps.order_by("position").values_list("delay_minutes", flat=True)) == [
        5,
        6,
    ]


def test_a_responder_sends_a_test_alert_but_cannot_rotate_the_url(
    responder: User, world: dict[str, Any]
) -> None:
    integration = world["integration"]
    client = browser(responder)
    page = client.get(reverse("integrations:detail", args=[integration.pk]))
    assertContains(page, "Send test alert")
    assertNotContains(page, "Rotate URL")

    response = client.post(reverse("integrations:test-alert", args=[integration.pk]))
    assert response.status_code == 302
    assert Incident.objects.get().integration_id == integration.pk

    token = integration.token
    assert client.post(reverse("integrations:rotate", args=[integration.pk])).status_code == 403
    integration.refresh_from_db()
    assert integration.token == token


def test_a_responder_sees_override_links_but_not_the_rotation_buttons(
    responder: User, world: dict[str, Any]
) -> None:
    page = browser(responder).get(reverse("schedules:detail", args=[world["schedule"].pk]))
    assertContains(page, "Add override")
    assertContains(page, "/overrides/new/?start=")
    assertContains(page, "Delete this override?")
    assertNotContains(page, "Add layer")
    assertNotContains(page, reverse("schedules:edit", args=[world["schedule"].pk]))


# --------------------------------------------------------------- admins by membership


def test_a_team_admin_who_is_not_staff_manages_everything(
    team_admin: User, world: dict[str, Any]
) -> None:
    assert not team_admin.is_staff
    client = browser(team_admin)

    created = client.post(reverse("integrations:create"), {"name": "New", "kind": "aws_sns"})
    assert created.status_code == 302
    assert Integration.objects.filter(name="New").exists()

    policy = world["policy"]
    edited = client.post(reverse("policies:edit", args=[policy.pk]), {"name": "P2", "repeat": "1"})
    assert edited.status_code == 302
    moved = client.post(
        reverse("policies:step-move", args=[policy.pk, world["step"].pk]), {"direction": "up"}
    )
    assert moved.status_code == 302
    policy.refresh_from_db()
    assert (policy.name, policy.repeat) == ("P2", 1)
    assert list(policy.steps.order_by("position").values_list("delay_minutes", flat=True)) == [
        6,
        5,
    ]

    schedule = client.post(reverse("schedules:create"), {"name": "Rota", "zone_choice": "UTC"})
    assert schedule.status_code == 302
    assert Schedule.objects.filter(name="Rota").exists()

    team = client.post(reverse("accounts:team-create"), {"name": "Platform"})
    assert team.status_code == 302
    assert Team.objects.filter(name="Platform").exists()

    via_api = post_json(
        api(team_admin), "/api/v1/integrations/", {"name": "Api", "kind": "aws_sns"}
    )
    assert via_api.status_code == 201
    rotated = api(team_admin).post(f"/api/v1/integrations/{via_api.json()['id']}/rotate-url/")
    assert rotated.status_code == 200


def test_signed_out_people_are_sent_to_sign_in(world: dict[str, Any]) -> None:
    client = Client()
    for _method, url, data in admin_pages(world)[:3]:
        response = client.post(url, data)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
