"""Small helpers both converters use: collecting what cannot be mapped, reading times,
zones and phone numbers defensively."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, time
from typing import Any, TypeVar

import phonenumbers

from importers.plan import Unmapped

T = TypeVar("T")

# What a malformed source object raises when read; each becomes an Unmapped item.
MALFORMED = (KeyError, TypeError, ValueError, AttributeError, IndexError)


class Notes:
    """The Unmapped items a conversion collects, in the order found."""

    def __init__(self) -> None:
        self.items: list[Unmapped] = []

    def add(self, what: str, source_id: object, why: str) -> None:
        self.items.append(Unmapped(what, str(source_id), why))


def source_id_of(raw: object) -> str:
    if isinstance(raw, dict):
        for key in ("id", "alias", "name"):
            if raw.get(key):
                return str(raw[key])
    return "?"


def each(
    items: object, what: str, convert: Callable[[dict[str, Any]], T | None], notes: Notes
) -> list[T]:
    """``convert`` applied to every object of a list; a malformed one becomes a note."""
    if not isinstance(items, list):
        if items is not None:
            notes.add(what, "-", f"expected a list of {what}s, got {type(items).__name__}")
        return []
    result: list[T] = []
    for raw in items:
        try:
            if not isinstance(raw, dict):
                raise TypeError(f"expected an object, got {type(raw).__name__}")
            converted = convert(raw)
        except MALFORMED as exc:
            notes.add(what, source_id_of(raw), f"malformed in the source data ({exc!r})")
            continue
        if converted is not None:
            result.append(converted)
    return result


def aware(text: object) -> datetime:
    """An ISO 8601 instant with an offset (``Z`` allowed)."""
    value = datetime.fromisoformat(str(text))
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset")
    return value


def zone(name: object) -> zoneinfo.ZoneInfo | None:
    try:
        return zoneinfo.ZoneInfo(str(name))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def local_instant(day: date, at: time, tz: zoneinfo.ZoneInfo) -> datetime:
    """The instant a local wall-clock time means (the first one when it repeats)."""
    return datetime.combine(day, at, tzinfo=tz)


def e164(raw: str) -> str | None:
    """A phone number with its country code in E.164 (+447700900123), or None."""
    try:
        number = phonenumbers.parse(raw if raw.startswith("+") else "+" + raw, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def unique_name(name: str, taken: set[str]) -> str:
    """``name``, or ``name (2)``, ``name (3)``... whichever is free; then taken."""
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name} ({n})"
    taken.add(candidate)
    return candidate


def first_of(values: Iterable[T]) -> T | None:
    return next(iter(values), None)


def klaxon_kind(source_kind: str, table: Mapping[str, tuple[str, str]]) -> tuple[str, str]:
    """(Klaxon integration kind, note) for a source's integration type; unknown types
    become generic webhooks, with a note saying so."""
    fallback = (
        "webhook",
        f"no Klaxon source for {source_kind}: a generic webhook; add a template",
    )
    return table.get(source_kind, fallback)
