from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.models import User
from accounts.roles import ADMIN, RESPONDER, role_required
from accounts.teams import team_filter, team_filter_context
from escalation.models import EscalationPolicy
from schedules import oncall, services
from schedules.feeds import feed_url
from schedules.forms import (
    LayerForm,
    OverrideForm,
    ScheduleForm,
)
from schedules.models import Layer, Override, Schedule
from schedules.selectors import schedule_spec, schedules_with_rotations
from schedules.timeline import (
    local_span,
    local_when,
    schedule_timeline,
    user_names,
    users_by_id,
)

WEEKDAY_NAMES = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


# ---------------------------------------------------------------------------
# Schedules


@dataclass(frozen=True)
class OnCallSummary:
    schedule: Schedule
    now_names: str
    until: str
    next_names: str


def _schedules_with_spec_data() -> QuerySet[Schedule]:
    return schedules_with_rotations().select_related("team").order_by("name", "pk")


@login_required
def schedule_list(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    selected = team_filter(request.GET.get("team"), request.user)
    rows: list[tuple[Schedule, zoneinfo.ZoneInfo, oncall.OnCall, oncall.OnCall | None]] = []
    for schedule in selected.apply(_schedules_with_spec_data()):
        spec = schedule_spec(schedule)
        current = oncall.who_is_on_call(spec, now)
        following = oncall.who_is_on_call(spec, current.until) if current.until else None
        rows.append((schedule, schedule.zone, current, following))
    users = users_by_id(
        i for _, _, cur, nxt in rows for i in (*cur.user_ids, *(nxt.user_ids if nxt else ()))
    )
    summaries = [
        OnCallSummary(
            schedule=schedule,
            now_names=user_names(current.user_ids, users),
            until=local_when(current.until, zone) if current.until else "",
            next_names=user_names(following.user_ids, users) if following else "",
        )
        for schedule, zone, current, following in rows
    ]
    return render(
        request,
        "schedules/list.html",
        {
            "summaries": summaries,
            "team_filter_on": selected.active,
            **team_filter_context(selected),
        },
    )


@role_required(ADMIN)
def schedule_create(request: HttpRequest) -> HttpResponse:
    form = ScheduleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        schedule = services.schedule_save(actor=request.user, schedule=form.save(commit=False))
        messages.success(request, f"Created {schedule.name}. Add a layer to put people on call.")
        return redirect("schedules:detail", schedule.pk)
    return render(request, "schedules/form.html", {"form": form, "schedule": None})


@role_required(ADMIN)
def schedule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    schedule = get_object_or_404(Schedule, pk=pk)
    form = ScheduleForm(request.POST or None, instance=schedule)
    if request.method == "POST" and form.is_valid():
        services.schedule_save(actor=request.user, schedule=form.save(commit=False))
        messages.success(request, "Saved.")
        return redirect("schedules:detail", schedule.pk)
    return render(request, "schedules/form.html", {"form": form, "schedule": schedule})


@role_required(ADMIN)
def schedule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    schedule = get_object_or_404(Schedule, pk=pk)
    if request.method == "POST":
        name = schedule.name
        services.schedule_delete(actor=request.user, schedule=schedule)
        messages.success(request, f"Deleted {name}.")
        return redirect("schedules:list")
    used_by = EscalationPolicy.objects.filter(steps__schedules=schedule).distinct()
    return render(
        request,
        "confirm_delete.html",
        {
            "title": f"Delete {schedule.name}?",
            "text": "Its layers and overrides are deleted with it.",
            "used_by": used_by,
            "cancel_url": reverse("schedules:detail", args=[schedule.pk]),
        },
    )


def _restriction_text(layer: Layer) -> str:
    parts = []
    if layer.restrict_weekdays:
        parts.append("on " + ", ".join(WEEKDAY_NAMES[d] for d in sorted(layer.restrict_weekdays)))
    if layer.restrict_start is not None and layer.restrict_end is not None:
        parts.append(f"{layer.restrict_start:%H:%M}–{layer.restrict_end:%H:%M}")
    return "Only " + " ".join(parts) if parts else ""


@login_required
def schedule_detail(request: HttpRequest, pk: int) -> HttpResponse:
    schedule = get_object_or_404(_schedules_with_spec_data(), pk=pk)
    zone = schedule.zone
    spec = schedule_spec(schedule)
    now = timezone.now()
    overrides = list(
        Override.objects.filter(schedule=schedule, end__gt=now).select_related("user")
    )
    layers = list(schedule.layers.all())
    member_ids = {m.user_id for layer in layers for m in layer.members.all()}
    timeline = schedule_timeline(schedule, spec, overrides, zone, now.astimezone(zone).date())
    users = users_by_id(member_ids)
    layer_rows = [
        {
            "layer": layer,
            "members": [users.get(m.user_id) for m in layer.members.all()],
            "restriction": _restriction_text(layer),
        }
        for layer in layers
    ]
    return render(
        request,
        "schedules/detail.html",
        {
            "schedule": schedule,
            "ical_url": feed_url("schedule", schedule.ical_token),
            "zone": zone.key,
            "layers": layer_rows,
            "overrides": [
                {"override": o, "span": local_span(o.start, o.end, zone), "user": o.user}
                for o in overrides
            ],
            **timeline,
        },
    )


@role_required(ADMIN)
def layer_create(request: HttpRequest, pk: int) -> HttpResponse:
    schedule = get_object_or_404(Schedule, pk=pk)
    form = LayerForm(request.POST or None, instance=Layer(schedule=schedule))
    if request.method == "POST" and form.is_valid():
        layer = services.layer_save(
            actor=request.user, layer=form.save(commit=False), users=form.users
        )
        messages.success(request, f"Added layer {layer.name}.")
        return redirect("schedules:detail", schedule.pk)
    return _layer_form(request, schedule, form, None)


@role_required(ADMIN)
def layer_edit(request: HttpRequest, pk: int, layer_pk: int) -> HttpResponse:
    layer = get_object_or_404(
        Layer.objects.select_related("schedule"), pk=layer_pk, schedule_id=pk
    )
    form = LayerForm(request.POST or None, instance=layer)
    if request.method == "POST" and form.is_valid():
        services.layer_save(actor=request.user, layer=form.save(commit=False), users=form.users)
        messages.success(request, f"Saved layer {layer.name}.")
        return redirect("schedules:detail", pk)
    return _layer_form(request, layer.schedule, form, layer)


def _layer_form(
    request: HttpRequest, schedule: Schedule, form: LayerForm, layer: Layer | None
) -> HttpResponse:
    usernames = User.objects.filter(is_active=True).order_by("username")
    return render(
        request,
        "schedules/layer_form.html",
        {"schedule": schedule, "form": form, "layer": layer, "usernames": usernames},
    )


@role_required(ADMIN)
def layer_delete(request: HttpRequest, pk: int, layer_pk: int) -> HttpResponse:
    layer = get_object_or_404(Layer, pk=layer_pk, schedule_id=pk)
    if request.method == "POST":
        services.layer_delete(actor=request.user, layer=layer)
        messages.success(request, f"Deleted layer {layer.name}.")
        return redirect("schedules:detail", pk)
    return render(
        request,
        "confirm_delete.html",
        {
            "title": f"Delete layer {layer.name}?",
            "text": "Its people stop being on call through this layer at once.",
            "cancel_url": reverse("schedules:detail", args=[pk]),
        },
    )


def _param_time(raw: str | None) -> datetime | None:
    """An aware datetime from a shift link's ?start=/&end= (ISO 8601), or None."""
    try:
        moment = datetime.fromisoformat(raw or "")
    except ValueError:
        return None
    return moment if timezone.is_aware(moment) else None


@role_required(RESPONDER)
def override_create(request: HttpRequest, pk: int) -> HttpResponse:
    schedule = get_object_or_404(Schedule, pk=pk)
    zone = schedule.zone
    # Times in the form are the schedule's local times, whatever the viewer's zone.
    with timezone.override(zone):
        initial = {
            "start": _param_time(request.GET.get("start")),
            "end": _param_time(request.GET.get("end")),
        }
        form = OverrideForm(
            request.POST or None, instance=Override(schedule=schedule), initial=initial
        )
        if request.method == "POST" and form.is_valid():
            override = services.override_create(
                actor=request.user, override=form.save(commit=False)
            )
            messages.success(
                request,
                f"{override.user} is on call {local_span(override.start, override.end, zone)}.",
            )
            return redirect("schedules:detail", schedule.pk)
        return render(
            request,
            "schedules/override_form.html",
            {"schedule": schedule, "form": form, "zone": zone.key},
        )


@role_required(RESPONDER)
@require_POST
def override_delete(request: HttpRequest, pk: int, override_pk: int) -> HttpResponse:
    override = get_object_or_404(Override, pk=override_pk, schedule_id=pk)
    services.override_delete(actor=request.user, override=override)
    messages.success(request, "Override deleted.")
    return redirect("schedules:detail", pk)


@role_required(ADMIN)
@require_POST
def schedule_rotate_feed(request: HttpRequest, pk: int) -> HttpResponse:
    schedule = get_object_or_404(Schedule, pk=pk)
    services.schedule_rotate_feed(actor=request.user, schedule=schedule)
    messages.success(
        request, "The calendar feed has a new URL; the old one stopped working. Subscribe again."
    )
    return redirect(reverse("schedules:detail", args=[pk]) + "#calendar-feed")
