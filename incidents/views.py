from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from incidents import selectors, services
from incidents.models import Incident
from integrations.models import Integration


@login_required
def incident_list(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state", "open")
    if state not in selectors.LIST_STATES:
        state = "open"  # a mistyped link shows the default tab, not an unlabelled list
    incidents = selectors.incident_list(state=state)
    page = Paginator(incidents, 50).get_page(request.GET.get("page"))
    counts = dict(Incident.objects.values_list("state").annotate(n=Count("id")).order_by())
    unsubscribed = Integration.objects.filter(
        subscription_status=Integration.Subscription.UNSUBSCRIBED, enabled=True
    ).only("id", "name")
    return render(
        request,
        "incidents/list.html",
        {
            "page": page,
            "state": state,
            "counts": counts,
            "open_count": counts.get("triggered", 0) + counts.get("acknowledged", 0),
            "all_count": sum(counts.values()),
            "unsubscribed": unsubscribed,
        },
    )


@login_required
def incident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    incident = get_object_or_404(
        Incident.objects.select_related("integration", "acknowledged_by", "resolved_by"), pk=pk
    )
    events = incident.events.select_related("actor", "inbound_message")
    pages = incident.notifications.select_related("user").defer("body").order_by("id")
    return render(
        request,
        "incidents/detail.html",
        {"incident": incident, "events": events, "pages": pages},
    )


def _back(request: HttpRequest, incident: Incident) -> HttpResponseRedirect:
    """Where a button on the list sent us from; only a path on this site is followed."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return HttpResponseRedirect(target)
    return HttpResponseRedirect(incident.get_absolute_url())


@login_required
@require_POST
def incident_acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    get_object_or_404(Incident, pk=pk)
    assert request.user.is_authenticated
    incident = services.incident_acknowledge(incident_id=pk, user=request.user, channel="web")
    messages.success(
        request, f"Incident #{incident.pk} is {incident.get_state_display().lower()}."
    )
    return _back(request, incident)


@login_required
@require_POST
def incident_resolve(request: HttpRequest, pk: int) -> HttpResponse:
    get_object_or_404(Incident, pk=pk)
    assert request.user.is_authenticated
    incident = services.incident_resolve(incident_id=pk, user=request.user, channel="web")
    messages.success(
        request, f"Incident #{incident.pk} is {incident.get_state_display().lower()}."
    )
    return _back(request, incident)


@login_required
@require_POST
def incident_note(request: HttpRequest, pk: int) -> HttpResponse:
    incident = get_object_or_404(Incident, pk=pk)
    text = request.POST.get("text", "").strip()
    assert request.user.is_authenticated
    if text:
        services.incident_add_note(incident_id=incident.pk, user=request.user, text=text[:4000])
    else:
        messages.error(request, "A note needs some text.")
    return redirect(incident)
