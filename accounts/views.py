"""The Teams page: everyone signed in reads who is in which team with which role; admins
create, rename and delete teams and add, re-role and remove members (each audited)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts import teams
from accounts.models import Membership, Team, User
from accounts.roles import ADMIN, remember_role, role_required
from accounts.team_forms import MemberAddForm, MemberRoleForm, TeamForm


def _teams_with_members() -> QuerySet[Team]:
    # The template shows each member's phone (User.phone reads contact_methods.all()):
    # prefetched, so the page costs the same few queries however many members there are.
    members = Membership.objects.select_related("user").order_by("user__username")
    return Team.objects.annotate(member_count=Count("members")).prefetch_related(
        Prefetch("memberships", queryset=members),
        "memberships__user__contact_methods",
    )


@login_required
def team_list(request: HttpRequest) -> HttpResponse:
    all_teams = list(_teams_with_members())
    # Every membership is on this page already: the viewer's own teams and role come from
    # it rather than from two more queries.
    mine = [
        m for team in all_teams for m in team.memberships.all() if m.user_id == request.user.pk
    ]
    remember_role(request.user, (m.role for m in mine))
    return render(
        request,
        "accounts/team_list.html",
        {"teams": all_teams, "my_team_ids": {m.team_id for m in mine}},
    )


@role_required(ADMIN)
def team_create(request: HttpRequest) -> HttpResponse:
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            team = teams.team_create(
                actor=request.user,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
            )
        except teams.TeamError as exc:
            form.add_error("name", str(exc))
        else:
            messages.success(request, f"Created {team.name}. Add its members.")
            return redirect("accounts:team-detail", team.pk)
    return render(request, "accounts/team_form.html", {"form": form, "team": None})


def _detail(
    request: HttpRequest,
    team: Team,
    add_form: MemberAddForm | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "accounts/team_detail.html",
        {
            "team": team,
            "add_form": add_form or MemberAddForm(),
            "roles": Membership.Role.choices,
            "usernames": User.objects.filter(is_active=True)
            .exclude(memberships__team=team)
            .order_by("username")
            .values_list("username", flat=True),
        },
        status=status,
    )


@login_required
def team_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, get_object_or_404(_teams_with_members(), pk=pk))


@role_required(ADMIN)
def team_edit(request: HttpRequest, pk: int) -> HttpResponse:
    team = get_object_or_404(Team, pk=pk)
    form = TeamForm(request.POST or None, instance=team)
    if request.method == "POST" and form.is_valid():
        try:
            teams.team_update(
                actor=request.user,
                team=team,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
            )
        except teams.TeamError as exc:
            form.add_error("name", str(exc))
        else:
            messages.success(request, "Saved.")
            return redirect("accounts:team-detail", team.pk)
    return render(request, "accounts/team_form.html", {"form": form, "team": team})


@role_required(ADMIN)
def team_delete(request: HttpRequest, pk: int) -> HttpResponse:
    team = get_object_or_404(Team, pk=pk)
    if request.method == "POST":
        teams.team_delete(actor=request.user, team=team)
        messages.success(request, f"Deleted {team.name}.")
        return redirect("accounts:teams")
    return render(request, "accounts/team_confirm_delete.html", {"team": team})


@role_required(ADMIN)
@require_POST
def member_add(request: HttpRequest, pk: int) -> HttpResponse:
    team = get_object_or_404(Team, pk=pk)
    form = MemberAddForm(request.POST)
    if form.is_valid():
        try:
            membership = teams.membership_add(
                actor=request.user,
                team=team,
                username=form.cleaned_data["username"].strip(),
                role=form.cleaned_data["role"],
            )
        except teams.TeamError as exc:
            form.add_error("username", str(exc))
        else:
            messages.success(
                request, f"Added {membership.user.get_username()} as {membership.role}."
            )
            return redirect("accounts:team-detail", team.pk)
    return _detail(
        request, get_object_or_404(_teams_with_members(), pk=pk), add_form=form, status=400
    )


@role_required(ADMIN)
@require_POST
def member_role(request: HttpRequest, pk: int, membership_pk: int) -> HttpResponse:
    membership = get_object_or_404(
        Membership.objects.select_related("user"), pk=membership_pk, team_id=pk
    )
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Pick admin, responder or viewer.")
    else:
        membership = teams.membership_set_role(
            actor=request.user, membership=membership, role=form.cleaned_data["role"]
        )
        messages.success(
            request, f"{membership.user.get_username()} is now {membership.get_role_display()}."
        )
    return redirect("accounts:team-detail", pk)


@role_required(ADMIN)
@require_POST
def member_remove(request: HttpRequest, pk: int, membership_pk: int) -> HttpResponse:
    membership = get_object_or_404(
        Membership.objects.select_related("user", "team"), pk=membership_pk, team_id=pk
    )
    teams.membership_remove(actor=request.user, membership=membership)
    messages.success(
        request, f"Removed {membership.user.get_username()} from {membership.team.name}."
    )
    return redirect("accounts:team-detail", pk)
