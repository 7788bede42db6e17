"""Teams: who is in which team with which role, the "Team" filter of the lists, and the
writes behind the Teams page (each one audited in its own transaction)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from django.contrib.auth.models import AnonymousUser
from django.db import IntegrityError, transaction
from django.db.models import Model, QuerySet

from accounts.models import Membership, Team, User
from audit import services as audit
from config.ids import parse_id

MY_TEAMS = "mine"

M = TypeVar("M", bound=Model)


class TeamError(Exception):
    """A team change that cannot be made, in words for the person who asked."""


def team_ids_of(user: Any) -> list[int]:
    """Ids of the teams ``user`` is a member of (any role); [] when signed out."""
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    return sorted(Membership.objects.filter(user_id=user.pk).values_list("team_id", flat=True))


@dataclass(frozen=True)
class TeamFilter:
    """The ``?team=`` filter of a list: "" (every team), "mine" or a team id."""

    value: str
    team_ids: list[int] | None  # None: no filter

    def apply(self, rows: QuerySet[M], field: str = "team") -> QuerySet[M]:
        if self.team_ids is None:
            return rows
        return rows.filter(**{f"{field}__in": self.team_ids})

    @property
    def active(self) -> bool:
        return self.team_ids is not None


def team_filter(raw: str | None, user: Any) -> TeamFilter:
    """Parse ``?team=``: "mine" is the teams ``user`` belongs to, a number that team; any
    other value means no filter."""
    value = (raw or "").strip()
    if value == MY_TEAMS:
        return TeamFilter(MY_TEAMS, team_ids_of(user))
    team_id = parse_id(value)
    if team_id is not None:
        return TeamFilter(value, [team_id])
    return TeamFilter("", None)


def team_filter_context(selected: TeamFilter) -> dict[str, Any]:
    """What templates/accounts/_team_filter.html needs."""
    return {
        "team_choices": Team.objects.only("id", "name").order_by("name"),
        "selected_team": selected.value,
        "my_teams": MY_TEAMS,
    }


# ------------------------------------------------------------------------------ writes

Actor = User | AnonymousUser | None


def team_create(*, actor: Actor, name: str, description: str = "") -> Team:
    with transaction.atomic():
        if Team.objects.filter(name=name).exists():
            raise TeamError(f"There is already a team named {name}.")
        team = Team.objects.create(name=name, description=description)
        audit.record_saved(actor, team, before=None)
    return team


def team_update(*, actor: Actor, team: Team, name: str, description: str) -> Team:
    with transaction.atomic():
        current = Team.objects.select_for_update().get(pk=team.pk)
        if Team.objects.filter(name=name).exclude(pk=team.pk).exists():
            raise TeamError(f"There is already a team named {name}.")
        before = audit.snapshot(current)
        current.name, current.description = name, description
        current.save(update_fields=["name", "description"])
        audit.record_saved(actor, current, before=before)
    return current


def team_delete(*, actor: Actor, team: Team) -> None:
    """Delete a team; its memberships go with it, each with its own entry."""
    with transaction.atomic():
        team = Team.objects.select_for_update().get(pk=team.pk)
        for membership in team.memberships.select_related("user", "team"):
            audit.record(actor, audit.DELETED, membership, before=audit.snapshot(membership))
        audit.record(actor, audit.DELETED, team, before=audit.snapshot(team))
        team.delete()


def membership_add(*, actor: Actor, team: Team, username: str, role: str) -> Membership:
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        raise TeamError(f"No active user named {username}.")
    if role not in Membership.Role.values:
        raise TeamError(f"{role!r} is not a role.")
    try:
        with transaction.atomic():
            membership = Membership.objects.create(team=team, user=user, role=role)
            audit.record_saved(actor, membership, before=None)
    except IntegrityError:
        # The unique (team, user) constraint: already in, perhaps added a moment ago.
        raise TeamError(f"{username} is already in {team}; change their role below.") from None
    return membership


def membership_set_role(*, actor: Actor, membership: Membership, role: str) -> Membership:
    if role not in Membership.Role.values:
        raise TeamError(f"{role!r} is not a role.")
    with transaction.atomic():
        current = (
            Membership.objects.select_for_update()
            .select_related("user", "team")
            .get(pk=membership.pk)
        )
        before = audit.snapshot(current)
        current.role = role
        current.save(update_fields=["role"])
        audit.record_saved(actor, current, before=before)
    return current


def membership_remove(*, actor: Actor, membership: Membership) -> None:
    with transaction.atomic():
        current = (
            Membership.objects.select_for_update()
            .select_related("user", "team")
            .filter(pk=membership.pk)
            .first()
        )
        if current is None:
            return  # removed a moment ago by someone else: nothing left to do
        audit.record(actor, audit.DELETED, current, before=audit.snapshot(current))
        current.delete()
