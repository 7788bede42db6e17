from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.models import Membership, Team


@login_required
def team_list(request: HttpRequest) -> HttpResponse:
    # The template shows each member's phone (User.phone reads contact_methods.all()):
    # prefetched, so the page costs the same few queries however many members there are.
    members = Membership.objects.select_related("user").order_by("user__username")
    teams = Team.objects.annotate(member_count=Count("members")).prefetch_related(
        Prefetch("memberships", queryset=members),
        "memberships__user__contact_methods",
    )
    return render(request, "accounts/team_list.html", {"teams": teams})
