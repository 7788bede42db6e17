"""A local Web Push service, and browsers subscribed to it.

``subscribe()`` does what a browser does in PushManager.subscribe(): it makes a P-256
key pair and a 16-byte auth secret (with ``cryptography``) and hands out the
subscription JSON (endpoint, keys.p256dh, keys.auth). A POST to the endpoint is checked
as a push service checks it (RFC 8292: ``Authorization: vapid t=<JWT>, k=<public key>``,
an ES256 signature by that key, ``aud`` the endpoint's origin, ``exp`` in the future and
at most 24 hours away, a ``sub``; RFC 8030: a TTL header; RFC 8291: aes128gcm) and its
body is decrypted with the browser's private key (``http_ece``): the test reads what the
phone would show. A subscription marked gone answers 410, an unknown one 404."""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import time
from dataclasses import dataclass
from typing import Any

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.fakes.server import LocalServer, Recorded, Reply

_AUTH = re.compile(r"vapid\s+t=(?P<t>[^,\s]+)\s*,\s*k=(?P<k>[^,\s]+)", re.IGNORECASE)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Browser:
    """One subscribed browser: what it gave the server, and what it keeps to itself."""

    id: str
    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth_secret: bytes

    def subscription(self) -> dict[str, Any]:
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "keys": {"p256dh": b64url(point), "auth": b64url(self.auth_secret)},
        }

    def subscription_json(self) -> str:
        return json.dumps(self.subscription())


@dataclass(frozen=True)
class Pushed:
    browser: str
    payload: Any  # the decrypted JSON
    claims: dict[str, Any]
    headers: dict[str, str]


class VapidRefused(Exception):
    pass


def verify_vapid(header: str, *, audience: str, now: float) -> dict[str, Any]:
    """The JWT's claims, after checking it the way a push service does."""
    match = _AUTH.fullmatch(header.strip())
    if match is None:
        raise VapidRefused("Authorization is not 'vapid t=..., k=...'")
    token, key = match["t"], match["k"]
    try:
        public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
        head_b64, claims_b64, signature_b64 = token.split(".")
        head = json.loads(unb64url(head_b64))
        claims = json.loads(unb64url(claims_b64))
        signature = unb64url(signature_b64)
    except (ValueError, TypeError) as exc:
        raise VapidRefused(f"malformed VAPID header: {exc}") from None
    if head.get("alg") != "ES256" or len(signature) != 64:
        raise VapidRefused("the JWT is not ES256")
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    try:
        public_key.verify(
            encode_dss_signature(r, s),
            f"{head_b64}.{claims_b64}".encode(),
            ec.ECDSA(hashes.SHA256()),
        )
    except InvalidSignature:
        raise VapidRefused("the JWT signature does not verify with k") from None
    if claims.get("aud") != audience:
        raise VapidRefused(f"aud is {claims.get('aud')!r}, not {audience!r}")
    exp = claims.get("exp")
    if not isinstance(exp, int) or not now < exp <= now + 24 * 3600:
        raise VapidRefused(f"exp {exp!r} is not within the next 24 hours")
    if not claims.get("sub"):
        raise VapidRefused("sub is missing")
    return dict(claims)


class FakePushService(LocalServer):
    def __init__(self) -> None:
        super().__init__()
        self.browsers: dict[str, Browser] = {}
        self.gone: set[str] = set()
        self.pushed: list[Pushed] = []
        self._ids = itertools.count(1)

    def subscribe(self) -> Browser:
        n = next(self._ids)
        browser = Browser(
            id=f"sub{n}",
            endpoint=f"{self.base_url}/push/sub{n}",
            private_key=ec.generate_private_key(ec.SECP256R1()),
            auth_secret=os.urandom(16),
        )
        self.browsers[browser.id] = browser
        return browser

    def handle(self, request: Recorded) -> Reply:
        browser = self.browsers.get(request.path.removeprefix("/push/"))
        if request.method != "POST" or browser is None:
            return Reply(404, b"no such subscription")
        if browser.id in self.gone:
            return Reply(410, b"subscription expired or unsubscribed")
        try:
            claims = verify_vapid(
                request.headers.get("authorization", ""), audience=self.base_url, now=time.time()
            )
        except VapidRefused as exc:
            return Reply(401, str(exc).encode())
        if not request.headers.get("ttl", "").isdigit():
            return Reply(400, b"TTL header missing")
        if request.headers.get("content-encoding") != "aes128gcm":
            return Reply(415, b"only aes128gcm")
        try:
            plain = http_ece.decrypt(
                request.body,
                private_key=browser.private_key,
                auth_secret=browser.auth_secret,
                version="aes128gcm",
            )
        except Exception as exc:  # whatever http_ece raises on a bad record
            return Reply(400, f"cannot decrypt: {exc}".encode())
        with self.lock:
            self.pushed.append(Pushed(browser.id, json.loads(plain), claims, request.headers))
            number = len(self.pushed)
        return Reply(201, b"", {"Location": f"{self.base_url}/messages/{number}"})
