"""Decode an inbound JSON body with bounded work, for every source parser.

Hostile or broken senders get a :class:`SourceError` (field ``""``: the body as a
whole) saying what is wrong, never a traceback: too large, not UTF-8, not JSON,
nested too deeply, too many values, non-finite numbers, or text PostgreSQL cannot
store. Pure module.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Final

from integrations.sources.events import SourceError

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_NESTING",
    "MAX_VALUES",
    "as_labels",
    "as_text",
    "decode_json",
    "describe_json",
]

# PagerDuty's documented limit is 512 KB; the inbound view caps requests lower still.
MAX_BODY_BYTES: Final = 512 * 1024
# Real payloads nest about six levels; recursive consumers (templates, json.dumps)
# stay safe well below this.
MAX_NESTING: Final = 32
# Objects, arrays and scalars counted together; a 512 KB body of tiny values stays under.
MAX_VALUES: Final = 200_000

# Content types that certainly are not a JSON body. Anything else is tried as JSON:
# several tools send JSON as text/plain or with no content type at all.
_NOT_JSON_TYPES: Final = (
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "application/xml",
    "text/xml",
)
# NUL cannot be stored in PostgreSQL text/jsonb; lone surrogates are not valid Unicode.
_UNSTORABLE_RE: Final = re.compile("[\x00\ud800-\udfff]")


class _NonFinite(ValueError):
    pass


def _reject_constant(name: str) -> float:
    raise _NonFinite(name)


def _finite_float(literal: str) -> float:
    number = float(literal)
    if not math.isfinite(number):
        raise _NonFinite(literal)
    return number


def decode_json(body: bytes, *, content_type: str = "", max_bytes: int = MAX_BODY_BYTES) -> Any:
    """The JSON value in ``body``; raises SourceError (field "") when unusable."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type in _NOT_JSON_TYPES:
        raise SourceError("", f"the body must be JSON, not {media_type}")
    if len(body) > max_bytes:
        raise SourceError("", f"the body is {len(body)} bytes; at most {max_bytes} are accepted")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError("", f"the body is not UTF-8 (byte {exc.start})") from None
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise SourceError("", "the body is empty; a JSON object was expected")
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except _NonFinite as exc:
        raise SourceError("", f"the body has a non-finite number ({exc})") from None
    except json.JSONDecodeError as exc:
        raise SourceError(
            "", f"the body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise SourceError("", f"the body is nested deeper than {MAX_NESTING} levels") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise SourceError("", f"the body is not usable JSON: {exc}") from None
    _check_shape(value)
    return value


def _check_shape(value: Any) -> None:
    """Refuse deep nesting, too many values, and text PostgreSQL cannot store."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    seen = 0
    while pending:
        item, depth = pending.pop()
        seen += 1
        if seen > MAX_VALUES:
            raise SourceError("", f"the body holds more than {MAX_VALUES} JSON values")
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, dict):
            if depth > MAX_NESTING:
                raise SourceError("", f"the body is nested deeper than {MAX_NESTING} levels")
            for key, child in item.items():
                _check_text(key)
                pending.append((child, depth + 1))
        elif isinstance(item, list):
            if depth > MAX_NESTING:
                raise SourceError("", f"the body is nested deeper than {MAX_NESTING} levels")
            pending.extend((child, depth + 1) for child in item)


def _check_text(text: str) -> None:
    found = _UNSTORABLE_RE.search(text)
    if found is None:
        return
    if found.group() == "\x00":
        raise SourceError("", "the body contains a NUL character (\\u0000)")
    raise SourceError("", "the body contains a lone surrogate (invalid Unicode)")


def describe_json(value: Any) -> str:
    """What kind of JSON value this is, for messages: 'an array', 'a string'..."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "null"


def as_text(value: Any) -> str:
    """A JSON value as text: strings as they are, null as "", anything else as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def as_labels(value: Any) -> dict[str, str]:
    """A JSON object as string labels (other values as JSON text); {} for non-objects."""
    if not isinstance(value, dict):
        return {}
    return {str(key): as_text(item) for key, item in value.items()}
