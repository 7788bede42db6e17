"""One way for channels to POST to a URL someone typed in (Teams workflows, outgoing
webhooks; push endpoints share the answer rules): SSRF-checked and pinned
(notifications.ssrf), a short timeout, no redirects, the answer recorded (status, first
KiB, duration) and turned into a ChannelError the same way everywhere:

- 2xx: delivered.
- 3xx: permanent (redirects are not followed: an admin should paste the final URL).
- 404, 410: permanent (the target is gone).
- 408, 425, 429: transient (with the receiver's Retry-After when it gave one).
- other 4xx: permanent (the receiver refuses what we send; resending will not change it).
- 5xx, timeouts, connection failures, DNS failures: transient."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests
import urllib3
from django.conf import settings

from notifications import ssrf
from notifications.channels.base import (
    PermanentChannelError,
    ResponseRecord,
    TransientChannelError,
)

EXCERPT_BYTES = 1024
USER_AGENT = "Klaxon-Notifications/1"


def target_settings() -> dict[str, Any]:
    """How channels reach typed-in URLs, from settings: ``allow_private``
    (KLAXON_WEBHOOK_ALLOW_PRIVATE, default false) and ``timeout`` (KLAXON_WEBHOOK_TIMEOUT
    seconds, default 5), as keyword arguments for a channel's constructor."""
    return {
        "allow_private": bool(getattr(settings, "KLAXON_WEBHOOK_ALLOW_PRIVATE", False)),
        "timeout": float(getattr(settings, "KLAXON_WEBHOOK_TIMEOUT", 5.0)),
    }


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """A Retry-After header (seconds, or an HTTP date) as seconds from now."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def check_status(
    record: ResponseRecord, *, headers: Mapping[str, str], what: str, gone: str = ""
) -> None:
    """Raise the ChannelError an answer means (see the module docstring); ``what``
    names the target in the message ("the webhook"), ``gone`` explains a 404/410."""
    status = record.status_code
    if 200 <= status < 300:
        return
    code = f"http_{status}"
    said = f"{what} answered {status}"
    if 300 <= status < 400:
        where = headers.get("Location", "")
        raise PermanentChannelError(
            f"{said}, a redirect{f' to {where}' if where else ''}: redirects are not "
            "followed, use the final URL",
            code=code,
            response=record,
        )
    if status in (404, 410):
        raise PermanentChannelError(f"{said}: {gone or 'it is gone'}", code=code, response=record)
    if status in (408, 425, 429) or status >= 500:
        raise TransientChannelError(
            f"{said}; will try again",
            code=code,
            retry_after=retry_after_seconds(headers.get("Retry-After")),
            response=record,
        )
    raise PermanentChannelError(
        f"{said}: it refused the request{_excerpt_hint(record)}", code=code, response=record
    )


def _excerpt_hint(record: ResponseRecord) -> str:
    text = " ".join(record.body.split())[:200]
    return f" ({text})" if text else ""


def post(
    url: str,
    *,
    body: bytes,
    headers: Mapping[str, str],
    timeout: float,
    allow_private: bool,
    resolver: ssrf.Resolver = ssrf.system_resolver,
    what: str,
    gone: str = "",
) -> tuple[ResponseRecord, requests.structures.CaseInsensitiveDict[str]]:
    """POST ``body`` to ``url`` once; the recorded answer and its headers when it is 2xx,
    a ChannelError otherwise."""
    session = pinned_session_for(url, allow_private=allow_private, resolver=resolver, what=what)
    started = time.monotonic()
    with session:
        response, excerpt = _exchange(
            session,
            url,
            data=body,
            headers={"User-Agent": USER_AGENT, **headers},
            timeout=timeout,
            what=what,
        )
    record = ResponseRecord(
        status_code=response.status_code,
        body=excerpt.decode(response.encoding or "utf-8", errors="replace"),
        duration_ms=round((time.monotonic() - started) * 1000),
    )
    check_status(record, headers=response.headers, what=what, gone=gone)
    return record, response.headers


@contextmanager
def network_errors(what: str, timeout: float) -> Iterator[None]:
    """Timeouts and connection failures inside as transient ChannelErrors."""
    try:
        yield
    except requests.Timeout as exc:
        raise TransientChannelError(
            f"{what} did not answer within {timeout:g} s", code="timeout"
        ) from exc
    except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
        raise TransientChannelError(
            f"{what} could not be reached: {exc.__class__.__name__}", code="unreachable"
        ) from exc


def redirect_response(exc: requests.TooManyRedirects, what: str) -> requests.Response:
    """The 3xx a pinned session refused to follow, to be judged by its status."""
    if exc.response is None:
        raise PermanentChannelError(f"{what} redirected: not followed") from exc
    return exc.response


def _exchange(
    session: requests.Session,
    url: str,
    *,
    data: bytes,
    headers: Mapping[str, str],
    timeout: float,
    what: str,
) -> tuple[requests.Response, bytes]:
    """POST and read the first KiB of the answer; network failures as ChannelErrors."""
    with network_errors(what, timeout):
        try:
            response = session.post(
                url, data=data, headers=headers, timeout=timeout, allow_redirects=False,
                stream=True,
            )  # fmt: skip
        except requests.TooManyRedirects as exc:
            response = redirect_response(exc, what)
        with response:
            return response, response.raw.read(EXCERPT_BYTES, decode_content=True) or b""


def pinned_session_for(
    url: str, *, allow_private: bool, resolver: ssrf.Resolver, what: str
) -> requests.Session:
    """A session pinned to ``url``'s checked address; the refusal as a ChannelError."""
    try:
        checked = ssrf.resolve_public_url(url, allow_private=allow_private, resolver=resolver)
    except ssrf.URLRefused as exc:
        raise PermanentChannelError(f"{what} URL refused: {exc}", code="url_refused") from exc
    except ssrf.HostUnresolved as exc:
        raise TransientChannelError(f"{what}: {exc}", code="dns") from exc
    return ssrf.pinned_session(checked)
