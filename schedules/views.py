from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from schedules.models import EscalationPolicy, Schedule


@login_required
def schedule_list(request: HttpRequest) -> HttpResponse:
    schedules = Schedule.objects.select_related("team").prefetch_related("layers__members__user")
    return render(request, "schedules/list.html", {"schedules": schedules})


@login_required
def policy_list(request: HttpRequest) -> HttpResponse:
    policies = EscalationPolicy.objects.select_related("team").prefetch_related(
        "steps__users", "steps__schedules", "steps__teams"
    )
    return render(request, "schedules/policy_list.html", {"policies": policies})
