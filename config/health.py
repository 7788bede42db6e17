"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from config.celery import app as celery_app


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 whenever this process can answer."""
    return JsonResponse({"status": "ok"})


def _database_error() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means "not ready"
        return f"database unreachable: {type(exc).__name__}: {exc}".strip()
    return None


def _broker_error() -> str | None:
    try:
        with celery_app.connection_for_write(settings.CELERY_BROKER_URL) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
    except Exception as exc:
        return f"broker unreachable: {type(exc).__name__}: {exc}".strip()
    return None


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """200 only when the database and the Celery broker both answer; 503 names the one that
    does not."""
    problems = {
        name: error
        for name, error in (("database", _database_error()), ("broker", _broker_error()))
        if error
    }
    if problems:
        return JsonResponse({"status": "unavailable", "problems": problems}, status=503)
    return JsonResponse({"status": "ok", "database": "ok", "broker": "ok"})
