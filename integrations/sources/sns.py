"""Amazon SNS HTTP(S) delivery: envelope parsing and signature verification.

Pure module: no Django, no database, no network. Fetching the signing certificate is
the caller's job (see ``integrations.sns_http``); :func:`verify` takes the fetcher as an
argument and checks the certificate URL against the allowed pattern before calling it.

Every failure is an :class:`SnsError` whose ``reason`` is a short sentence meant to be
shown to a person (stored on the Inbound Log and echoed in the HTTP response).
"""

from __future__ import annotations

import base64
import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = [
    "CONFIRMATION_TYPES",
    "DEFAULT_CERT_URL_PATTERN",
    "MESSAGE_TYPES",
    "CertificateFetchFailed",
    "CertificateInvalid",
    "CertificateUrlNotAllowed",
    "MalformedMessage",
    "SignatureInvalid",
    "SnsEnvelope",
    "SnsError",
    "check_certificate_url",
    "parse_envelope",
    "string_to_sign",
    "verify",
    "verify_signature",
]

# The host is sns.<region>.amazonaws.com[.cn] with a real region shape (us-east-1,
# us-gov-west-1, cn-north-1): a looser host part would also admit S3 website hosts such
# as sns.s3-us-west-2.amazonaws.com, which anyone with a bucket named "sns" controls.
SNS_HOST_PATTERN: Final = r"sns\.[a-z]{2}(-[a-z]+)+-[0-9]+\.amazonaws\.com(\.cn)?"
DEFAULT_CERT_URL_PATTERN: Final = rf"https://{SNS_HOST_PATTERN}/[^?#]*\.pem"
DEFAULT_SUBSCRIBE_URL_PATTERN: Final = (
    rf"https://{SNS_HOST_PATTERN}/\?([^#]*&)?Action=ConfirmSubscription(&[^#]*)?"
)

NOTIFICATION: Final = "Notification"
SUBSCRIPTION_CONFIRMATION: Final = "SubscriptionConfirmation"
UNSUBSCRIBE_CONFIRMATION: Final = "UnsubscribeConfirmation"
CONFIRMATION_TYPES: Final = frozenset({SUBSCRIPTION_CONFIRMATION, UNSUBSCRIBE_CONFIRMATION})
MESSAGE_TYPES: Final = frozenset({NOTIFICATION}) | CONFIRMATION_TYPES

# SignatureVersion -> hash used with RSA PKCS#1 v1.5.
_HASHES: Final[dict[str, Callable[[], hashes.HashAlgorithm]]] = {
    "1": hashes.SHA1,
    "2": hashes.SHA256,
}

# Fields every message must carry, in the order we report them missing.
_REQUIRED: Final = (
    "Type",
    "MessageId",
    "TopicArn",
    "Message",
    "Timestamp",
    "SignatureVersion",
    "Signature",
    "SigningCertURL",
)
# HTTP delivery spells these "...URL", Lambda event records spell them "...Url".
_ALIASES: Final = {
    "SigningCertURL": "SigningCertUrl",
    "SubscribeURL": "SubscribeUrl",
    "UnsubscribeURL": "UnsubscribeUrl",
}

_MAX_SHOWN: Final = 120  # characters of an offending value quoted in a reason


class SnsError(Exception):
    """Base class; ``reason`` says in plain words what was wrong."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MalformedMessage(SnsError):
    """The body is not a well-formed SNS envelope."""


class SignatureInvalid(SnsError):
    """The signature does not verify (or uses an unsupported scheme)."""


class CertificateUrlNotAllowed(SnsError):
    """SigningCertURL is not on the allowed list; nothing was fetched."""


class CertificateInvalid(SnsError):
    """The signing certificate could not be obtained, read, or is outside its validity."""


class CertificateFetchFailed(CertificateInvalid):
    """The certificate host gave no usable answer (network, HTTP status, redirect, not a PEM).

    Possibly transient, unlike the other failures: callers may answer 5xx so SNS retries.
    Raised by fetchers (``integrations.sns_http``), never by this module itself.
    """


@dataclass(frozen=True)
class SnsEnvelope:
    type: str
    message_id: str
    topic_arn: str
    message: str
    timestamp: str
    subject: str | None
    signature_version: str
    signature: str
    signing_cert_url: str
    subscribe_url: str | None
    unsubscribe_url: str | None
    token: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)


def _shown(value: object) -> str:
    """repr() of a value, shortened so a hostile body cannot flood a reason."""
    text = repr(value)
    if len(text) > _MAX_SHOWN:
        text = text[: _MAX_SHOWN - 3] + "..."
    return text


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Two parsers disagreeing on which duplicate wins is a classic signature bypass;
    # refuse the ambiguity instead of picking one.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _optional(data: dict[str, Any], name: str) -> str | None:
    """Read a string field, accepting the Lambda-style alias; None when absent or null."""
    keys = [key for key in (name, _ALIASES.get(name)) if key is not None and key in data]
    values: list[str | None] = []
    for key in keys:
        value = data[key]
        if value is not None and not isinstance(value, str):
            raise MalformedMessage(f"field {key} must be a string, got {_json_type(value)}")
        values.append(value)
    if len(values) == 2 and values[0] != values[1]:
        raise MalformedMessage(f"conflicting fields: {keys[0]} and {keys[1]}")
    result = values[0] if values else None
    if result is not None:
        try:
            result.encode("utf-8")
        except UnicodeEncodeError:
            raise MalformedMessage(f"field {name} contains invalid Unicode") from None
    return result


def _required(data: dict[str, Any], name: str) -> str:
    value = _optional(data, name)
    if value is None:
        raise MalformedMessage(f"missing field: {name}")
    return value


def parse_envelope(body: bytes) -> SnsEnvelope:
    """Decode an SNS delivery body. Raises only :class:`SnsError` subclasses."""
    if not isinstance(body, bytes | bytearray | memoryview):
        raise MalformedMessage(f"body must be bytes, got {type(body).__name__}")
    try:
        text = bytes(body).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedMessage(
            f"body is not valid UTF-8 (bad byte at offset {exc.start})"
        ) from None
    if not text.strip():
        raise MalformedMessage("empty body")
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as exc:
        raise MalformedMessage(f"duplicate field: {_shown(exc.key)}") from None
    except json.JSONDecodeError as exc:
        raise MalformedMessage(f"malformed JSON: {exc}") from None
    except RecursionError:
        raise MalformedMessage("malformed JSON: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer with too many digits
        raise MalformedMessage(f"malformed JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MalformedMessage(f"expected a JSON object, got {_json_type(data)}")

    msg_type = _required(data, "Type")
    if msg_type not in MESSAGE_TYPES:
        raise MalformedMessage(f"unknown Type: {_shown(msg_type)}")
    for name in _REQUIRED:  # report the first missing/ill-typed field in a stable order
        _required(data, name)
    if msg_type in CONFIRMATION_TYPES:
        subscribe_url: str | None = _required(data, "SubscribeURL")
        token: str | None = _required(data, "Token")
    else:
        subscribe_url = _optional(data, "SubscribeURL")
        token = _optional(data, "Token")

    return SnsEnvelope(
        type=msg_type,
        message_id=_required(data, "MessageId"),
        topic_arn=_required(data, "TopicArn"),
        message=_required(data, "Message"),
        timestamp=_required(data, "Timestamp"),
        subject=_optional(data, "Subject"),
        signature_version=_required(data, "SignatureVersion"),
        signature=_required(data, "Signature"),
        signing_cert_url=_required(data, "SigningCertURL"),
        subscribe_url=subscribe_url,
        unsubscribe_url=_optional(data, "UnsubscribeURL"),
        token=token,
        raw=data,
    )


def string_to_sign(env: SnsEnvelope) -> bytes:
    """The canonical bytes SNS signs for this envelope (``Key\\nValue\\n`` per field)."""
    pairs: list[tuple[str, str | None]]
    if env.type == NOTIFICATION:
        pairs = [("Message", env.message), ("MessageId", env.message_id)]
        if env.subject is not None:
            pairs.append(("Subject", env.subject))
        pairs += [
            ("Timestamp", env.timestamp),
            ("TopicArn", env.topic_arn),
            ("Type", env.type),
        ]
    elif env.type in CONFIRMATION_TYPES:
        pairs = [
            ("Message", env.message),
            ("MessageId", env.message_id),
            ("SubscribeURL", env.subscribe_url),
            ("Timestamp", env.timestamp),
            ("Token", env.token),
            ("TopicArn", env.topic_arn),
            ("Type", env.type),
        ]
    else:
        raise MalformedMessage(f"unknown Type: {_shown(env.type)}")
    parts: list[str] = []
    for key, value in pairs:
        if value is None:
            raise MalformedMessage(f"missing field: {key}")
        parts.append(f"{key}\n{value}\n")
    try:
        return "".join(parts).encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedMessage("message contains invalid Unicode") from None


_UNSAFE_URL_CHARS = re.compile(r"[@\\\s\x00-\x1f\x7f]")


def check_certificate_url(url: str, pattern: str = DEFAULT_CERT_URL_PATTERN) -> None:
    """Raise :class:`CertificateUrlNotAllowed` unless the whole URL matches ``pattern``.

    URLs with ``@`` (userinfo), backslashes, whitespace or control characters are refused
    whatever the pattern says: those are how a URL is made to look like one host to a
    regex and reach another in an HTTP client.
    """
    if _UNSAFE_URL_CHARS.search(url):
        raise CertificateUrlNotAllowed(f"certificate URL not allowed: {_shown(url)}")
    if _compiled(pattern).fullmatch(url) is None:
        raise CertificateUrlNotAllowed(f"certificate URL not allowed: {_shown(url)}")


@functools.lru_cache(maxsize=16)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@dataclass(frozen=True)
class _Certificate:
    public_key: rsa.RSAPublicKey
    not_before: datetime
    not_after: datetime


@functools.lru_cache(maxsize=64)
def _load_certificate(pem: bytes) -> _Certificate:
    """Parse a PEM certificate once; later calls with the same bytes hit the cache."""
    try:
        cert = x509.load_pem_x509_certificate(pem)
        key = cert.public_key()
        not_before = cert.not_valid_before_utc
        not_after = cert.not_valid_after_utc
    except (ValueError, TypeError) as exc:
        raise CertificateInvalid(f"certificate is not a readable PEM certificate: {exc}") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise CertificateInvalid("certificate does not hold an RSA public key")
    return _Certificate(public_key=key, not_before=not_before, not_after=not_after)


def _hash_for(version: str) -> hashes.HashAlgorithm:
    factory = _HASHES.get(version)
    if factory is None:
        raise SignatureInvalid(f"unsupported SignatureVersion: {_shown(version)}")
    return factory()


def _utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def verify_signature(env: SnsEnvelope, *, certificate_pem: bytes, now: datetime) -> None:
    """Check the certificate's validity window at ``now`` and the envelope's signature.

    A naive ``now`` is taken as UTC. Raises :class:`CertificateInvalid` or
    :class:`SignatureInvalid` (or :class:`MalformedMessage` for an envelope that
    cannot be canonicalised); returns None when the message is authentic.
    """
    algorithm = _hash_for(env.signature_version)
    cert = _load_certificate(bytes(certificate_pem))
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    if now > cert.not_after:
        raise CertificateInvalid(f"certificate expired on {_utc_text(cert.not_after)}")
    if now < cert.not_before:
        raise CertificateInvalid(f"certificate not valid before {_utc_text(cert.not_before)}")
    try:
        signature = base64.b64decode(env.signature, validate=True)
    except ValueError:
        raise SignatureInvalid("bad signature: Signature is not valid base64") from None
    if not signature:
        raise SignatureInvalid("bad signature: Signature is empty")
    data = string_to_sign(env)
    try:
        cert.public_key.verify(signature, data, padding.PKCS1v15(), algorithm)
    except (InvalidSignature, ValueError):
        raise SignatureInvalid("bad signature: it does not match the message") from None


def verify(
    env: SnsEnvelope,
    *,
    fetch_certificate: Callable[[str], bytes],
    cert_url_pattern: str,
    now: datetime,
) -> None:
    """Full check: URL allowed (before any fetch), fetch the certificate, verify."""
    check_certificate_url(env.signing_cert_url, cert_url_pattern)
    _hash_for(env.signature_version)  # no point fetching for a scheme we cannot check
    certificate_pem = fetch_certificate(env.signing_cert_url)
    verify_signature(env, certificate_pem=certificate_pem, now=now)
