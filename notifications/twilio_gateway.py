"""The one module that talks to Twilio, through the official ``twilio`` package.

``TWILIO_API_BASE`` (default https://api.twilio.com) rebases every request the client
makes, so tests and staging can point the real client code at a Twilio-compatible mock
server. Errors come back as two kinds: TransientSendError (no answer, timeouts, 5xx,
429: try again later) and PermanentSendError (anything else Twilio refused, such as
21211 invalid number or 21610 unsubscribed: trying again cannot help)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings
from twilio.base.exceptions import TwilioRestException  # type: ignore[import-untyped,unused-ignore]
from twilio.http.http_client import TwilioHttpClient  # type: ignore[import-untyped,unused-ignore]
from twilio.http.response import Response  # type: ignore[import-untyped,unused-ignore]
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped,unused-ignore]
from twilio.rest import Client  # type: ignore[import-untyped,unused-ignore]

DEFAULT_API_BASE = "https://api.twilio.com"


class SendError(Exception):
    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class TransientSendError(SendError):
    """Worth retrying: the message may go through later."""


class PermanentSendError(SendError):
    """Not worth retrying: the request itself was refused."""


@dataclass(frozen=True)
class Sent:
    provider_id: str
    provider_status: str


class _RebasedHttpClient(TwilioHttpClient):
    """Sends what the twilio client builds for api.twilio.com to TWILIO_API_BASE."""

    def __init__(self, base: str, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.base = base.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        if self.base != DEFAULT_API_BASE and url.startswith(DEFAULT_API_BASE):
            url = self.base + url[len(DEFAULT_API_BASE) :]
        return super().request(method, url, *args, **kwargs)


@functools.cache
def _client(sid: str, token: str, base: str, timeout: float) -> Client:
    return Client(sid, token, http_client=_RebasedHttpClient(base, timeout))


def client() -> Client:
    return _client(
        settings.TWILIO_ACCOUNT_SID,
        settings.TWILIO_AUTH_TOKEN,
        settings.TWILIO_API_BASE,
        settings.TWILIO_TIMEOUT,
    )


def _classify(exc: Exception) -> SendError:
    if isinstance(exc, TwilioRestException):
        code = str(exc.code or "")
        text = f"Twilio {exc.status}" + (f" error {code}" if code else "") + f": {exc.msg}"
        if exc.status >= 500 or exc.status == 429:
            return TransientSendError(text, code)
        return PermanentSendError(text, code)
    if isinstance(exc, requests.Timeout):
        return TransientSendError(f"Twilio did not answer in time ({exc.__class__.__name__})")
    if isinstance(exc, requests.RequestException):
        return TransientSendError(f"Twilio could not be reached ({exc.__class__.__name__})")
    return PermanentSendError(f"{exc.__class__.__name__}: {exc}")


def send_sms(*, to: str, body: str, status_callback: str) -> Sent:
    try:
        message = client().messages.create(
            to=to,
            from_=settings.TWILIO_FROM_NUMBER,
            body=body,
            status_callback=status_callback,
        )
    except Exception as exc:
        raise _classify(exc) from exc
    return Sent(str(message.sid), str(message.status or ""))


def place_call(*, to: str, twiml_url: str, status_callback: str) -> Sent:
    """Call ``to``; Twilio fetches what to say from ``twiml_url`` (our voice webhook).
    Answering machines are detected so a voicemail is not taken for a person."""
    try:
        call = client().calls.create(
            to=to,
            from_=settings.TWILIO_FROM_NUMBER,
            url=twiml_url,
            method="POST",
            status_callback=status_callback,
            status_callback_method="POST",
            status_callback_event=["completed"],
            machine_detection="Enable",
            timeout=30,
        )
    except Exception as exc:
        raise _classify(exc) from exc
    return Sent(str(call.sid), str(call.status or ""))


def signature_is_valid(url: str, params: Mapping[str, Any] | str, signature: str) -> bool:
    """Whether ``signature`` (X-Twilio-Signature) signs this request with our auth token.

    ``params`` is the form's parameters (a dict, or a QueryDict for repeated keys), or the
    raw body of a JSON request, whose URL then carries its SHA-256 as ``bodySHA256``."""
    token = settings.TWILIO_AUTH_TOKEN
    if not token or not signature:
        return False
    return bool(RequestValidator(token).validate(url, params, signature))
