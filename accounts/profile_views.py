"""/profile/: the signed-in user's contact methods, notification rules and what was sent
to them. A user only ever sees and changes their own rows: every lookup is filtered by
``user=request.user``, so another user's id is a 404."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from accounts import contacts
from accounts.forms import EmailForm, PhoneForm, RuleForm, VerifyForm, method_form
from accounts.models import ContactMethod, NotificationRule, User
from notifications import services as notification_services
from notifications.models import Notification
from schedules import services as schedule_services
from schedules.feeds import feed_url

RECENT_NOTIFICATIONS = 20
Event = NotificationRule.Event
Channel = NotificationRule.Channel


def _me(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # login_required ran first
    return user


def _channel_words(channel: str) -> str:
    return "SMS" if channel == Channel.SMS else Channel(channel).label.lower()


def _back(anchor: str) -> HttpResponse:
    return redirect(reverse("profile:index") + f"#{anchor}")


@dataclass
class MethodRow:
    method: ContactMethod
    verify_form: VerifyForm | None = None
    tries_left: int = 0
    # (channel, button text) for "send me a test"
    tests: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class RuleSection:
    event: str
    title: str
    rules: list[NotificationRule]
    form: RuleForm


@dataclass
class ProfileForms:
    """Bound forms with errors to show again; the rest are fresh."""

    phone: PhoneForm | EmailForm | None = None
    email: PhoneForm | EmailForm | None = None
    rules: dict[str, RuleForm] = field(default_factory=dict)


def _render_profile(request: HttpRequest, forms: ProfileForms | None = None) -> HttpResponse:
    user = _me(request)
    forms = forms or ProfileForms()
    methods = list(ContactMethod.objects.filter(user=user).order_by("kind", "id"))
    by_id = {m.pk: m for m in methods}
    rules = list(
        NotificationRule.objects.filter(user=user).order_by("event", "delay_minutes", "id")
    )
    for rule in rules:
        # The page loaded the methods already: no join, no query per rule.
        if rule.contact_method_id in by_id:
            rule.contact_method = by_id[rule.contact_method_id]
    rows = [
        MethodRow(
            method=m,
            verify_form=(
                VerifyForm(method_id=m.pk)
                if m.kind == ContactMethod.Kind.PHONE and not m.is_verified
                else None
            ),
            tries_left=max(0, settings.VERIFY_CODE_MAX_TRIES - m.verification_attempts),
            tests=[(c, f"Test {_channel_words(c)}") for c in m.channels] if m.is_verified else [],
        )
        for m in methods
    ]
    sections = [
        RuleSection(
            event=event,
            title=title,
            rules=[r for r in rules if r.event == event],
            form=forms.rules.get(event) or RuleForm(methods=methods, prefix=event),
        )
        for event, title in (
            (Event.TRIGGERED, "When an incident is triggered"),
            (Event.RESOLVED, "When an incident is resolved"),
        )
    ]
    recent = list(Notification.objects.filter(user=user).order_by("-id")[:RECENT_NOTIFICATIONS])
    context: dict[str, Any] = {
        "phones": [r for r in rows if r.method.kind == ContactMethod.Kind.PHONE],
        "emails": [r for r in rows if r.method.kind == ContactMethod.Kind.EMAIL],
        "has_verified": any(m.is_verified for m in methods),
        "phone_form": forms.phone or method_form(ContactMethod.Kind.PHONE),
        "email_form": forms.email or method_form(ContactMethod.Kind.EMAIL),
        "sections": sections,
        "no_triggered_rules": not any(r.event == Event.TRIGGERED for r in rules),
        "recent": recent,
        "outbox_mode": settings.TWILIO_OUTBOX_MODE,
        "code_minutes": settings.VERIFY_CODE_MINUTES,
        "ical_url": feed_url("user", user.ical_token),
    }
    return render(request, "accounts/profile.html", context)


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    return _render_profile(request)


@login_required
@require_POST
def rotate_feed(request: HttpRequest) -> HttpResponse:
    schedule_services.user_rotate_feed(actor=request.user, user=_me(request))
    messages.success(
        request, "Your calendar feed has a new URL; the old one stopped working. Subscribe again."
    )
    return _back("calendar-feed")


@login_required
@require_POST
def add_method(request: HttpRequest, kind: str) -> HttpResponse:
    if kind not in ContactMethod.Kind.values:
        raise Http404("no such kind of contact method")
    form = method_form(kind, request.POST)
    if form.is_valid():
        try:
            method = contacts.contact_method_add(
                user=_me(request), kind=kind, raw=form.cleaned_data["value"]
            )
        except contacts.ContactError as exc:
            form.add_error("value", str(exc))
        else:
            if method.is_verified:
                messages.success(request, f"Added {method.value}.")
            else:
                messages.success(
                    request,
                    f"Added {method.value}. It is not used for paging until you verify it: "
                    "send a code and type it in below.",
                )
            return _back(f"method-{method.pk}")
    if kind == ContactMethod.Kind.PHONE:
        return _render_profile(request, ProfileForms(phone=form))
    return _render_profile(request, ProfileForms(email=form))


def _own_method(request: HttpRequest, pk: int) -> ContactMethod:
    return get_object_or_404(ContactMethod, pk=pk, user=_me(request))


@login_required
@require_POST
def send_code(request: HttpRequest, pk: int) -> HttpResponse:
    method = _own_method(request, pk)
    try:
        contacts.contact_method_send_code(method=method)
    except contacts.ContactError as exc:
        messages.error(request, str(exc))
    else:
        text = (
            f"A code is on its way to {method.value}; it works for "
            f"{settings.VERIFY_CODE_MINUTES} minutes."
        )
        if settings.TWILIO_OUTBOX_MODE:
            messages.success(
                request,
                format_html(
                    '{} Outbox mode: the SMS is recorded on the <a href="{}">Outbox page</a>, '
                    "not sent.",
                    text,
                    reverse("notifications:outbox"),
                ),
            )
        else:
            messages.success(request, text)
    return _back(f"method-{method.pk}")


@login_required
@require_POST
def verify(request: HttpRequest, pk: int) -> HttpResponse:
    method = _own_method(request, pk)
    form = VerifyForm(request.POST, method_id=method.pk)
    if not form.is_valid():
        messages.error(request, "Type the code from the SMS.")
        return _back(f"method-{method.pk}")
    had_rules = NotificationRule.objects.filter(user=method.user).exists()
    result = contacts.contact_method_verify(method=method, code=form.cleaned_data["code"])
    if not result.ok:
        messages.error(request, result.message)
        return _back(f"method-{method.pk}")
    if not had_rules and NotificationRule.objects.filter(user=method.user).exists():
        messages.success(
            request,
            f"{result.message} You now have the default rules: SMS at once and a voice "
            "call after 5 minutes when an incident is triggered, an SMS when it is resolved.",
        )
    else:
        messages.success(request, result.message)
    return _back("rules")


@login_required
def delete_method(request: HttpRequest, pk: int) -> HttpResponse:
    method = _own_method(request, pk)
    if request.method == "POST":
        value = method.value
        gone = contacts.contact_method_delete(method=method)
        if gone:
            messages.success(request, f"Deleted {value} and its rules: {'; '.join(gone)}.")
        else:
            messages.success(request, f"Deleted {value}.")
        return _back("contact-methods")
    rules = list(method.rules.order_by("event", "delay_minutes", "id"))
    for rule in rules:
        rule.contact_method = method
    return render(
        request, "accounts/method_confirm_delete.html", {"method": method, "rules": rules}
    )


@login_required
@require_POST
def send_test(request: HttpRequest, pk: int, channel: str) -> HttpResponse:
    method = _own_method(request, pk)
    if channel not in method.channels:
        raise Http404(f"{method.value} cannot carry {channel}")
    if not method.is_verified:
        messages.error(request, f"Verify {method.value} first: tests go to verified methods only.")
        return _back(f"method-{method.pk}")
    notification_services.notification_queue_test(method=method, channel=channel)
    text = f"Test {_channel_words(channel)} to {method.value} queued."
    if channel == Channel.EMAIL:
        if settings.EMAIL_BACKEND.endswith("console.EmailBackend"):
            text += " Email goes to the server console here: EMAIL_URL is not set."
        messages.success(request, f"{text} See below whether it went out.")
    elif settings.TWILIO_OUTBOX_MODE:
        messages.success(
            request,
            format_html(
                '{} Outbox mode: it is recorded on the <a href="{}">Outbox page</a>, not sent.',
                text,
                reverse("notifications:outbox"),
            ),
        )
    else:
        messages.success(request, f"{text} See below whether it went out.")
    return _back("recent")


@login_required
@require_POST
def add_rule(request: HttpRequest, event: str) -> HttpResponse:
    if event not in Event.values:
        raise Http404("no such event")
    user = _me(request)
    methods = list(ContactMethod.objects.filter(user=user))
    form = RuleForm(request.POST, methods=methods, prefix=event)
    if form.is_valid():
        try:
            rule = contacts.notification_rule_add(
                user=user,
                event=event,
                contact_method=form.cleaned_data["contact_method"],
                channel=form.cleaned_data["channel"],
                delay_minutes=form.cleaned_data["delay_minutes"],
            )
        except contacts.ContactError as exc:
            form.add_error("channel", str(exc))
        else:
            messages.success(request, f"Added: {rule.get_event_display().lower()}, {rule}.")
            return _back("rules")
    return _render_profile(request, ProfileForms(rules={event: form}))


@login_required
@require_POST
def delete_rule(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(
        NotificationRule.objects.select_related("contact_method"), pk=pk, user=_me(request)
    )
    text = f"{rule.get_event_display().lower()}, {rule}"
    rule.delete()
    messages.success(request, f"Deleted rule: {text}.")
    return _back("rules")
