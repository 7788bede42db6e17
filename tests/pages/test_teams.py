"""The Teams page (members and roles; admins create teams and manage members, audited)
and the "Team" filter of the integration and schedule lists."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from accounts.models import Membership, Team, User
from accounts.roles import role_of
from accounts.teams import team_ids_of
from audit.models import AuditEntry
from schedules.models import Override, Schedule
from tests.factories import IntegrationFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ops() -> Team:
    return Team.objects.create(name="Ops", description="Keeps the lights on.")


@pytest.fixture
def admin(ops: Team) -> User:
    """An admin through the Ops team, not staff."""
    user: User = UserFactory(username="ada", first_name="Ada", password=None)
    Membership.objects.create(team=ops, user=user, role=Membership.Role.ADMIN)
    return user


@pytest.fixture
def browser(admin: User) -> Client:
    client = Client()
    client.force_login(admin)
    return client


def audited(object_type: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(object_type=object_type).order_by("at", "id"))


# ---------------------------------------------------------------------------- reading


def test_everyone_sees_the_teams_with_their_members_and_roles(admin: User, ops: Team) -> None:
    vera = UserFactory(username="vera", first_name="Vera", last_name="Voss", password=None)
    Membership.objects.create(team=ops, user=vera, role=Membership.Role.VIEWER)
    Team.objects.create(name="Empty")
    client = Client()
    client.force_login(vera)

    page = client.get(reverse("accounts:teams"))

    assertContains(page, "Ops")
    assertContains(page, "2 members")
    assertContains(page, "Vera Voss")
    assertContains(page, "(Viewer)")
    assertContains(page, "(Admin)")
    assertContains(page, "No members yet.")
    assertContains(page, "you are a viewer")
    detail = client.get(reverse("accounts:team-detail", args=[ops.pk]))
    assertContains(detail, "Keeps the lights on.")
    assertContains(detail, "<strong>vera</strong>", html=True)


# ---------------------------------------------------------------------------- writing


def test_an_admin_creates_a_team_and_it_is_audited(browser: Client, admin: User) -> None:
    response = browser.post(
        reverse("accounts:team-create"), {"name": "Platform", "description": "AWS accounts"}
    )
    team = Team.objects.get(name="Platform")
    assert response["Location"] == reverse("accounts:team-detail", args=[team.pk])
    entry = audited("team")[0]
    assert (entry.action, entry.actor, entry.object_id) == ("created", admin, team.pk)
    assert entry.after == {"name": "Platform", "description": "AWS accounts"}


def test_a_team_name_is_unique(browser: Client, ops: Team) -> None:
    response = browser.post(reverse("accounts:team-create"), {"name": "Ops"})
    assert response.status_code == 200
    assertContains(response, "already exists")
    assert Team.objects.filter(name="Ops").count() == 1
    assert not AuditEntry.objects.exists()


def test_an_admin_adds_a_member_with_a_role(browser: Client, admin: User, ops: Team) -> None:
    bob = UserFactory(username="bob", password=None)

    response = browser.post(
        reverse("accounts:member-add", args=[ops.pk]), {"username": "bob", "role": "viewer"}
    )

    assert response.status_code == 302
    membership = Membership.objects.get(team=ops, user=bob)
    assert membership.role == "viewer"
    assert role_of(User.objects.get(pk=bob.pk)) == "viewer"
    entry = audited("membership")[0]
    assert (entry.action, entry.actor, entry.object_repr) == ("created", admin, "bob in Ops")
    assert entry.after == {
        "team": {"id": ops.pk, "name": "Ops"},
        "user": {"id": bob.pk, "name": "bob"},
        "role": "viewer",
    }
    page = browser.get(response["Location"])
    assertContains(page, "Added bob as viewer.")


def test_adding_an_unknown_user_or_a_member_twice_explains_why(
    browser: Client, admin: User, ops: Team
) -> None:
    url = reverse("accounts:member-add", args=[ops.pk])
    unknown = browser.post(url, {"username": "nobody", "role": "responder"})
    assert unknown.status_code == 400
    assertContains(unknown, "No active user named nobody.", status_code=400)

    again = browser.post(url, {"username": "ada", "role": "viewer"})
    assert again.status_code == 400
    assertContains(again, "ada is already in Ops; change their role below.", status_code=400)
    assert Membership.objects.get(team=ops, user=admin).role == "admin"
    assert not AuditEntry.objects.exists()


def test_changing_a_role_takes_effect_and_is_audited(browser: Client, ops: Team) -> None:
    vera = UserFactory(username="vera", password=None)
    membership = Membership.objects.create(team=ops, user=vera, role=Membership.Role.VIEWER)
    schedule = Schedule.objects.create(name="Primary", time_zone="UTC")
    vera_browser = Client()
    vera_browser.force_login(vera)
    override = {"user": vera.pk, "start": "2026-06-01T09:00", "end": "2026-06-01T17:00"}
    create_override = reverse("schedules:override-create", args=[schedule.pk])
    assert vera_browser.post(create_override, override).status_code == 403

    response = browser.post(
        reverse("accounts:member-role", args=[ops.pk, membership.pk]), {"role": "responder"}
    )

    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.role == "responder"
    entry = audited("membership")[0]
    assert (entry.action, entry.changes) == ("changed", {"role": ["viewer", "responder"]})
    assert vera_browser.post(create_override, override).status_code == 302
    assert Override.objects.get().user == vera


def test_an_unusable_role_changes_nothing(browser: Client, ops: Team) -> None:
    vera = UserFactory(username="vera", password=None)
    membership = Membership.objects.create(team=ops, user=vera, role=Membership.Role.VIEWER)
    browser.post(reverse("accounts:member-role", args=[ops.pk, membership.pk]), {"role": "root"})
    membership.refresh_from_db()
    assert membership.role == "viewer"
    assert not AuditEntry.objects.exists()


def test_removing_a_member_is_audited(browser: Client, admin: User, ops: Team) -> None:
    bob = UserFactory(username="bob", password=None)
    membership = Membership.objects.create(team=ops, user=bob, role=Membership.Role.RESPONDER)
    other_team = TeamFactory()

    wrong_team = browser.post(
        reverse("accounts:member-remove", args=[other_team.pk, membership.pk])
    )
    assert wrong_team.status_code == 404
    response = browser.post(reverse("accounts:member-remove", args=[ops.pk, membership.pk]))

    assert response.status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()
    entry = audited("membership")[0]
    assert (entry.action, entry.actor, entry.after) == ("deleted", admin, None)
    assert entry.before is not None and entry.before["role"] == "responder"


def test_renaming_and_deleting_a_team_are_audited_with_its_memberships(
    browser: Client, admin: User
) -> None:
    team = Team.objects.create(name="Platform")
    bob = UserFactory(username="bob", password=None)
    Membership.objects.create(team=team, user=bob, role=Membership.Role.RESPONDER)

    browser.post(reverse("accounts:team-edit", args=[team.pk]), {"name": "Platform team"})
    assertContains(browser.get(reverse("accounts:team-delete", args=[team.pk])), "Delete")
    response = browser.post(reverse("accounts:team-delete", args=[team.pk]))

    assert response["Location"] == reverse("accounts:teams")
    assert not Team.objects.filter(pk=team.pk).exists()
    renamed, deleted = audited("team")
    assert renamed.changes == {"name": ["Platform", "Platform team"]}
    assert (deleted.action, deleted.before, deleted.after) == (
        "deleted",
        {"name": "Platform team", "description": ""},
        None,
    )
    membership_deleted = audited("membership")[0]
    assert membership_deleted.object_repr == "bob in Platform team"
    assert membership_deleted.action == "deleted"


def test_a_team_admin_sees_the_management_forms(browser: Client, ops: Team) -> None:
    page = browser.get(reverse("accounts:team-detail", args=[ops.pk]))
    assertContains(page, "Add a member")
    assertContains(page, "Change role")
    assertContains(page, '<option value="admin" selected>Admin</option>', html=True)
    assertContains(browser.get(reverse("accounts:teams")), "New team")


# ------------------------------------------------------------------------ team filter


def test_team_ids_of_lists_the_teams_a_user_is_in(admin: User, ops: Team) -> None:
    other = TeamFactory()
    Membership.objects.create(team=other, user=admin, role=Membership.Role.VIEWER)
    TeamFactory()
    assert team_ids_of(admin) == sorted([ops.pk, other.pk])
    assert team_ids_of(UserFactory(password=None)) == []
    assert team_ids_of(None) == []


def names_in(page: Any, kind: str) -> list[str]:
    if kind == "integrations":
        return sorted(i.name for i in page.context["integrations"])
    return sorted(row.schedule.name for row in page.context["summaries"])


@pytest.mark.parametrize("kind", ["integrations", "schedules"])
def test_lists_filter_by_team_and_by_my_teams(browser: Client, ops: Team, kind: str) -> None:
    dev = Team.objects.create(name="Dev")
    if kind == "integrations":
        IntegrationFactory(name="Ops alarms", team=ops)
        IntegrationFactory(name="Dev alarms", team=dev)
        IntegrationFactory(name="Nobody's", team=None)
        url = reverse("integrations:list")
    else:
        Schedule.objects.create(name="Ops alarms", team=ops)
        Schedule.objects.create(name="Dev alarms", team=dev)
        Schedule.objects.create(name="Nobody's")
        url = reverse("schedules:list")

    assert names_in(browser.get(url), kind) == ["Dev alarms", "Nobody's", "Ops alarms"]
    assert names_in(browser.get(f"{url}?team={dev.pk}"), kind) == ["Dev alarms"]
    mine = browser.get(f"{url}?team=mine")
    assert names_in(mine, kind) == ["Ops alarms"]
    assertContains(mine, '<option value="mine" selected>My teams</option>', html=True)
    assert names_in(browser.get(f"{url}?team=garbage"), kind) == [
        "Dev alarms",
        "Nobody's",
        "Ops alarms",
    ]
    empty = browser.get(f"{url}?team={dev.pk + 100}")
    assertContains(empty, "this team")
    assertNotContains(empty, "Ops alarms")


def test_my_teams_is_empty_for_someone_in_no_team() -> None:
    IntegrationFactory(name="Ops alarms", team=TeamFactory())
    loner = UserFactory(username="loner", password=None)
    client = Client()
    client.force_login(loner)
    page = client.get(reverse("integrations:list") + "?team=mine")
    assert list(page.context["integrations"]) == []
    assertContains(page, "No integrations of your teams.")
