"""Twilio's REST API faked at the HTTP layer with `responses`, so the real twilio client
code builds and sends every request. Responses have the shape Twilio documents."""

from __future__ import annotations

import itertools
import json
from typing import Any
from urllib.parse import parse_qs

import responses

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "test-auth-token"
FROM_NUMBER = "+15005550006"
API_BASE = "http://twilio.test"

_sids = itertools.count(1)


def configure(settings: Any, *, base: str = API_BASE) -> None:
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.TWILIO_FROM_NUMBER = FROM_NUMBER
    settings.TWILIO_API_BASE = base
    settings.TWILIO_OUTBOX_MODE = False


def messages_url(base: str = API_BASE) -> str:
    return f"{base}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


def calls_url(base: str = API_BASE) -> str:
    return f"{base}/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"


def created(prefix: str) -> Any:
    """A callback answering 201 with a new SID, as Twilio does."""

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        sid = f"{prefix}{next(_sids):032x}"
        body = {"sid": sid, "account_sid": ACCOUNT_SID, "status": "queued"}
        return 201, {"Content-Type": "application/json"}, json.dumps(body)

    return answer


def error(status: int, code: int, message: str) -> dict[str, Any]:
    return {
        "status": status,
        "content_type": "application/json",
        "body": json.dumps({"code": code, "message": message, "status": status}),
    }


def form(call: Any) -> dict[str, str]:
    """The form a recorded request posted, one value per key."""
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


def add_sms_ok(rsps: responses.RequestsMock, base: str = API_BASE) -> None:
    rsps.add_callback(responses.POST, messages_url(base), callback=created("SM"))


def add_call_ok(rsps: responses.RequestsMock, base: str = API_BASE) -> None:
    rsps.add_callback(responses.POST, calls_url(base), callback=created("CA"))
