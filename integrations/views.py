from __future__ import annotations

from typing import Any
from urllib import parse

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db import InterfaceError, OperationalError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import urlencode
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts.roles import ADMIN, RESPONDER, role_required
from accounts.teams import team_filter, team_filter_context
from config.http import HtmxHttpRequest
from config.ids import parse_id
from integrations import inbound as inbound_path
from integrations import services
from integrations.forms import IntegrationForm
from integrations.masking import display_body, display_headers
from integrations.models import InboundMessage, Integration

UNKNOWN_TOKEN_COUNTER = "inbound:unknown-token-count"


def _plain(text: str, status: int) -> HttpResponse:
    return HttpResponse(text + "\n", status=status, content_type="text/plain; charset=utf-8")


@csrf_exempt  # machines post here; the URL token and the SNS signature authenticate them
def inbound(request: HttpRequest, token: str) -> HttpResponse:
    """The unique URL an SNS topic posts to."""
    try:
        integration = inbound_path.integration_for_token(token)
    except (OperationalError, InterfaceError):
        return _plain("database unavailable: retry later", 503)
    if integration is None:
        try:
            cache.incr(UNKNOWN_TOKEN_COUNTER)
        except ValueError:
            cache.set(UNKNOWN_TOKEN_COUNTER, 1, None)
        return _plain("unknown integration URL", 404)

    body, too_large = _read_body(request, settings.INBOUND_MAX_BODY_BYTES)
    try:
        result = inbound_path.receive(
            integration=integration,
            body=body,
            headers=dict(request.headers),
            source_ip=request.META.get("REMOTE_ADDR"),
            method=request.method or "POST",
            body_too_large=too_large,
        )
    except (OperationalError, InterfaceError):
        # Nothing was stored: answer 5xx so SNS delivers again.
        return _plain("database unavailable: retry later", 503)
    return _plain(result.text, result.status)


def _read_body(request: HttpRequest, limit: int) -> tuple[bytes, bool]:
    """The request body, and whether it is over ``limit`` bytes (then only its start).

    At most one byte past the limit is read: a missing or lying Content-Length cannot
    make us buffer an unbounded body. A chunked body (a proxy that re-chunks what SNS
    sent) has no Content-Length, and Django's request stream then reads nothing; when
    the server says its input stream ends where the body does (``wsgi.input_terminated``,
    which gunicorn sets), that stream is read instead."""
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared:
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            return b"", True
        body = request.read(limit + 1)
    elif request.META.get("wsgi.input_terminated"):
        body = _read_stream(request.META["wsgi.input"], limit + 1)
    else:
        body = b""
    if len(body) > limit:
        return body[:4096], True
    return body, False


def _read_stream(stream: Any, size: int) -> bytes:
    """Up to ``size`` bytes: a server's stream may return fewer than asked before its end."""
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        part = stream.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


@login_required
def integration_list(request: HttpRequest) -> HttpResponse:
    selected = team_filter(request.GET.get("team"), request.user)
    integrations = selected.apply(
        Integration.objects.select_related("team", "escalation_policy").annotate(
            open_incidents=Count("incidents", filter=~Q(incidents__state="resolved"))
        )
    )
    return render(
        request,
        "integrations/list.html",
        {
            "integrations": integrations,
            "team_filter_on": selected.active,
            **team_filter_context(selected),
        },
    )


@role_required(ADMIN)
def integration_create(request: HttpRequest) -> HttpResponse:
    form = IntegrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        integration = services.integration_create(
            actor=request.user, integration=form.save(commit=False)
        )
        messages.success(request, f"Created {integration.name}. Subscribe its URL to your topic.")
        return redirect(integration)
    return render(request, "integrations/form.html", {"form": form, "integration": None})


@role_required(ADMIN)
def integration_edit(request: HttpRequest, pk: int) -> HttpResponse:
    integration = get_object_or_404(Integration, pk=pk)
    form = IntegrationForm(request.POST or None, instance=integration)
    if request.method == "POST" and form.is_valid():
        services.integration_update(actor=request.user, integration=form.save(commit=False))
        messages.success(request, "Saved.")
        return redirect(integration)
    return render(request, "integrations/form.html", {"form": form, "integration": integration})


@login_required
def integration_detail(request: HttpRequest, pk: int) -> HttpResponse:
    integration = get_object_or_404(
        Integration.objects.select_related("team", "escalation_policy"), pk=pk
    )
    # Bodies can be 256 KiB each; this page shows none of them.
    recent = list(integration.inbound_messages.defer("body", "headers")[:10])
    pending = (
        integration.inbound_messages.filter(message_type="SubscriptionConfirmation")
        .exclude(outcome=InboundMessage.Outcome.REJECTED)
        .only("id")
        .first()
    )
    return render(
        request,
        "integrations/detail.html",
        {
            "integration": integration,
            "recent": recent,
            "pending_confirmation": pending,
            "raw_delivery": _raw_delivery_refused(recent),
        },
    )


def _raw_delivery_refused(recent: list[InboundMessage]) -> InboundMessage | None:
    """The newest of ``recent`` (newest first) refused for raw message delivery, unless a
    request accepted since shows the subscription was fixed. Costs no query: the page
    lists these rows anyway."""
    for row in recent:
        if row.reason == inbound_path.RAW_DELIVERY_REASON:
            return row
        if row.outcome != InboundMessage.Outcome.REJECTED:
            return None
    return None


@role_required(ADMIN)
def integration_delete(request: HttpRequest, pk: int) -> HttpResponse:
    integration = get_object_or_404(Integration, pk=pk)
    if request.method == "POST":
        name = integration.name
        services.integration_delete(actor=request.user, integration=integration)
        messages.success(request, f"Deleted {name}. Its URL now answers 404.")
        return redirect("integrations:list")
    return render(request, "integrations/confirm_delete.html", {"integration": integration})


@role_required(ADMIN)
@require_POST
def integration_rotate(request: HttpRequest, pk: int) -> HttpResponse:
    integration = services.integration_rotate_token(
        integration=get_object_or_404(Integration, pk=pk), actor=request.user
    )
    messages.warning(
        request,
        "New URL made; the old one answers 404 now. Subscribe the new URL to your topic.",
    )
    return redirect(integration)


@role_required(ADMIN)
@require_POST
def integration_rebind(request: HttpRequest, pk: int) -> HttpResponse:
    integration = services.integration_rebind_topic(
        integration=get_object_or_404(Integration, pk=pk), actor=request.user
    )
    messages.info(request, "Topic released: the next confirmed subscription binds a new one.")
    return redirect(integration)


@role_required(RESPONDER)
@require_POST
def integration_test_alert(request: HttpRequest, pk: int) -> HttpResponse:
    integration = get_object_or_404(Integration, pk=pk)
    assert request.user.is_authenticated
    result = services.integration_send_test_alert(integration=integration, user=request.user)
    if result.status == 200:
        messages.success(request, f"Test alert sent: {result.text}")
    else:
        messages.error(request, f"Test alert not applied: {result.text}")
    if result.message and result.message.incident_id:
        return redirect("incidents:detail", pk=result.message.incident_id)
    return redirect(integration)


# How many rows the Inbound Log shows at once, and how many one poll may add.
INBOUND_PAGE = 100
# Ids are taken when a request's transaction starts, so on PostgreSQL a row can become
# visible after a row with a higher id was already shown. The poller therefore also
# looks back over the last POLL_WINDOW ids, minus those it has shown.
POLL_WINDOW = 200


def _parse_shown(value: str | None) -> set[int]:
    ids = (parse_id(part) for part in (value or "").split(",")[:POLL_WINDOW])
    return {i for i in ids if i is not None}


@login_required
def inbound_list(request: HtmxHttpRequest) -> HttpResponse:
    rows = InboundMessage.objects.select_related("integration").defer("body", "headers")
    integration_id = parse_id(request.GET.get("integration"))
    outcome = request.GET.get("outcome", "")
    if outcome not in InboundMessage.Outcome.values:
        outcome = ""
    if integration_id is not None:
        rows = rows.filter(integration_id=integration_id)
    if outcome:
        rows = rows.filter(outcome=outcome)
    filters = {
        "integration": "" if integration_id is None else str(integration_id),
        "outcome": outcome,
    }
    context: dict[str, Any] = {
        "integrations": Integration.objects.only("id", "name"),
        "unknown_url_count": cache.get(UNKNOWN_TOKEN_COUNTER, 0),
        "outcomes": InboundMessage.Outcome.choices,
        "selected_integration": filters["integration"],
        "selected_outcome": outcome,
    }
    after = parse_id(request.GET.get("after"))
    if request.htmx and after is not None:
        # The oldest rows after the last one shown, so a burst of more than a page is
        # delivered over several polls instead of skipping the middle of it.
        shown = _parse_shown(request.GET.get("shown"))
        # Never below the oldest row the page showed: the rows under it are older
        # history, not late arrivals.
        floor = parse_id(request.GET.get("floor")) or 0
        late = Q(id__gt=max(after - POLL_WINDOW, floor - 1), id__lte=after) & ~Q(id__in=shown)
        new_rows = list(rows.filter(Q(id__gt=after) | late).order_by("id")[:INBOUND_PAGE])
        new_rows.reverse()
        last_id = max([after, *(row.pk for row in new_rows)])
        shown |= {row.pk for row in new_rows}
        template = "integrations/inbound_list.html#new-rows"
    else:
        # ?before=<id> pages back through older rows; the newest page polls for more.
        before = parse_id(request.GET.get("before"))
        page = rows.filter(id__lt=before) if before is not None else rows
        new_rows = list(page[:INBOUND_PAGE])
        last_id = new_rows[0].pk if new_rows else 0
        shown = {row.pk for row in new_rows}
        floor = new_rows[-1].pk if new_rows else 0
        template = "integrations/inbound_list.html"
        context["older_query"] = (
            urlencode({"before": str(new_rows[-1].pk), **_non_empty(filters)})
            if len(new_rows) == INBOUND_PAGE
            else ""
        )
        context["paged_back"] = before is not None
        context["newest_query"] = urlencode(_non_empty(filters))
    # The poller asks for rows after the newest one shown, with the same filters.
    recent = sorted(i for i in shown if i > last_id - POLL_WINDOW)
    poll_query = parse.urlencode(
        {
            "after": last_id,
            "floor": floor,
            "shown": ",".join(map(str, recent)),
            **_non_empty(filters),
        },
        safe=",",
    )
    context |= {"rows": new_rows, "last_id": last_id, "poll_query": poll_query}
    return render(request, template, context)


def _non_empty(params: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in params.items() if value}


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
            "can_confirm": row.can_be_confirmed,
        },
    )


@role_required(ADMIN)
@require_POST
def inbound_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    row = get_object_or_404(InboundMessage, pk=pk)
    if not row.can_be_confirmed:
        messages.error(
            request,
            "Only a SubscriptionConfirmation that passed verification can be confirmed.",
        )
        return redirect(row)
    row, _transient = services.subscription_confirm(inbound_message_id=pk, actor=request.user)
    if row.outcome == InboundMessage.Outcome.SUBSCRIPTION_CONFIRMED:
        messages.success(request, f"Subscription confirmed: {row.confirm_result}")
    else:
        messages.error(request, f"Not confirmed: {row.confirm_result}")
    return redirect(row)
