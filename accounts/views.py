from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.models import Team


@login_required
def team_list(request: HttpRequest) -> HttpResponse:
    teams = Team.objects.annotate(member_count=Count("members")).prefetch_related(
        "memberships__user"
    )
    return render(request, "accounts/team_list.html", {"teams": teams})
