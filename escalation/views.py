"""The escalation policy pages: list, create, edit, delete, and the steps of a policy
(added, edited, removed and moved in place with htmx)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.roles import ADMIN, role_required
from config.http import HtmxHttpRequest
from escalation import services
from escalation.forms import PolicyForm, StepForm, StepMoveForm
from escalation.models import EscalationPolicy, EscalationStep


def _policies() -> QuerySet[EscalationPolicy]:
    return EscalationPolicy.objects.select_related("team").prefetch_related(
        Prefetch("steps", queryset=EscalationStep.objects.order_by("position")),
        "steps__users",
        "steps__schedules",
        "steps__teams",
    )


@login_required
def policy_list(request: HttpRequest) -> HttpResponse:
    return render(request, "escalation/policy_list.html", {"policies": _policies()})


@role_required(ADMIN)
def policy_create(request: HttpRequest) -> HttpResponse:
    form = PolicyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        policy = services.policy_save(actor=request.user, policy=form.save(commit=False))
        messages.success(request, f"Created {policy.name}. Add its first step.")
        return redirect("policies:detail", policy.pk)
    return render(request, "escalation/policy_form.html", {"form": form, "policy": None})


@role_required(ADMIN)
def policy_edit(request: HttpRequest, pk: int) -> HttpResponse:
    policy = get_object_or_404(EscalationPolicy, pk=pk)
    form = PolicyForm(request.POST or None, instance=policy)
    if request.method == "POST" and form.is_valid():
        services.policy_save(actor=request.user, policy=form.save(commit=False))
        messages.success(request, "Saved.")
        return redirect("policies:detail", policy.pk)
    return render(request, "escalation/policy_form.html", {"form": form, "policy": policy})


@login_required
def policy_detail(request: HttpRequest, pk: int) -> HttpResponse:
    policy = get_object_or_404(_policies(), pk=pk)
    return render(request, "escalation/policy_detail.html", {"policy": policy})


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
        "confirm_delete.html",
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
        return render(request, "escalation/policy_detail.html#steps", {"policy": policy})
    return redirect("policies:detail", pk)


def _step_save(request: HttpRequest, form: StepForm, policy: EscalationPolicy) -> EscalationStep:
    return services.step_save(
        actor=request.user,
        step=form.save(commit=False),
        policy=policy,
        targets=services.StepTargets(
            users=form.cleaned_data["users"],
            schedules=form.cleaned_data["schedules"],
            teams=form.cleaned_data["teams"],
        ),
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
        request, "escalation/step_form.html", {"form": form, "policy": policy, "step": None}
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
        request, "escalation/step_form.html", {"form": form, "policy": step.policy, "step": step}
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
