"""Web Push to a phone or desktop browser, self-hosted: no vendor account, only a VAPID
key pair (RFC 8292) that Klaxon generates once and keeps.

- ``vapid_keys_generate()`` makes the pair; the private key is stored (setting
  ``WEBPUSH_VAPID_PRIVATE_KEY``, base64url of the 32-byte scalar; a PEM is accepted too)
  and the public key is what the page passes to ``pushManager.subscribe`` as
  ``applicationServerKey``. ``vapid_keys_load`` turns the stored form back into both.
- The browser's subscription (``endpoint``, ``keys.p256dh``, ``keys.auth``, as
  ``PushSubscription.toJSON()`` gives it) is the destination, stored as JSON.
- A send encrypts a small JSON payload (aes128gcm, RFC 8291) for that subscription and
  POSTs it to the endpoint with a signed VAPID JWT (subject ``WEBPUSH_VAPID_SUBJECT``, a
  mailto: or https: URL the push service can contact), ``TTL`` (``WEBPUSH_TTL``
  seconds), ``Urgency: high`` and a ``Topic`` per incident (a newer message about the
  same incident replaces one still waiting for the phone).

The payload (what the service worker shows)::

    {"version": 1, "title": "#12 CPU high", "body": "...", "url": <incident page>,
     "tag": "klaxon-incident-12", "incident": 12, "state": "triggered",
     "purpose": "triggered",
     "actions": [{"action": "acknowledge", "title": "Acknowledge", "url": <signed link>}]}

Answers: 201 delivered (the Location header names the message); 404/410 the
subscription is gone (permanent: remove it); 429 and 5xx transient. The endpoint is a
public push service, so the same SSRF rule as webhooks applies to it."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any, Self

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from py_vapid import Vapid02
from pywebpush import WebPushException, webpush

from notifications import ssrf
from notifications.channels import http
from notifications.channels.base import (
    Channel,
    Delivery,
    OutgoingMessage,
    PermanentChannelError,
    ResponseRecord,
    register,
)

PAYLOAD_VERSION = 1
# A push message holds 4096 bytes once encrypted (RFC 8291: 3993 of plaintext); keep
# well under it.
PAYLOAD_MAX_BYTES = 3000
TITLE_CHARS = 120


class PushConfigError(ValueError):
    """A key or subscription that cannot be used; the message says what is wrong."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    text = text.strip()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- VAPID keys -------------------------------------------------------------------------


@dataclass(frozen=True)
class VapidKeys:
    """``private_key``: base64url of the 32-byte P-256 scalar (what is stored).
    ``public_key``: base64url of the uncompressed point (the browser's
    applicationServerKey)."""

    private_key: str
    public_key: str

    def signing_key(self) -> ec.EllipticCurvePrivateKey:
        return _private_key(self.private_key)


def _keys_for(key: ec.EllipticCurvePrivateKey) -> VapidKeys:
    scalar = key.private_numbers().private_value.to_bytes(32, "big")
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return VapidKeys(private_key=b64url(scalar), public_key=b64url(point))


def vapid_keys_generate() -> VapidKeys:
    """A new VAPID key pair."""
    return _keys_for(ec.generate_private_key(ec.SECP256R1()))


def _private_key(stored: str) -> ec.EllipticCurvePrivateKey:
    stored = stored.strip()
    try:
        if stored.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(stored.encode(), password=None)
        else:
            raw = b64url_decode(stored)
            if len(raw) != 32:
                raise PushConfigError(
                    f"a VAPID private key is 32 bytes in base64url (this is {len(raw)} bytes)"
                )
            key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
    except PushConfigError:
        raise
    except (ValueError, TypeError, binascii.Error) as exc:
        raise PushConfigError(f"not a usable VAPID private key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise PushConfigError("a VAPID private key is an EC key on the P-256 curve")
    return key


def vapid_keys_load(private_key: str) -> VapidKeys:
    """Both keys from the stored private key (base64url scalar or PEM)."""
    return _keys_for(_private_key(private_key))


# --- Subscriptions ----------------------------------------------------------------------


@dataclass(frozen=True)
class PushSubscription:
    endpoint: str
    p256dh: str
    auth: str

    def as_dict(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), separators=(",", ":"))


def parse_subscription(data: str | Mapping[str, Any]) -> PushSubscription:
    """A browser's subscription (PushSubscription.toJSON(), as a dict or its JSON),
    checked: PushConfigError says what is wrong with it."""
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError:
            raise PushConfigError("the push subscription is not JSON") from None
    if not isinstance(data, Mapping):
        raise PushConfigError("the push subscription is not a JSON object")
    endpoint = data.get("endpoint")
    keys = data.get("keys")
    if not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://")):
        raise PushConfigError("the push subscription has no http(s) endpoint")
    if not isinstance(keys, Mapping):
        raise PushConfigError("the push subscription has no keys")
    p256dh, auth = keys.get("p256dh"), keys.get("auth")
    if not isinstance(p256dh, str) or not isinstance(auth, str):
        raise PushConfigError("the push subscription needs keys.p256dh and keys.auth")
    try:
        point = b64url_decode(p256dh)
        secret = b64url_decode(auth)
    except (binascii.Error, ValueError):
        raise PushConfigError("the subscription's keys are not base64url") from None
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        raise PushConfigError("keys.p256dh is not a P-256 public key") from None
    if len(secret) != 16:
        raise PushConfigError(f"keys.auth is 16 bytes, not {len(secret)}")
    return PushSubscription(endpoint=endpoint, p256dh=p256dh, auth=auth)


# --- The payload ------------------------------------------------------------------------


def _summary(message: OutgoingMessage) -> str:
    incident = message.incident
    if message.text:
        return message.text
    if incident is None:
        return "Push notifications from Klaxon reach this device."
    parts = [incident.state.capitalize(), incident.severity, incident.integration]
    return " · ".join(p for p in parts if p)


def push_payload(message: OutgoingMessage) -> dict[str, Any]:
    """What the service worker receives (see the module docstring)."""
    incident = message.incident
    payload: dict[str, Any] = {
        "version": PAYLOAD_VERSION,
        "title": message.headline()[:TITLE_CHARS],
        "body": _summary(message),
        "url": incident.url if incident else "",
        "tag": f"klaxon-incident-{incident.number}" if incident else "klaxon-test",
        "incident": incident.number if incident else None,
        "state": incident.state if incident else "",
        "purpose": message.purpose.value,
        "actions": [],
    }
    if incident and incident.state == "triggered" and message.acknowledge_url:
        payload["actions"].append(
            {"action": "acknowledge", "title": "Acknowledge", "url": message.acknowledge_url}
        )
    return payload


def encode_payload(payload: dict[str, Any]) -> str:
    """``payload`` as JSON within PAYLOAD_MAX_BYTES, shortening the body if it must."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    excess = len(text.encode()) - PAYLOAD_MAX_BYTES
    if excess > 0:
        body = payload["body"].encode()
        payload = {**payload, "body": body[: max(0, len(body) - excess - 3)].decode(
            errors="ignore"
        ) + "..."}  # fmt: skip
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return text


# --- The channel ------------------------------------------------------------------------


def _default_subject() -> str:
    address = parseaddr(getattr(settings, "DEFAULT_FROM_EMAIL", ""))[1]
    return f"mailto:{address or 'klaxon@localhost'}"


@register
class PushChannel(Channel):
    kind = "push"

    def __init__(
        self,
        *,
        vapid_private_key: str,
        subject: str,
        ttl: int = 3600,
        timeout: float = 5.0,
        allow_private: bool = False,
        resolver: ssrf.Resolver = ssrf.system_resolver,
    ) -> None:
        """An empty ``vapid_private_key`` means not configured: sends are recorded
        (``outbox``), not pushed."""
        self.keys = vapid_keys_load(vapid_private_key) if vapid_private_key else None
        if not subject.startswith(("mailto:", "https://")):
            raise PushConfigError("the VAPID subject is a mailto: or https: URL")
        self.subject = subject
        self.ttl = ttl
        self.timeout = timeout
        self.allow_private = allow_private
        self.resolver = resolver

    @classmethod
    def from_settings(cls, options: Mapping[str, str] | None = None) -> Self:
        return cls(
            vapid_private_key=getattr(settings, "WEBPUSH_VAPID_PRIVATE_KEY", ""),
            subject=getattr(settings, "WEBPUSH_VAPID_SUBJECT", "") or _default_subject(),
            ttl=int(getattr(settings, "WEBPUSH_TTL", 3600)),
            **http.target_settings(),
        )

    def send(self, message: OutgoingMessage) -> Delivery:
        payload = push_payload(message)
        text = encode_payload(payload)
        sent = Delivery(subject=payload["title"], body=payload["body"])
        if self.keys is None:
            return dataclasses.replace(sent, outbox=True, provider_status="recorded")
        try:
            subscription = parse_subscription(message.destination)
        except PushConfigError as exc:
            raise PermanentChannelError(str(exc), code="subscription") from exc
        what = "the push service"
        session = http.pinned_session_for(
            subscription.endpoint, allow_private=self.allow_private, resolver=self.resolver,
            what=what,
        )  # fmt: skip
        headers: dict[str, str | int | float] = {"Urgency": "high"}
        if message.incident is not None:
            headers["Topic"] = f"klaxon-incident-{message.incident.number}"
        started = time.monotonic()
        with session, http.network_errors(what, self.timeout):
            try:
                response = webpush(
                    subscription.as_dict(),
                    data=text,
                    vapid_private_key=Vapid02(self.keys.signing_key()),
                    vapid_claims={"sub": self.subject},  # aud and exp are filled in
                    ttl=self.ttl,
                    timeout=self.timeout,
                    headers=headers,
                    requests_session=session,
                )
            except WebPushException as exc:
                if exc.response is None:
                    raise PermanentChannelError(f"push failed: {exc.message}") from exc
                response = exc.response  # an answer above 202: judged below
            except requests.TooManyRedirects as exc:
                response = http.redirect_response(exc, what)
        record = ResponseRecord(
            status_code=response.status_code,
            body=response.content[: http.EXCERPT_BYTES].decode(errors="replace"),
            duration_ms=round((time.monotonic() - started) * 1000),
        )
        http.check_status(
            record,
            headers=response.headers,
            what=what,
            gone="the browser's subscription is gone (unsubscribed or expired); remove it",
        )
        return Delivery(
            provider_id=response.headers.get("Location", ""),
            provider_status=str(record.status_code),
            subject=sent.subject,
            body=sent.body,
            response=record,
        )
