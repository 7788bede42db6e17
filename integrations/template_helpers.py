"""The helper functions alert templates can call (also available as filters).

``regex_extract`` (like Opsgenie's ``extract(/.../)``), ``json_path``, ``parse_time``,
``iso``, ``timestamp_to_iso``, ``format_time``, ``truncate`` and ``default``. They accept
Jinja's undefined values (a missing payload key) as "nothing" rather than failing, and
refuse unbounded work with a TemplateError.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import regex
from jinja2 import Undefined

from integrations.jsonpath import MISSING, PathError, parse_path, resolve
from integrations.sources.events import parse_timestamp
from integrations.template_sandbox import refuse

__all__ = [
    "HELPERS",
    "REGEX_TIMEOUT_SECONDS",
    "default",
    "format_time",
    "iso",
    "json_path",
    "parse_time",
    "regex_extract",
    "timestamp_to_iso",
    "truncate",
]

REGEX_TIMEOUT_SECONDS: Final = 0.05
MAX_PATTERN_CHARS: Final = 1_000
MAX_TIME_FORMAT_CHARS: Final = 200


def _is_missing(value: Any) -> bool:
    return value is None or value is MISSING or isinstance(value, Undefined)


def regex_extract(text: Any, pattern: str, group: int | str = 1) -> str:
    """The ``group`` of the first match of ``pattern`` in ``text``, "" when none.

    Like Opsgenie's ``extract(/.../)``. A pattern without groups gives the whole match.
    Patterns run with a timeout, so a catastrophic one fails instead of hanging.
    """
    if _is_missing(text):
        return ""
    compiled = _compile_pattern(pattern)
    try:
        match = compiled.search(str(text), timeout=REGEX_TIMEOUT_SECONDS)
    except TimeoutError:
        raise refuse(f"the pattern {pattern!r} took too long") from None
    if match is None:
        return ""
    if compiled.groups == 0 and group == 1:
        group = 0
    try:
        found = match.group(group)
    except (IndexError, regex.error):
        raise refuse(f"the pattern {pattern!r} has no group {group!r}") from None
    return found or ""


@lru_cache(maxsize=512)
def _compile_pattern(pattern: str) -> regex.Pattern[str]:
    if not isinstance(pattern, str) or len(pattern) > MAX_PATTERN_CHARS:
        raise refuse(f"a pattern must be text of at most {MAX_PATTERN_CHARS} characters")
    try:
        return regex.compile(pattern)
    except regex.error as exc:
        raise refuse(f"invalid pattern {pattern!r}: {exc}") from None


def json_path(obj: Any, path: str) -> Any:
    """The value at ``path`` (``$.alerts[0].labels.severity``) in ``obj``; None if absent."""
    try:
        steps = parse_path(path)
    except PathError as exc:
        raise refuse(f"invalid path {path!r}: {exc}") from None
    found = resolve(obj, steps)
    return None if found is MISSING else found


def parse_time(value: Any) -> datetime | None:
    """A time from a datetime, epoch seconds/milliseconds, or ISO 8601 text; None if not."""
    if _is_missing(value) or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return parse_timestamp(value)
    if isinstance(value, int | float) and math.isfinite(value):
        seconds = float(value)
        while abs(seconds) >= 1e11:  # milliseconds, microseconds, nanoseconds
            seconds /= 1000
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def iso(value: Any) -> str:
    """ISO 8601 in UTC (``2026-03-01T12:00:00Z``) for any time parse_time reads; "" if not."""
    parsed = parse_time(value)
    return parsed.isoformat().replace("+00:00", "Z") if parsed else ""


def timestamp_to_iso(value: Any) -> str:
    """Epoch seconds (or milliseconds) as ISO 8601 in UTC; "" for anything else."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    return iso(value)


def format_time(value: Any, fmt: str = "%Y-%m-%d %H:%M:%S %Z", tz: str = "UTC") -> str:
    """``value`` (as parse_time reads it) formatted with strftime in time zone ``tz``."""
    parsed = parse_time(value)
    if parsed is None:
        return ""
    if not isinstance(fmt, str) or len(fmt) > MAX_TIME_FORMAT_CHARS:
        raise refuse(f"a time format must be text of at most {MAX_TIME_FORMAT_CHARS} characters")
    try:
        zone = ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError):
        raise refuse(f"unknown time zone {tz!r}") from None
    return parsed.astimezone(zone).strftime(fmt)


def truncate(text: Any, length: int = 255, end: str = "…") -> str:
    """``text`` cut to at most ``length`` characters, ending with ``end`` when cut."""
    if _is_missing(text):
        return ""
    whole = str(text)
    if not isinstance(length, int) or length < 0:
        raise refuse("truncate() needs a length of 0 or more")
    if len(whole) <= length:
        return whole
    return whole[: max(length - len(end), 0)] + end[:length]


def default(value: Any, fallback: Any = "", boolean: bool = False) -> Any:
    """``fallback`` when ``value`` is missing or null (or, with boolean=true, empty)."""
    if _is_missing(value) or (boolean and not value):
        return fallback
    return value


HELPERS: Final[dict[str, Callable[..., Any]]] = {
    "regex_extract": regex_extract,
    "json_path": json_path,
    "parse_time": parse_time,
    "iso": iso,
    "timestamp_to_iso": timestamp_to_iso,
    "format_time": format_time,
    "truncate": truncate,
    "default": default,
}
