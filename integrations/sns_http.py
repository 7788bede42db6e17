"""Outbound HTTP for Amazon SNS: signing certificates and SubscribeURL confirmation.

This is the only module where Klaxon calls out to SNS. Every URL is checked against the
configured pattern before anything is sent, redirects are never followed (an allowed
host must not be able to bounce us elsewhere), only http/https are spoken, and answers
are size-capped and time-limited.

Settings read (lazily, so importing this module does not need Django configured):
``SNS_CERT_URL_PATTERN``, ``SNS_SUBSCRIBE_URL_PATTERN``, ``SNS_FETCH_TIMEOUT``.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from email.message import Message
from typing import IO, Final

from cryptography import x509

from integrations.sources.sns import (
    DEFAULT_CERT_URL_PATTERN,
    DEFAULT_SUBSCRIBE_URL_PATTERN,
    CertificateFetchFailed,
    CertificateUrlNotAllowed,
    check_certificate_url,
)

__all__ = [
    "DEFAULT_SUBSCRIBE_URL_PATTERN",
    "MAX_RESPONSE_BYTES",
    "ConfirmResult",
    "clear_certificate_cache",
    "fetch_certificate",
    "visit_subscribe_url",
]

DEFAULT_TIMEOUT: Final = 5.0
MAX_RESPONSE_BYTES: Final = 64 * 1024
CERT_CACHE_SECONDS: Final = 24 * 60 * 60
_CACHE_KEY_PREFIX: Final = "klaxon:sns-cert:"
_LOCAL_CACHE_MAX: Final = 256
_ERROR_MAX: Final = 500
_USER_AGENT: Final = "Klaxon-SNS/1"

# url -> (monotonic expiry, PEM bytes)
_local_certs: dict[str, tuple[float, bytes]] = {}
_local_lock = threading.Lock()


class _FetchError(Exception):
    """Transport-level failure, already phrased for a person."""


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """Turn every 3xx into an HTTPError instead of following it."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


def _opener() -> urllib.request.OpenerDirector:
    # Built by hand rather than with build_opener() so that file:, ftp: and data: URLs
    # cannot be reached even if an operator configures an over-broad pattern.
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler(),  # honours HTTPS_PROXY / NO_PROXY from the environment
        urllib.request.HTTPHandler(),
        urllib.request.HTTPSHandler(),
        _RefuseRedirects(),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


def _timeout() -> float:
    from django.conf import settings

    try:
        value = float(getattr(settings, "SNS_FETCH_TIMEOUT", DEFAULT_TIMEOUT))
    except (TypeError, ValueError):
        return DEFAULT_TIMEOUT
    return value if value > 0 else DEFAULT_TIMEOUT


def _bad_url_chars(url: str) -> bool:
    return any(ch in "@\\" or ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url)


def _http_scheme(url: str) -> bool:
    try:
        return urllib.parse.urlsplit(url).scheme in ("http", "https")
    except ValueError:
        return False


def _read_capped(response: IO[bytes], *, deadline: float) -> bytes:
    """Read at most MAX_RESPONSE_BYTES, giving up once ``deadline`` (monotonic) passes."""
    chunks: list[bytes] = []
    total = 0
    read1 = getattr(response, "read1", None)
    while True:
        chunk = read1(8192) if read1 is not None else response.read(8192)
        if not chunk:
            break
        total += len(chunk)
        if total > MAX_RESPONSE_BYTES:
            raise _FetchError(f"answer is larger than {MAX_RESPONSE_BYTES // 1024} KiB")
        chunks.append(chunk)
        if time.monotonic() > deadline:
            raise _FetchError("answer took too long to arrive")
    return b"".join(chunks)


def _redirect_text(error: urllib.error.HTTPError) -> str:
    location = error.headers.get("Location", "") if error.headers is not None else ""
    return f"redirect refused (HTTP {error.code} to {location[:200]!r})"


def _get(url: str, *, accept: str) -> tuple[int, bytes]:
    """GET ``url``; returns (status, body) for 2xx.

    Raises urllib.error.HTTPError for non-2xx answers (including refused redirects) and
    _FetchError for transport problems.
    """
    timeout = _timeout()
    deadline = time.monotonic() + 2 * timeout
    request = urllib.request.Request(
        url, headers={"User-Agent": _USER_AGENT, "Accept": accept}, method="GET"
    )
    try:
        with _opener().open(request, timeout=timeout) as response:
            return response.status, _read_capped(response, deadline=deadline)
    except urllib.error.HTTPError:
        raise
    except urllib.error.URLError as exc:
        raise _FetchError(str(exc.reason)) from None
    except TimeoutError:
        raise _FetchError(f"timed out after {timeout:g}s") from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise _FetchError(str(exc) or type(exc).__name__) from None


def _error_body(error: urllib.error.HTTPError) -> bytes:
    try:
        return _read_capped(error, deadline=time.monotonic() + _timeout())
    except (_FetchError, OSError, http.client.HTTPException, ValueError):
        return b""
    finally:
        error.close()


# --------------------------------------------------------------------------- certificates


def _cache_key(url: str) -> str:
    return _CACHE_KEY_PREFIX + hashlib.sha256(url.encode("utf-8")).hexdigest()


def _is_certificate(pem: bytes) -> bool:
    if b"-----BEGIN CERTIFICATE-----" not in pem:
        return False
    try:
        x509.load_pem_x509_certificate(pem)
    except ValueError:
        return False
    return True


def _remember(url: str, pem: bytes) -> None:
    with _local_lock:
        if url not in _local_certs and len(_local_certs) >= _LOCAL_CACHE_MAX:
            _local_certs.pop(next(iter(_local_certs)))
        _local_certs[url] = (time.monotonic() + CERT_CACHE_SECONDS, pem)


def _recall(url: str) -> bytes | None:
    with _local_lock:
        entry = _local_certs.get(url)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            del _local_certs[url]
            return None
        return entry[1]


def fetch_certificate(url: str) -> bytes:
    """Return the PEM certificate at ``url``, from cache when possible.

    Raises CertificateUrlNotAllowed (nothing fetched) when the URL does not match
    ``settings.SNS_CERT_URL_PATTERN`` (or is not http/https), and CertificateFetchFailed
    (a CertificateInvalid) when the host gives no usable answer: network error, HTTP
    error, redirect, oversized, or not a PEM certificate. Lookup order: this process,
    Django's default cache (24 hours), the network. Failures are not cached.
    """
    from django.conf import settings
    from django.core.cache import cache

    check_certificate_url(url, getattr(settings, "SNS_CERT_URL_PATTERN", DEFAULT_CERT_URL_PATTERN))
    if not _http_scheme(url):
        raise CertificateUrlNotAllowed(f"certificate URL not allowed (not http/https): {url!r}")

    pem = _recall(url)
    if pem is not None:
        return pem

    key = _cache_key(url)
    try:
        shared = cache.get(key)
    except Exception:  # a broken cache must not stop verification; fall back to the network
        shared = None
    if isinstance(shared, bytes) and _is_certificate(shared):
        _remember(url, shared)
        return shared

    try:
        _status, body = _get(url, accept="application/x-pem-file, */*")
    except urllib.error.HTTPError as exc:
        exc.close()
        if 300 <= exc.code < 400:
            raise CertificateFetchFailed(
                f"could not fetch certificate: {_redirect_text(exc)}"
            ) from None
        raise CertificateFetchFailed(f"could not fetch certificate: HTTP {exc.code}") from None
    except _FetchError as exc:
        raise CertificateFetchFailed(f"could not fetch certificate: {exc}") from None
    if not _is_certificate(body):
        raise CertificateFetchFailed(
            "could not fetch certificate: the answer is not a PEM certificate"
        )

    with contextlib.suppress(Exception):  # caching is an optimisation only
        cache.set(key, body, CERT_CACHE_SECONDS)
    _remember(url, body)
    return body


def clear_certificate_cache() -> None:
    """Forget certificates cached in this process (Django's cache is left alone)."""
    with _local_lock:
        _local_certs.clear()


# ---------------------------------------------------------------------- subscription confirm


@dataclass
class ConfirmResult:
    """Outcome of visiting a SubscribeURL.

    ``status`` is the HTTP status (None when no answer was received or nothing was
    sent), ``subscription_arn`` is set on success, ``error`` is empty on success.
    """

    status: int | None
    subscription_arn: str
    error: str

    @property
    def ok(self) -> bool:
        return not self.error and bool(self.subscription_arn)

    @property
    def transient(self) -> bool:
        """No answer, throttled or a server error: worth trying again later."""
        if self.ok or self.error.startswith("SubscribeURL not allowed"):
            return False
        return self.status is None or self.status == 429 or self.status >= 500


def _truncate(text: str) -> str:
    return text if len(text) <= _ERROR_MAX else text[: _ERROR_MAX - 3] + "..."


def _local_name(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _parse_xml(body: bytes) -> ET.Element:
    """Parse an SNS XML answer, refusing DTDs/entities. Raises ValueError with a reason."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("answer is not UTF-8 XML") from None
    upper = text.upper()
    if "<!DOCTYPE" in upper or "<!ENTITY" in upper:
        raise ValueError("answer contains a DOCTYPE or ENTITY declaration; refused")
    parser = ET.XMLParser(encoding="utf-8")  # ignore any encoding the document declares
    try:
        parser.feed(body)
        return parser.close()
    except ET.ParseError as exc:
        raise ValueError(f"answer is not well-formed XML: {exc}") from None


def _child(element: ET.Element, name: str) -> ET.Element | None:
    for child in element:
        if _local_name(child.tag) == name:
            return child
    return None


def _aws_error_text(body: bytes) -> str:
    """Best-effort "Code: Message" from an AWS ErrorResponse, else the raw text."""
    try:
        root = _parse_xml(body)
    except ValueError:
        return body.decode("utf-8", errors="replace").strip()
    parts = {
        _local_name(el.tag): (el.text or "").strip()
        for el in root.iter()
        if _local_name(el.tag) in ("Code", "Message")
    }
    if parts:
        return ": ".join(value for key in ("Code", "Message") if (value := parts.get(key)))
    return body.decode("utf-8", errors="replace").strip()


def visit_subscribe_url(url: str) -> ConfirmResult:
    """Confirm an SNS subscription by GETting its SubscribeURL. Never raises.

    Nothing is sent unless the whole URL matches ``settings.SNS_SUBSCRIBE_URL_PATTERN``.
    """
    from django.conf import settings

    pattern = getattr(settings, "SNS_SUBSCRIBE_URL_PATTERN", DEFAULT_SUBSCRIBE_URL_PATTERN)
    shown = url if len(url) <= 200 else url[:197] + "..."
    try:
        allowed = re.fullmatch(pattern, url) is not None
    except re.error:
        allowed = False
    if not allowed or _bad_url_chars(url) or not _http_scheme(url):
        return ConfirmResult(None, "", _truncate(f"SubscribeURL not allowed: {shown}"))

    try:
        status, body = _get(url, accept="text/xml, application/xml, */*")
    except urllib.error.HTTPError as exc:
        if 300 <= exc.code < 400:
            exc.close()
            return ConfirmResult(exc.code, "", _truncate(_redirect_text(exc)))
        detail = _aws_error_text(_error_body(exc)) or (exc.reason or "")
        return ConfirmResult(exc.code, "", _truncate(f"HTTP {exc.code}: {detail}".rstrip(": ")))
    except _FetchError as exc:
        return ConfirmResult(None, "", _truncate(f"could not reach SubscribeURL: {exc}"))

    try:
        root = _parse_xml(body)
    except ValueError as exc:
        return ConfirmResult(status, "", _truncate(str(exc)))
    if _local_name(root.tag) != "ConfirmSubscriptionResponse":
        return ConfirmResult(
            status, "", _truncate(f"unexpected answer: <{_local_name(root.tag)}>")
        )
    result = _child(root, "ConfirmSubscriptionResult")
    arn_element = _child(result, "SubscriptionArn") if result is not None else None
    arn = (arn_element.text or "").strip() if arn_element is not None else ""
    if not arn:
        return ConfirmResult(status, "", "answer has no SubscriptionArn")
    return ConfirmResult(status, arn, "")
