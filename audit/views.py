from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.http import urlencode

from accounts.models import User
from audit.models import AuditEntry
from audit.selectors import (
    SYSTEM,
    AuditFilters,
    audit_page,
    entry_rows,
    snapshot_rows,
)
from audit.services import SYSTEM_ACTOR
from config.ids import parse_id


@login_required
def entry_list(request: HttpRequest) -> HttpResponse:
    """Every change to integrations, schedules, policies and teams, newest first."""
    filters = AuditFilters.from_params(request.GET)
    before = parse_id(request.GET.get("before"))
    page = audit_page(filters=filters, before=before)
    filter_params = filters.params()
    older_query = (
        urlencode({**filter_params, "before": str(page.older_than)}) if page.older_than else ""
    )
    return render(
        request,
        "audit/list.html",
        {
            "rows": entry_rows(page.entries),
            "filters": filters,
            "object_types": AuditEntry.ObjectType.choices,
            "actors": User.objects.only("id", "username").order_by("username"),
            "system": SYSTEM,
            "system_actor": SYSTEM_ACTOR,
            "older_query": older_query,
            "newest_query": urlencode(filter_params),
            "paged_back": before is not None,
        },
    )


@login_required
def entry_detail(request: HttpRequest, pk: int) -> HttpResponse:
    entry = get_object_or_404(AuditEntry, pk=pk)
    history = (
        urlencode({"type": entry.object_type, "object": str(entry.object_id)})
        if entry.object_id is not None
        else ""
    )
    return render(
        request,
        "audit/detail.html",
        {
            "entry": entry,
            "fields": snapshot_rows(entry),
            "history_query": history,
            "before_json": json.dumps(entry.before, indent=2, ensure_ascii=False),
            "after_json": json.dumps(entry.after, indent=2, ensure_ascii=False),
        },
    )
