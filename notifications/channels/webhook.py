"""Outgoing webhooks, signed the Standard Webhooks way (standardwebhooks.com).

Each request carries three headers:

- ``webhook-id``: the message id, the same on every retry of one message (receivers
  deduplicate on it);
- ``webhook-timestamp``: Unix seconds when this attempt was signed;
- ``webhook-signature``: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``, keyed
  with the secret, which is ``whsec_`` + base64 of random bytes (``secret_new``).

Any Standard Webhooks library verifies it (e.g. ``standardwebhooks.Webhook(secret)``).

The body is the default JSON document below unless the webhook has a template.
Schema version 1 (``"version": 1``); fields are only ever added within a version::

    {
      "version": 1,
      "event": "incident.triggered",      # incident.acknowledged|escalated|resolved|
                                          # note_added, or "test"
      "id": "ntf_42",                     # = webhook-id
      "occurred_at": "2025-01-31T12:00:00+00:00",
      "message": "Acknowledged by alice", # what happened, in words ("" if nothing)
      "incident": {                       # null for "test"
        "number": 12, "title": "...", "state": "triggered", "severity": "critical",
        "url": "https://klaxon.example.com/incidents/12/", "integration": "prod AWS",
        "description": "...", "opened_at": "2025-01-31T11:58:00+00:00"
      }
    }

A template is Jinja2 run in an immutable sandbox: it sees the same fields (``event``,
``id``, ``occurred_at``, ``message``, ``incident``) plus the whole document as
``payload`` (``{{ payload | tojson }}``), at most TEMPLATE_MAX_CHARS of source and
OUTPUT_MAX_BYTES of output, ``range`` capped at RANGE_MAX; an unknown name is an error,
not an empty string. ``validate_template`` renders against a sample, for save time.

Answers: 2xx delivered; 410 and other 4xx permanent; 5xx, 408/429 and timeouts
transient; redirects are not followed (see notifications.channels.http)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Self

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from notifications import ssrf
from notifications.channels import http
from notifications.channels.base import (
    Channel,
    Delivery,
    IncidentSummary,
    OutgoingMessage,
    PermanentChannelError,
    Purpose,
    register,
)

SCHEMA_VERSION = 1
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # the spec asks for 24 to 64
TEMPLATE_MAX_CHARS = 16 * 1024
OUTPUT_MAX_BYTES = 64 * 1024
RANGE_MAX = 1000


class WebhookConfigError(ValueError):
    """A secret or template that cannot be used; the message says what is wrong."""


# --- Signing ----------------------------------------------------------------------------


def secret_new() -> str:
    """A new signing secret, ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key a ``whsec_`` secret stands for."""
    if not secret.startswith(SECRET_PREFIX):
        raise WebhookConfigError("a webhook secret starts with whsec_")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise WebhookConfigError("a webhook secret is whsec_ followed by base64") from None
    if not key:
        raise WebhookConfigError("the webhook secret is empty")
    return key


def sign(*, secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for one request."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_headers(
    *, secret: str, message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(
            secret=secret, message_id=message_id, timestamp=timestamp, body=body
        ),
    }


# --- The body ---------------------------------------------------------------------------


def event_name(purpose: Purpose) -> str:
    return "test" if purpose == Purpose.TEST else f"incident.{purpose.value}"


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def default_document(message: OutgoingMessage) -> dict[str, Any]:
    """The version 1 document (see the module docstring)."""
    incident = message.incident
    return {
        "version": SCHEMA_VERSION,
        "event": event_name(message.purpose),
        "id": message.delivery_id,
        "occurred_at": _iso(message.occurred_at),
        "message": message.text,
        "incident": None
        if incident is None
        else {
            "number": incident.number,
            "title": incident.title,
            "state": incident.state,
            "severity": incident.severity,
            "url": incident.url,
            "integration": incident.integration,
            "description": incident.description,
            "opened_at": _iso(incident.opened_at),
        },
    }


def _bounded_range(*args: int) -> range:
    found = range(*args)
    if len(found) > RANGE_MAX:
        raise OverflowError(f"range() is limited to {RANGE_MAX} items in templates")
    return found


def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(autoescape=False, undefined=StrictUndefined)
    env.globals["range"] = _bounded_range
    return env


_ENV = _environment()


def _bounded(chunks: Iterator[str]) -> str:
    out: list[str] = []
    size = 0
    for chunk in chunks:
        size += len(chunk.encode())
        if size > OUTPUT_MAX_BYTES:
            raise WebhookConfigError(f"the template's output is over {OUTPUT_MAX_BYTES} bytes")
        out.append(chunk)
    return "".join(out)


def render_template(source: str, document: Mapping[str, Any]) -> str:
    """``source`` rendered in the sandbox with ``document``'s fields; WebhookConfigError
    says what went wrong (syntax, an unknown name, a forbidden attribute, the size)."""
    if len(source) > TEMPLATE_MAX_CHARS:
        raise WebhookConfigError(f"the template is over {TEMPLATE_MAX_CHARS} characters")
    try:
        template = _ENV.from_string(source)
        return _bounded(template.generate({**document, "payload": document}))
    except WebhookConfigError:
        raise
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        where = f" (line {line})" if line else ""
        raise WebhookConfigError(f"template error{where}: {exc}") from None
    except Exception as exc:  # a template is user code: whatever it raises is its error
        raise WebhookConfigError(f"template error: {exc.__class__.__name__}: {exc}") from None


SAMPLE_MESSAGE = OutgoingMessage(
    destination="https://receiver.example.com/hook",
    purpose=Purpose.TRIGGERED,
    incident=IncidentSummary(
        number=1,
        title="Sample incident",
        state="triggered",
        url="https://klaxon.example.com/incidents/1/",
        severity="critical",
        integration="Sample integration",
        description="What the alarm said.",
        opened_at=datetime(2025, 1, 1, tzinfo=UTC),
    ),
    text="Sample message",
    delivery_id="msg_sample",
    occurred_at=datetime(2025, 1, 1, tzinfo=UTC),
)


def validate_template(source: str) -> None:
    """Raise WebhookConfigError unless ``source`` renders for a sample incident."""
    render_template(source, default_document(SAMPLE_MESSAGE))


# --- The channel ------------------------------------------------------------------------


@register
class WebhookChannel(Channel):
    kind = "webhook"

    def __init__(
        self,
        *,
        secret: str,
        template: str = "",
        content_type: str = "application/json",
        allow_private: bool = False,
        timeout: float = 5.0,
        resolver: ssrf.Resolver = ssrf.system_resolver,
        clock: Callable[[], float] = time.time,
    ) -> None:
        secret_key(secret)  # refuse a bad secret now, not at the first send
        self.secret = secret
        self.template = template
        self.content_type = content_type
        self.allow_private = allow_private
        self.timeout = timeout
        self.resolver = resolver
        self.clock = clock

    @classmethod
    def from_settings(cls, options: Mapping[str, str] | None = None) -> Self:
        """``options``: ``secret`` (required), ``template``, ``content_type``."""
        options = options or {}
        if not options.get("secret"):
            raise WebhookConfigError("a webhook needs its secret")
        return cls(
            secret=options["secret"],
            template=options.get("template", ""),
            content_type=options.get("content_type") or "application/json",
            **http.target_settings(),
        )

    def body(self, message: OutgoingMessage) -> str:
        """What is POSTed for ``message`` (the template's output, or the JSON document)."""
        document = default_document(message)
        if not self.template:
            return json.dumps(document, separators=(",", ":"))
        try:
            return render_template(self.template, document)
        except WebhookConfigError as exc:
            raise PermanentChannelError(str(exc), code="template") from exc

    def send(self, message: OutgoingMessage) -> Delivery:
        text = self.body(message)
        body = text.encode()
        timestamp = int(self.clock())
        headers = {
            "Content-Type": self.content_type,
            **signature_headers(
                secret=self.secret,
                message_id=message.delivery_id,
                timestamp=timestamp,
                body=body,
            ),
        }
        record, _ = http.post(
            message.destination,
            body=body,
            headers=headers,
            timeout=self.timeout,
            allow_private=self.allow_private,
            resolver=self.resolver,
            what="the webhook",
            gone="the receiver says this webhook is gone; turn it off or fix the URL",
        )
        return Delivery(
            provider_id=message.delivery_id,
            provider_status=str(record.status_code),
            subject=event_name(message.purpose),
            body=text,
            response=record,
        )
