"""The Content-Security-Policy header (Django 5.2 has none built in).

Every page loads its scripts and styles from Klaxon's own static files: no inline
script, no inline event handler, no style attribute (static/js/klaxon.js does what
``onclick=`` and friends used to). A page that must carry data-driven CSS (the schedule
timeline's positions) writes a ``<style nonce="{{ request.csp_nonce }}">`` block; the
nonce, fresh per response, is added to the policy only when a template used it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"
POLICY: dict[str, str] = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    # data: for the small SVG icons Swagger UI and the Django admin inline in CSS.
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    # The modern form of X-Frame-Options: DENY (which is also sent, for old browsers).
    "frame-ancestors": "'none'",
}


class CspNonce:
    """A nonce made on first use, so responses that never need one do not carry one."""

    def __init__(self) -> None:
        self.value = ""

    def __str__(self) -> str:
        if not self.value:
            self.value = secrets.token_urlsafe(18)
        return self.value


def policy_text(nonce: str = "") -> str:
    directives = dict(POLICY)
    if nonce:
        for name in ("script-src", "style-src"):
            directives[name] += f" 'nonce-{nonce}'"
    return "; ".join(f"{name} {value}" for name, value in directives.items())


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.plain_policy = policy_text()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        nonce = CspNonce()
        request.csp_nonce = nonce  # type: ignore[attr-defined]
        response = self.get_response(request)
        if settings.DEBUG and response.status_code >= 400:
            # Django's technical error pages (DEBUG only) are built with inline styles and
            # scripts; production never shows them.
            return response
        if HEADER not in response:
            response[HEADER] = policy_text(nonce.value) if nonce.value else self.plain_policy
        return response
