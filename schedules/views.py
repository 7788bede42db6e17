from __future__ import annotations

import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_htmx.middleware import HtmxDetails

from accounts.models import User
from accounts.roles import ADMIN, RESPONDER, role_required
from accounts.teams import team_filter, team_filter_context
from schedules import oncall, services
from schedules.feeds import feed_url
from schedules.forms import (
    LayerForm,
    OverrideForm,
    PolicyForm,
    ScheduleForm,
    StepForm,
    StepMoveForm,
)
from schedules.models import (
    EscalationPolicy,
    EscalationStep,
    Layer,
    Override,
    Schedule,
)
from schedules.selectors import schedule_spec, schedules_with_rotations

TIMELINE_DAYS = 14
WEEKDAY_NAMES = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def _zone(schedule: Schedule) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(schedule.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        # The model validates the zone, but a row written around validation (admin
        # shell, an old zone removed from tzdata) must not break the page.
        return zoneinfo.ZoneInfo("UTC")


def _when(moment: datetime, zone: zoneinfo.ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %H:%M}"


def _span(start: datetime, end: datetime, zone: zoneinfo.ZoneInfo) -> str:
    return f"{_when(start, zone)} – {_when(end, zone)} {zone.key}"


def _names(user_ids: Iterable[int], users: dict[int, Any]) -> str:
    return ", ".join(str(users[i]) if i in users else f"user #{i}" for i in user_ids)


def _short_names(user_ids: Iterable[int], users: dict[int, Any]) -> str:
    """First names (or usernames): what fits in a narrow timeline block."""
    return ", ".join(
        (users[i].first_name or users[i].get_username()) if i in users else f"#{i}"
        for i in user_ids
    )


def _users_by_id(user_ids: Iterable[int]) -> dict[int, Any]:
    ids = set(user_ids)
    return get_user_model().objects.in_bulk(ids) if ids else {}


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
        rows.append((schedule, _zone(schedule), current, following))
    users = _users_by_id(
        i for _, _, cur, nxt in rows for i in (*cur.user_ids, *(nxt.user_ids if nxt else ()))
    )
    summaries = [
        OnCallSummary(
            schedule=schedule,
            now_names=_names(current.user_ids, users),
            until=_when(current.until, zone) if current.until else "",
            next_names=_names(following.user_ids, users) if following else "",
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
        "schedules/confirm_delete.html",
        {
            "title": f"Delete {schedule.name}?",
            "text": "Its layers and overrides are deleted with it.",
            "used_by": used_by,
            "cancel_url": reverse("schedules:detail", args=[schedule.pk]),
        },
    )


@dataclass(frozen=True)
class Block:
    """One bar on the timeline, placed in percent of the 14-day window."""

    left: float
    width: float
    label: str
    title: str
    kind: str  # "shift", "gap" (nobody on call in the final row), "off", "override"
    url: str = ""


@dataclass(frozen=True)
class Row:
    label: str
    kind: str
    blocks: list[Block]


@dataclass(frozen=True)
class Gap:
    start: datetime
    end: datetime
    text: str


def _placer(
    start: datetime, end: datetime
) -> Callable[[datetime, datetime], tuple[float, float] | None]:
    total = (end - start).total_seconds()

    def place(a: datetime, b: datetime) -> tuple[float, float] | None:
        a, b = max(a, start), min(b, end)
        if b <= a:
            return None
        left = (a - start).total_seconds() / total * 100
        return round(left, 4), round((b - a).total_seconds() / total * 100, 4)

    return place


def _utc_param(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _timeline(
    schedule: Schedule,
    spec: oncall.ScheduleSpec,
    overrides: list[Override],
    zone: zoneinfo.ZoneInfo,
    today: date,
) -> dict[str, Any]:
    start = datetime.combine(today, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(today + timedelta(days=TIMELINE_DAYS), time(0), tzinfo=zone).astimezone(
        UTC
    )
    place = _placer(start, end)
    final = oncall.final_shifts(spec, start, end)
    per_layer = [(layer, oncall.layer_shifts(spec, layer, start, end)) for layer in spec.layers]
    users = _users_by_id(
        i
        for shifts in [final, *(s for _, s in per_layer)]
        for shift in shifts
        for i in shift.user_ids
    )
    override_url = reverse("schedules:override-create", args=[schedule.pk])

    def blocks(shifts: list[oncall.Shift], *, final_row: bool) -> list[Block]:
        out = []
        for shift in shifts:
            spot = place(shift.start, shift.end)
            if spot is None or (not shift.user_ids and not final_row):
                continue
            names = _names(shift.user_ids, users) if shift.user_ids else "No one on call"
            short = _short_names(shift.user_ids, users) if shift.user_ids else "Nobody"
            kind = "shift" if shift.user_ids else ("gap" if final_row else "off")
            url = ""
            if final_row:
                query = urlencode({"start": _utc_param(shift.start), "end": _utc_param(shift.end)})
                url = f"{override_url}?{query}"
            out.append(
                Block(
                    *spot,
                    label=short,
                    title=f"{names}: {_span(shift.start, shift.end, zone)}",
                    kind=kind,
                    url=url,
                )
            )
        return out

    rows = [
        Row(label=f"{layer.name}", kind="layer", blocks=blocks(shifts, final_row=False))
        for layer, shifts in per_layer
    ]
    override_blocks = []
    for override in overrides:
        spot = place(override.start, override.end)
        if spot is not None:
            name = str(override.user)
            short = override.user.first_name or override.user.get_username()
            span = _span(override.start, override.end, zone)
            override_blocks.append(
                Block(
                    left=spot[0],
                    width=spot[1],
                    label=short,
                    title=f"{name}: {span}",
                    kind="override",
                )
            )
    rows.append(Row(label="Overrides", kind="overrides", blocks=override_blocks))
    rows.append(Row(label="Final", kind="final", blocks=blocks(final, final_row=True)))

    days = []
    for offset in range(TIMELINE_DAYS):
        day = today + timedelta(days=offset)
        a = datetime.combine(day, time(0), tzinfo=zone)
        b = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
        spot = place(a, b)
        if spot:
            label = f"{day:%a} {day.day}" + (f" {day:%b}" if offset == 0 or day.day == 1 else "")
            days.append(
                {"left": spot[0], "width": spot[1], "label": label, "weekend": day.weekday() >= 5}
            )

    gaps: list[Gap] = []
    for shift in final:
        if shift.user_ids:
            continue
        a, b = max(shift.start, start), min(shift.end, end)
        if gaps and gaps[-1].end == a:  # merge touching gaps into one line
            a = gaps.pop().start
        gaps.append(Gap(a, b, f"No one on call: {_span(a, b, zone)}"))

    now_spot = place(timezone.now(), end)
    shifts_list = [
        {
            "names": _names(s.user_ids, users) if s.user_ids else "",
            "span": _span(max(s.start, start), min(s.end, end), zone),
            "url": f"{override_url}?"
            + urlencode({"start": _utc_param(s.start), "end": _utc_param(s.end)}),
        }
        for s in final
        if s.end > start and s.start < end
    ]
    return {
        "rows": rows,
        "days": days,
        "gaps": gaps,
        "now_left": now_spot[0] if now_spot and now_spot[0] > 0 else None,
        "final_shifts": shifts_list,
        "window": _span(start, end, zone),
    }


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
    zone = _zone(schedule)
    spec = schedule_spec(schedule)
    now = timezone.now()
    overrides = list(
        Override.objects.filter(schedule=schedule, end__gt=now).select_related("user")
    )
    layers = list(schedule.layers.all())
    member_ids = {m.user_id for layer in layers for m in layer.members.all()}
    timeline = _timeline(schedule, spec, overrides, zone, now.astimezone(zone).date())
    users = _users_by_id(member_ids)
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
                {"override": o, "span": _span(o.start, o.end, zone), "user": o.user}
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
        "schedules/confirm_delete.html",
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
    zone = _zone(schedule)
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
                f"{override.user} is on call {_span(override.start, override.end, zone)}.",
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


# ---------------------------------------------------------------------------
# Escalation policies


def _policies() -> Any:
    return EscalationPolicy.objects.select_related("team").prefetch_related(
        Prefetch("steps", queryset=EscalationStep.objects.order_by("position")),
        "steps__users",
        "steps__schedules",
        "steps__teams",
    )


@login_required
def policy_list(request: HttpRequest) -> HttpResponse:
    return render(request, "schedules/policy_list.html", {"policies": _policies()})


@role_required(ADMIN)
def policy_create(request: HttpRequest) -> HttpResponse:
    form = PolicyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        policy = services.policy_save(actor=request.user, policy=form.save(commit=False))
        messages.success(request, f"Created {policy.name}. Add its first step.")
        return redirect("policies:detail", policy.pk)
    return render(request, "schedules/policy_form.html", {"form": form, "policy": None})


@role_required(ADMIN)
def policy_edit(request: HttpRequest, pk: int) -> HttpResponse:
    policy = get_object_or_404(EscalationPolicy, pk=pk)
    form = PolicyForm(request.POST or None, instance=policy)
    if request.method == "POST" and form.is_valid():
        services.policy_save(actor=request.user, policy=form.save(commit=False))
        messages.success(request, "Saved.")
        return redirect("policies:detail", policy.pk)
    return render(request, "schedules/policy_form.html", {"form": form, "policy": policy})


@login_required
def policy_detail(request: HttpRequest, pk: int) -> HttpResponse:
    policy = get_object_or_404(_policies(), pk=pk)
    return render(request, "schedules/policy_detail.html", {"policy": policy})


@role_required(ADMIN)
def policy_delete(request: HttpRequest, pk: int) -> HttpResponse:
    policy = get_object_or_404(EscalationPolicy, pk=pk)
    if request.method == "POST":
        name = policy.name
        services.policy_delete(actor=request.user, policy=policy)
        messages.success(request, f"Deleted {name}.")
        return redirect("policies:list")
    integrations = policy.integrations.all()
    return render(
        request,
        "schedules/confirm_delete.html",
        {
            "title": f"Delete {policy.name}?",
            "text": "Its steps are deleted with it.",
            "integrations": integrations,
            "cancel_url": reverse("policies:detail", args=[policy.pk]),
        },
    )


def _steps_changed(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """htmx swaps the new step list in place; without JavaScript, back to the page."""
    if request.htmx:
        policy = get_object_or_404(_policies(), pk=pk)
        return render(request, "schedules/policy_detail.html#steps", {"policy": policy})
    return redirect("policies:detail", pk)


def _step_save(request: HttpRequest, form: StepForm, policy: EscalationPolicy) -> EscalationStep:
    return services.step_save(
        actor=request.user,
        step=form.save(commit=False),
        policy=policy,
        users=form.cleaned_data["users"],
        schedules=form.cleaned_data["schedules"],
        teams=form.cleaned_data["teams"],
    )


@role_required(ADMIN)
def step_create(request: HttpRequest, pk: int) -> HttpResponse:
    policy = get_object_or_404(EscalationPolicy, pk=pk)
    form = StepForm(request.POST or None, policy=policy)
    if request.method == "POST" and form.is_valid():
        step = _step_save(request, form, policy)
        messages.success(request, f"Added step {step.position + 1}.")
        return redirect("policies:detail", policy.pk)
    return render(
        request, "schedules/step_form.html", {"form": form, "policy": policy, "step": None}
    )


@role_required(ADMIN)
def step_edit(request: HttpRequest, pk: int, step_pk: int) -> HttpResponse:
    step = get_object_or_404(
        EscalationStep.objects.select_related("policy"), pk=step_pk, policy_id=pk
    )
    form = StepForm(request.POST or None, instance=step, policy=step.policy)
    if request.method == "POST" and form.is_valid():
        _step_save(request, form, step.policy)
        messages.success(request, f"Saved step {step.position + 1}.")
        return redirect("policies:detail", pk)
    return render(
        request, "schedules/step_form.html", {"form": form, "policy": step.policy, "step": step}
    )


@role_required(ADMIN)
@require_POST
def step_remove(request: HtmxHttpRequest, pk: int, step_pk: int) -> HttpResponse:
    step = get_object_or_404(EscalationStep, pk=step_pk, policy_id=pk)
    services.step_delete(actor=request.user, step=step)
    if not request.htmx:
        messages.success(request, "Step deleted.")
    return _steps_changed(request, pk)


@role_required(ADMIN)
@require_POST
def step_move(request: HtmxHttpRequest, pk: int, step_pk: int) -> HttpResponse:
    step = get_object_or_404(EscalationStep, pk=step_pk, policy_id=pk)
    form = StepMoveForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Move a step up or down.")
    elif not services.step_move(
        actor=request.user, step=step, direction=form.cleaned_data["direction"]
    ):
        messages.info(request, "That step is already at the end of the list.")
    return _steps_changed(request, pk)
