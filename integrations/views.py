from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db import DatabaseError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_htmx.middleware import HtmxDetails

from integrations import inbound as inbound_path
from integrations import services
from integrations.forms import IntegrationForm
from integrations.masking import display_body, display_headers
from integrations.models import InboundMessage, Integration


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


UNKNOWN_TOKEN_COUNTER = "inbound:unknown-token-count"


def _plain(text: str, status: int) -> HttpResponse:
    return HttpResponse(text + "\n", status=status, content_type="text/plain; charset=utf-8")


@csrf_exempt  # machines post here; the URL token and the SNS signature authenticate them
def inbound(request: HttpRequest, token: str) -> HttpResponse:
    """The unique URL an SNS topic posts to."""
    try:
        integration = inbound_path.integration_for_token(token)
    except DatabaseError:
        return _plain("database unavailable: retry later", 503)
    if integration is None:
        try:
            cache.incr(UNKNOWN_TOKEN_COUNTER)
        except ValueError:
            cache.set(UNKNOWN_TOKEN_COUNTER, 1, None)
        return _plain("unknown integration URL", 404)

    limit = settings.INBOUND_MAX_BODY_BYTES
    declared = request.META.get("CONTENT_LENGTH") or "0"
    too_large = declared.isdigit() and int(declared) > limit
    # Read at most one byte past the limit: a missing or lying Content-Length cannot make
    # us buffer an unbounded body.
    body = b"" if too_large else request.read(limit + 1)
    if len(body) > limit:
        too_large, body = True, body[:4096]
    try:
        result = inbound_path.receive(
            integration=integration,
            body=body,
            headers=dict(request.headers),
            source_ip=request.META.get("REMOTE_ADDR"),
            method=request.method or "POST",
            body_too_large=too_large,
        )
    except DatabaseError:
        # Nothing was stored: answer 5xx so SNS delivers again.
        return _plain("database unavailable: retry later", 503)
    return _plain(result.text, result.status)


@login_required
def integration_list(request: HttpRequest) -> HttpResponse:
    integrations = Integration.objects.select_related("team", "escalation_policy").annotate(
        open_incidents=Count("incidents", filter=~Q(incidents__state="resolved"))
    )
    return render(request, "integrations/list.html", {"integrations": integrations})


@login_required
def integration_create(request: HttpRequest) -> HttpResponse:
    form = IntegrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        integration = form.save()
        messages.success(request, f"Created {integration.name}. Subscribe its URL to your topic.")
        return redirect(integration)
    return render(request, "integrations/form.html", {"form": form, "integration": None})


@login_required
def integration_edit(request: HttpRequest, pk: int) -> HttpResponse:
    integration = get_object_or_404(Integration, pk=pk)
    form = IntegrationForm(request.POST or None, instance=integration)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Saved.")
        return redirect(integration)
    return render(request, "integrations/form.html", {"form": form, "integration": integration})


@login_required
def integration_detail(request: HttpRequest, pk: int) -> HttpResponse:
    integration = get_object_or_404(
        Integration.objects.select_related("team", "escalation_policy"), pk=pk
    )
    recent = integration.inbound_messages.select_related("incident")[:10]
    pending = (
        integration.inbound_messages.filter(message_type="SubscriptionConfirmation")
        .exclude(outcome=InboundMessage.Outcome.REJECTED)
        .first()
    )
    return render(
        request,
        "integrations/detail.html",
        {"integration": integration, "recent": recent, "pending_confirmation": pending},
    )


@login_required
def integration_delete(request: HttpRequest, pk: int) -> HttpResponse:
    integration = get_object_or_404(Integration, pk=pk)
    if request.method == "POST":
        name = integration.name
        integration.delete()
        messages.success(request, f"Deleted {name}. Its URL now answers 404.")
        return redirect("integrations:list")
    return render(request, "integrations/confirm_delete.html", {"integration": integration})


@login_required
@require_POST
def integration_rotate(request: HttpRequest, pk: int) -> HttpResponse:
    integration = services.integration_rotate_token(
        integration=get_object_or_404(Integration, pk=pk)
    )
    messages.warning(
        request,
        "New URL made; the old one answers 404 now. Subscribe the new URL to your topic.",
    )
    return redirect(integration)


@login_required
@require_POST
def integration_rebind(request: HttpRequest, pk: int) -> HttpResponse:
    integration = services.integration_rebind_topic(
        integration=get_object_or_404(Integration, pk=pk)
    )
    messages.info(request, "Topic released: the next confirmed subscription binds a new one.")
    return redirect(integration)


@login_required
@require_POST
def integration_test_alert(request: HttpRequest, pk: int) -> HttpResponse:
    integration = get_object_or_404(Integration, pk=pk)
    assert request.user.is_authenticated
    result = services.integration_send_test_alert(integration=integration, user=request.user)
    level = messages.SUCCESS if result.status == 200 else messages.ERROR
    messages.add_message(request, level, f"Test alert sent: {result.text}")
    if result.message and result.message.incident_id:
        return redirect("incidents:detail", pk=result.message.incident_id)
    return redirect(integration)


@login_required
def inbound_list(request: HtmxHttpRequest) -> HttpResponse:
    rows = InboundMessage.objects.select_related("integration").defer("body", "headers")
    integration_id = request.GET.get("integration", "")
    outcome = request.GET.get("outcome", "")
    if integration_id.isdigit():
        rows = rows.filter(integration_id=int(integration_id))
    if outcome in InboundMessage.Outcome.values:
        rows = rows.filter(outcome=outcome)
    after = request.GET.get("after", "")
    context: dict[str, Any] = {
        "integrations": Integration.objects.only("id", "name"),
        "outcomes": InboundMessage.Outcome.choices,
        "selected_integration": integration_id,
        "selected_outcome": outcome,
    }
    if request.htmx and after.isdigit():
        new_rows = list(rows.filter(id__gt=int(after))[:100])
        context |= {"rows": new_rows, "last_id": new_rows[0].pk if new_rows else int(after)}
        return render(request, "integrations/inbound_list.html#new-rows", context)
    page = list(rows[:100])
    context |= {"rows": page, "last_id": page[0].pk if page else 0}
    return render(request, "integrations/inbound_list.html", context)


@login_required
def inbound_detail(request: HttpRequest, pk: int) -> HttpResponse:
    row = get_object_or_404(
        InboundMessage.objects.select_related("integration", "incident"), pk=pk
    )
    return render(
        request,
        "integrations/inbound_detail.html",
        {
            "row": row,
            "body": display_body(row.body),
            "headers": display_headers(row.headers),
            "can_confirm": row.message_type == "SubscriptionConfirmation"
            and row.outcome != InboundMessage.Outcome.REJECTED
            and bool(row.subscribe_url),
        },
    )


@login_required
@require_POST
def inbound_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    row = services.subscription_confirm(inbound_message_id=pk)
    if row.outcome == InboundMessage.Outcome.SUBSCRIPTION_CONFIRMED:
        messages.success(request, f"Subscription confirmed: {row.confirm_result}")
    else:
        messages.error(request, f"Not confirmed: {row.confirm_result}")
    return redirect(row)
