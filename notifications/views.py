"""The Outbox (what Klaxon sent or recorded) and the email action pages."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_http_methods

from accounts.roles import NotAllowed, respond_refusal
from config.ids import parse_id
from incidents.models import IncidentEvent
from incidents.permissions import incident_check_actor
from incidents.services import incident_acknowledge, incident_resolve
from notifications import links, messages
from notifications.models import Notification

Via = IncidentEvent.Via

OUTBOX_PAGE = 50


@login_required
def outbox(request: HttpRequest) -> HttpResponse:
    """Every message Klaxon sent or tried, newest first; ?recorded=1 shows only those
    recorded instead of sent (outbox mode, console email). Pages go back by id
    (?before=<id>), so an old page costs what the first one does."""
    rows = Notification.objects.select_related("user").defer("body")
    recorded = request.GET.get("recorded") == "1"
    if recorded:
        rows = rows.filter(outbox=True)
    status = request.GET.get("status", "")
    if status in Notification.Status.values:
        rows = rows.filter(status=status)
    else:
        status = ""
    before = parse_id(request.GET.get("before"))
    if before is not None:
        rows = rows.filter(id__lt=before)
    page = list(rows.order_by("-id")[: OUTBOX_PAGE + 1])
    filters = {k: v for k, v in (("status", status), ("recorded", "1" if recorded else "")) if v}
    older = (
        urlencode({**filters, "before": page[OUTBOX_PAGE - 1].pk})
        if len(page) > OUTBOX_PAGE
        else ""
    )
    return render(
        request,
        "notifications/outbox.html",
        {
            "rows": page[:OUTBOX_PAGE],
            "older_query": older,
            "newest_query": urlencode(filters) if before is not None else None,
            "recorded": recorded,
            "status": status,
            "statuses": Notification.Status.choices,
            "outbox_mode": settings.TWILIO_OUTBOX_MODE,
        },
    )


@login_required
def outbox_detail(request: HttpRequest, pk: int) -> HttpResponse:
    row = get_object_or_404(Notification.objects.select_related("user", "incident"), pk=pk)
    body = messages.body_seen_by(row, request.user.pk)
    return render(request, "notifications/outbox_detail.html", {"row": row, "body": body})


@require_http_methods(["GET", "POST"])
def email_action(request: HttpRequest, token: str) -> HttpResponse:
    """Acknowledge or resolve from an email, without signing in. GET shows one button and
    changes nothing (mail scanners open links); the POST acts and spends the link.

    The link acts as the person it was sent to, so it passes the same role check as the
    web and the API: a viewer or a deactivated user is refused and the link is not spent."""
    try:
        link = links.read(token)
    except links.LinkError as exc:
        return render(request, "notifications/email_action.html", {"error": str(exc)}, status=400)
    incident = link.notification.incident
    assert incident is not None
    user = link.notification.user
    context = {"link": link, "incident": incident, "done": False}
    if request.method == "GET":
        refusal = respond_refusal(user, link.action)
        if refusal is not None:
            return _refused(request, context, refusal)
        return render(request, "notifications/email_action.html", context)
    act = incident_acknowledge if link.action == "acknowledge" else incident_resolve
    try:
        # Checked before the link is spent, so a refusal leaves it as it was; the
        # service checks again when it acts.
        incident_check_actor(incident_id=incident.pk, user=user, action=link.action, via=Via.EMAIL)
        if not links.spend(link.notification):
            context["error"] = "This link was already used. Open the incident in Klaxon instead."
            return render(request, "notifications/email_action.html", context, status=400)
        context["incident"] = act(incident_id=incident.pk, user=user, via=Via.EMAIL)
    except NotAllowed as refusal:
        return _refused(request, context, refusal)
    context["done"] = True
    return render(request, "notifications/email_action.html", context)


def _refused(request: HttpRequest, context: dict[str, Any], refusal: NotAllowed) -> HttpResponse:
    context["refused"] = f"{refusal.sentence} Nothing was changed."
    return render(request, "notifications/email_action.html", context, status=403)
