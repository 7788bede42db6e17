"""A log event as patterns read it: the message, its JSON and its space-delimited fields,
each worked out once however many patterns look at it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from aws.filter_patterns.nodes import Selector


class _NotJson:
    def __repr__(self) -> str:
        return "NOT_JSON"


# What LogEvent.json is when the message is not a JSON object: JSON patterns never match
# it (not even NOT EXISTS), as CloudWatch does not apply them to other log formats.
NOT_JSON: Final = _NotJson()

# A field is "..." or [...] (the delimiters dropped; an unclosed one runs to the end of
# the message), or a run of non-space characters.
_FIELD = re.compile(r'"([^"]*)"?|\[([^\]]*)\]?|(\S+)')


@dataclass(frozen=True, slots=True)
class FieldToken:
    """One space-delimited field of a message and where it starts in the message."""

    text: str
    start: int


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def parse_json_object(message: str) -> object:
    """The message's JSON object, or NOT_JSON. Decimals stay exact (1.10 keeps its digits
    and compares exactly); NaN and Infinity are not JSON."""
    if not message.lstrip().startswith("{"):
        return NOT_JSON
    try:
        value = json.loads(message, parse_float=Decimal, parse_constant=_refuse_constant)
    except (ValueError, ArithmeticError):  # not JSON, or a number beyond Decimal's range
        return NOT_JSON
    return value if isinstance(value, dict) else NOT_JSON


class LogEvent:
    """One log event message, parsed lazily and shared across patterns.

    ``Pattern.matches(message)`` builds one per call; to test many compiled patterns
    against one event, build it once and call ``pattern.matches_event(event)`` for each:
    the JSON is parsed once and each selector (``$.eventName``) is resolved once.
    A caller that already holds the parsed object (a CloudTrail record from EventBridge)
    can pass it as ``json_value``; floats in it are compared by their shortest repr.
    """

    __slots__ = ("message", "_json", "_fields", "_selected")

    def __init__(self, message: str, *, json_value: object = NOT_JSON) -> None:
        self.message = message
        self._json: object | None = json_value if isinstance(json_value, dict) else None
        self._fields: tuple[FieldToken, ...] | None = None
        self._selected: dict[str, tuple[object, ...]] = {}

    @property
    def json(self) -> object:
        """The message as a JSON object (dict), or NOT_JSON."""
        if self._json is None:
            self._json = parse_json_object(self.message)
        return self._json

    @property
    def fields(self) -> tuple[FieldToken, ...]:
        """The space-delimited fields of the message."""
        if self._fields is None:
            self._fields = tuple(
                FieldToken(next(g for g in found.groups() if g is not None), found.start())
                for found in _FIELD.finditer(self.message)
            )
        return self._fields

    def select(self, selector: Selector) -> tuple[object, ...]:
        """The JSON nodes ``selector`` lands on (none when the message is not JSON)."""
        found = self._selected.get(selector.text)
        if found is None:
            root = self.json
            found = () if root is NOT_JSON else selector.resolve(root)
            self._selected[selector.text] = found
        return found
