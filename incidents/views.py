"""The responder's pages: the incident home (live list, tabs, bulk acknowledge, who is on
call) and the incident page (what happened, timeline, actions)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_POST
from django_htmx.http import trigger_client_event

from accounts.models import Team
from accounts.roles import RESPONDER, role_required
from config.http import HtmxHttpRequest
from config.ids import parse_id
from escalation.engine import escalation_escalate_now
from incidents import selectors, services
from incidents.models import Incident, IncidentEvent
from integrations.models import Integration
from integrations.sources.presentation import incident_facts

Via = IncidentEvent.Via

PAGE_SIZE = 50
# Bulk acknowledge acts on at most this many incidents per request (two pages' worth):
# each is its own locked transaction, and a request must finish in reasonable time.
BULK_LIMIT = 100
# The list polls this often (seconds); the issue asks for changes within 5 s.
POLL_SECONDS = 4
# A poll re-renders the list at least this often even when nothing changed, so ages
# ("3 min") stay current and changes that write no timeline line (an integration
# renamed, an incident deleted with its integration) still show up.
REFRESH_SECONDS = 60
# Tells the poller to refresh at once (after a row's button acted in place).
CHANGED_EVENT = "incidents-changed"


# ------------------------------------------------------------------------ the home


@dataclass(frozen=True)
class IncidentRow:
    """One incident as a list row shows it."""

    incident: Incident
    age: str
    assigned_to: str


def short_age(moment: datetime, now: datetime) -> str:
    """How long ago, in the few characters a phone row has room for ("3 min")."""
    seconds = max(int((now - moment).total_seconds()), 0)
    if seconds < 60:
        return "now"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def assignee_names(incident: Incident) -> str:
    """Who the last escalation step paged, as names ("" when nobody has been)."""
    targets = incident.escalation_targets if isinstance(incident.escalation_targets, list) else []
    names = [str(t.get("name") or f"user #{t.get('id')}") for t in targets if isinstance(t, dict)]
    return ", ".join(names)


def _row(incident: Incident, now: datetime) -> IncidentRow:
    return IncidentRow(incident, short_age(incident.created_at, now), assignee_names(incident))


def _filter_from(params: QueryDict) -> selectors.IncidentFilter:
    """The home's view from query (or form) parameters; anything unusable is dropped, so
    a mistyped link shows a normal page rather than an error or an unlabelled list."""
    state = params.get("state", "open")
    return selectors.IncidentFilter(
        state=state if state in selectors.LIST_STATES else "open",
        integration_id=parse_id(params.get("integration")),
        team_id=parse_id(params.get("team")),
        before=parse_id(params.get("before")),
    )


def _query(where: selectors.IncidentFilter, **changes: Any) -> str:
    """The query string for ``where`` with ``changes`` (None drops a parameter)."""
    params: dict[str, Any] = {
        "state": where.state,
        "integration": where.integration_id,
        "team": where.team_id,
        "before": where.before,
        **changes,
    }
    return urlencode({key: value for key, value in params.items() if value is not None})


def _page_title(counts: dict[str, int]) -> str:
    triggered = counts.get(Incident.State.TRIGGERED, 0)
    return f"({triggered}) Incidents" if triggered else "Incidents"


def _board(
    where: selectors.IncidentFilter,
    *,
    version: str | None = None,
    status: str = "",
    status_level: str = "success",
) -> dict[str, Any]:
    """Everything the live part of the home renders: tabs with counts, one page of rows,
    the pager, and the poller that asks for changes after ``version``."""
    # The version is read before the rows: a change between the two reads makes the
    # next poll refresh again, never one that is missed.
    version = version or selectors.incident_board_version()
    counts = selectors.incident_counts(where=where)
    incidents, has_older = selectors.incident_page(where=where, size=PAGE_SIZE)
    now = timezone.now()
    rows = [_row(incident, now) for incident in incidents]
    list_url = reverse("incidents:list")
    tabs = [
        (
            state,
            label,
            count,
            _query(where, state=state, before=None),
        )
        for state, label, count in (
            ("open", "Open", counts["triggered"] + counts["acknowledged"]),
            ("triggered", "Triggered", counts["triggered"]),
            ("acknowledged", "Acknowledged", counts["acknowledged"]),
            ("resolved", "Resolved", counts["resolved"]),
            ("all", "All", sum(counts.values())),
        )
    ]
    poll = _query(where, v=version, t=int(time.time()))
    return {
        "where": where,
        "rows": rows,
        "tabs": tabs,
        "page_title": _page_title(counts),
        "any_triggered": any(row.incident.state == Incident.State.TRIGGERED for row in rows),
        "older_query": _query(where, before=rows[-1].incident.pk) if has_older else "",
        "newest_query": _query(where, before=None) if where.before is not None else "",
        "poll_url": f"{list_url}?{poll}",
        "poll_seconds": POLL_SECONDS,
        "back": f"{list_url}?{_query(where)}",
        "bulk_limit": BULK_LIMIT,
        "status": status,
        "status_level": status_level,
        "filtered": where.integration_id is not None or where.team_id is not None,
    }


def _unchanged(request: HttpRequest, version: str) -> bool:
    """A poll whose list is still what it shows: same version, rendered recently."""
    rendered_at = parse_id(request.GET.get("t"))
    return (
        request.GET.get("v") == version
        and rendered_at is not None
        and time.time() - rendered_at < REFRESH_SECONDS
    )


@login_required
def incident_list(request: HtmxHttpRequest) -> HttpResponse:
    where = _filter_from(request.GET)
    if request.htmx and "v" in request.GET:
        # The live poll: one cheap query answers "nothing changed" (204: htmx swaps
        # nothing); otherwise the tabs, rows and title are rendered afresh.
        version = selectors.incident_board_version()
        if _unchanged(request, version):
            return HttpResponse(status=204)
        return render(request, "incidents/list.html#board-update", _board(where, version=version))
    assert request.user.is_authenticated
    context = _board(where)
    context |= {
        "integrations": Integration.objects.only("id", "name").order_by("name", "pk"),
        "teams": Team.objects.only("id", "name").order_by("name", "pk"),
        "unsubscribed": Integration.objects.filter(
            subscription_status=Integration.Subscription.UNSUBSCRIBED, enabled=True
        ).only("id", "name"),
        "oncall": selectors.oncall_panel(user=request.user, now=timezone.now()),
    }
    return render(request, "incidents/list.html", context)


@role_required(RESPONDER)
@require_POST
def incident_bulk_acknowledge(request: HtmxHttpRequest) -> HttpResponse:
    """Acknowledge the ticked incidents (at most BULK_LIMIT); say how many changed."""
    assert request.user.is_authenticated
    where = _filter_from(request.POST)
    picked = list(dict.fromkeys(filter(None, map(parse_id, request.POST.getlist("incident")))))
    if not picked:
        text, level = "Tick at least one incident to acknowledge.", messages.ERROR
    else:
        over = len(picked) > BULK_LIMIT
        changed = 0
        for incident_id in selectors.triggered_among(incident_ids=picked[:BULK_LIMIT]):
            incident = services.incident_acknowledge(
                incident_id=incident_id, user=request.user, via=Via.WEB
            )
            # Someone else (an SMS reply, a colleague) may have acknowledged it first.
            changed += int(incident.acknowledged_by_id == request.user.pk)
        text = f"Acknowledged {changed} incident{'' if changed == 1 else 's'}"
        skipped = min(len(picked), BULK_LIMIT) - changed
        if skipped:
            text += f"; {skipped} {'was' if skipped == 1 else 'were'} no longer triggered"
        text += "."
        if over:
            text += f" Only {BULK_LIMIT} can be acknowledged at once: tick the rest again."
        level = messages.WARNING if over else messages.SUCCESS
    if request.htmx:
        context = _board(where, status=text, status_level=messages.DEFAULT_TAGS[level])
        return render(request, "incidents/list.html#board-update", context)
    messages.add_message(request, level, text)
    return _back(request, reverse("incidents:list") + f"?{_query(where)}")


# ------------------------------------------------------------------- the incident page


@dataclass(frozen=True)
class TimelineLine:
    event: IncidentEvent
    label: str
    detail: str
    status: str


def timeline_line(event: IncidentEvent) -> TimelineLine:
    """How one timeline line is labelled: its kind in words, how it came (the way an
    acknowledgement was made), and a page's delivery status."""
    data = event.data if isinstance(event.data, dict) else {}
    label = event.get_kind_display()
    detail = ""
    status = ""
    if event.kind in (IncidentEvent.Kind.ACKNOWLEDGED, IncidentEvent.Kind.RESOLVED):
        if event.via and event.via != IncidentEvent.Via.SOURCE:
            detail = f"via {event.get_via_display()}"
    elif event.kind == IncidentEvent.Kind.NOTIFIED:
        if data.get("unreachable"):
            status = "failed"
        elif isinstance(data.get("status"), str):
            status = data["status"]
        elif data.get("planned"):
            status = "queued"
    elif event.kind == IncidentEvent.Kind.ESCALATED and data.get("finished"):
        label = "Escalation finished"
    elif event.kind == IncidentEvent.Kind.NOTE and data.get("refused"):
        label = "Refused"
        detail = f"via {event.get_via_display()}"
    return TimelineLine(event, label, detail, status)


@login_required
def incident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    incident = selectors.incident_for_page(incident_id=pk)
    if incident is None:
        raise Http404("No such incident.")
    timeline = selectors.incident_timeline(incident=incident)
    events = [timeline_line(event) for event in timeline.head]
    later = [timeline_line(event) for event in timeline.tail]
    pages = incident.notifications.select_related("user").defer("body").order_by("id")
    facts = incident_facts(kind=incident.integration.kind, details=incident.details)
    now = timezone.now()
    return render(
        request,
        "incidents/detail.html",
        {
            "incident": incident,
            "events": events,
            "later_events": later,
            "hidden_events": timeline.hidden,
            "pages": pages,
            "facts": facts,
            "raw_details": json.dumps(incident.details, indent=2, sort_keys=True, default=str)
            if incident.details
            else "",
            "age": short_age(incident.created_at, now),
            "assigned_to": assignee_names(incident),
            "escalation_blocker": selectors.incident_escalation_blocker(incident=incident),
        },
    )


# --------------------------------------------------------------------------- actions


def _back(request: HttpRequest, default: str) -> HttpResponseRedirect:
    """Where a button sent us from; only a path on this site is followed."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return HttpResponseRedirect(target)
    return HttpResponseRedirect(default)


def _acted(request: HtmxHttpRequest, incident: Incident) -> HttpResponse:
    """After a button on a list row or the incident page changed ``incident``.

    From the list with htmx: the row as it is now, swapped in place, and an event that
    makes the list refresh its tabs, title and rows at once (an acknowledged incident
    leaves the Triggered tab). Without JavaScript: a message and back where we were."""
    if request.htmx:
        response = render(
            request,
            "incidents/list.html#incident-row",
            {
                "row": _row(incident, timezone.now()),
                "where": _filter_from(request.POST),
                "back": request.POST.get("next", ""),
            },
        )
        return trigger_client_event(response, CHANGED_EVENT)
    messages.success(
        request, f"Incident #{incident.pk} is {incident.get_state_display().lower()}."
    )
    return _back(request, incident.get_absolute_url())


def _change(request: HtmxHttpRequest, pk: int, change: Callable[..., Incident]) -> HttpResponse:
    """Acknowledge or resolve from a button: the service decides, the page follows."""
    get_object_or_404(Incident.objects.only("id"), pk=pk)
    assert request.user.is_authenticated
    return _acted(request, change(incident_id=pk, user=request.user, via=Via.WEB))


@role_required(RESPONDER)
@require_POST
def incident_acknowledge(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _change(request, pk, services.incident_acknowledge)


@role_required(RESPONDER)
@require_POST
def incident_resolve(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _change(request, pk, services.incident_resolve)


@role_required(RESPONDER)
@require_POST
def incident_escalate(request: HttpRequest, pk: int) -> HttpResponse:
    """Run the next escalation step now instead of after its delay."""
    incident = get_object_or_404(Incident.objects.select_related("integration"), pk=pk)
    assert request.user.is_authenticated
    if escalation_escalate_now(incident_id=incident.pk, user=request.user, via=Via.WEB):
        messages.success(
            request, f"Escalating incident #{incident.pk} now: the next step runs at once."
        )
    else:
        incident.refresh_from_db()
        blocker = selectors.incident_escalation_blocker(incident=incident)
        messages.error(request, blocker or "Nothing to escalate.")
    return _back(request, incident.get_absolute_url())


@role_required(RESPONDER)
@require_POST
def incident_note(request: HttpRequest, pk: int) -> HttpResponse:
    incident = get_object_or_404(Incident.objects.only("id"), pk=pk)
    text = request.POST.get("text", "").strip()
    assert request.user.is_authenticated
    if text:
        services.incident_add_note(incident_id=incident.pk, user=request.user, text=text[:4000])
    else:
        messages.error(request, "A note needs some text.")
    return HttpResponseRedirect(incident.get_absolute_url() + "#timeline")
