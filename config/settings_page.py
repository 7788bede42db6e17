"""/settings/: what an admin needs to connect Klaxon to Twilio and email, in words.

Read-only: everything comes from the environment (config/settings.py). Secrets are never
shown: the Twilio account SID is masked, the auth token and mail password not printed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from retention.services import retention_overview

DEFAULT_TWILIO_API_BASE = "https://api.twilio.com"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}


@dataclass(frozen=True)
class Webhook:
    element_id: str
    title: str
    url: str
    where: str


def mask(secret: str) -> str:
    """AC0123...cdef -> "AC…cdef": enough to tell accounts apart, not to use one."""
    if len(secret) <= 8:
        return "…"
    return f"{secret[:2]}…{secret[-4:]}"


def twilio_mode() -> str:
    if settings.TWILIO_OUTBOX_MODE:
        missing = [
            name
            for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN")
            if not getattr(settings, name)
        ] or ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"]
        return (
            f"Outbox mode: no {'/'.join(missing)}, SMS and calls are recorded on the "
            "Outbox page, not sent."
        )
    sender = settings.TWILIO_FROM_NUMBER or "no number (TWILIO_FROM_NUMBER is not set)"
    return f"Live: account {mask(settings.TWILIO_ACCOUNT_SID)}, from {sender}."


def email_backend() -> str:
    backend = settings.EMAIL_BACKEND
    if backend.endswith("console.EmailBackend"):
        return "Console: emails are printed in the server's log, not sent (set EMAIL_URL)."
    if backend.endswith("locmem.EmailBackend"):
        return "In memory: emails are kept by the test runner, not sent."
    if backend.endswith("dummy.EmailBackend"):
        return "Dummy: emails are thrown away."
    if backend.endswith("filebased.EmailBackend"):
        folder = getattr(settings, "EMAIL_FILE_PATH", "a folder")
        return f"Files: emails are written to {folder}, not sent."
    if backend.endswith("smtp.EmailBackend"):
        security = (
            " over SSL"
            if settings.EMAIL_USE_SSL
            else " with STARTTLS"
            if settings.EMAIL_USE_TLS
            else " without encryption"
        )
        login = f", signing in as {settings.EMAIL_HOST_USER}" if settings.EMAIL_HOST_USER else ""
        return f"SMTP: {settings.EMAIL_HOST}:{settings.EMAIL_PORT}{security}{login}."
    return f"{backend}."


def base_url_warnings(base_url: str) -> list[str]:
    host = (urlsplit(base_url).hostname or "").lower()
    warnings = []
    if host in LOCAL_HOSTS or host.endswith(".localhost"):
        warnings.append(
            "Twilio and email links cannot reach this; set KLAXON_BASE_URL to the public URL."
        )
    elif not base_url.startswith("https://"):
        warnings.append(
            "This is not https: webhooks and email links travel unencrypted. Use https in "
            "production."
        )
    return warnings


def webhooks() -> list[Webhook]:
    base = settings.KLAXON_BASE_URL
    return [
        Webhook(
            "webhook-sms",
            "Incoming SMS (replies such as “ack”)",
            base + reverse("twilio-sms"),
            "Paste it in the Twilio console: Phone Numbers › your number › Messaging "
            "configuration › “A message comes in” (Webhook, HTTP POST).",
        ),
        Webhook(
            "webhook-voice",
            "Voice (what a call says, the key pressed)",
            base + reverse("twilio-voice"),
            "Nothing to paste: Klaxon sets it on each call it places. Shown so you can "
            "check it is reachable.",
        ),
        Webhook(
            "webhook-status",
            "Status callbacks (delivered, failed, no answer)",
            base + reverse("twilio-status"),
            "Nothing to paste: Klaxon sets it on each message and call it sends.",
        ),
    ]


@login_required
def settings_page(request: HttpRequest) -> HttpResponse:
    if not request.user.is_staff:
        return render(request, "settings.html", {"forbidden": True}, status=403)
    context: dict[str, Any] = {
        "base_url": settings.KLAXON_BASE_URL,
        "base_url_warnings": base_url_warnings(settings.KLAXON_BASE_URL),
        "outbox_mode": settings.TWILIO_OUTBOX_MODE,
        "twilio_mode": twilio_mode(),
        "twilio_account": mask(settings.TWILIO_ACCOUNT_SID) if settings.TWILIO_ACCOUNT_SID else "",
        "twilio_from": settings.TWILIO_FROM_NUMBER,
        "twilio_api_base": (
            settings.TWILIO_API_BASE
            if settings.TWILIO_API_BASE.rstrip("/") != DEFAULT_TWILIO_API_BASE
            else ""
        ),
        "webhooks": webhooks(),
        "email_backend": email_backend(),
        "default_from_email": settings.DEFAULT_FROM_EMAIL,
        "retention": retention_overview(),
    }
    return render(request, "settings.html", context)
