"""Error pages: the API answers in JSON, the dashboard in HTML.

A mistyped API path (``/api/v1/incidents/abc/`` does not match the router) would
otherwise get the dashboard's HTML 404, which a script cannot read and the OpenAPI
schema does not describe."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

API_PREFIX = "/api/"


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)
