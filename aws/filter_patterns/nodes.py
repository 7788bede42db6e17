"""The pattern tree: immutable nodes that evaluate themselves and print canonical text.

Four kinds of pattern, as CloudWatch Logs has them: terms (``ERROR -DEBUG``), a
standalone regex (``%...%``), a JSON pattern (``{ $.a = 1 && ... }``) and a
space-delimited pattern (``[ip, user, ..., status = 4*]``). Conditions inside the last
two share ``And``/``Or``.

A tree is canonical (``And`` never directly inside ``And``, at least two items each),
so ``parse(str(pattern)) == pattern``; ``all_of``/``any_of`` build canonical ones.
Semantics that the AWS documentation leaves open are decided in the docstrings below
and summarised in README.md ("Filter patterns").
"""

from __future__ import annotations

import operator
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Generic, Literal, Protocol, TypeVar

from aws.filter_patterns.event import NOT_JSON, FieldToken, LogEvent
from aws.filter_patterns.regex import Regex

MAX_PATTERN_LENGTH = 1024
MAX_REGEX_PER_PATTERN = 2  # in a JSON or space-delimited pattern
MAX_WILDCARDS_PER_SELECTOR = 1
MAX_WILDCARD_SELECTORS = 3  # in a JSON pattern

Op = Literal["=", "!=", "<", ">", "<=", ">="]
ORDER_OPS: tuple[Op, ...] = ("<", ">", "<=", ">=")
_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
    "=": operator.eq,
    "!=": operator.ne,
}

# Integers, decimals and scientific notation, each with an optional sign.
NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def as_number(text: str) -> Decimal | None:
    """The number ``text`` writes, or None (not a number, or beyond Decimal's range)."""
    if not NUMBER.fullmatch(text):
        return None
    try:
        return Decimal(text)
    except ArithmeticError:
        return None


def is_word(text: str) -> bool:
    """Letters, digits and _ only: what may go unquoted as a term or a field name."""
    return bool(text) and all(c.isalnum() or c == "_" for c in text)


def is_bare_value(text: str) -> bool:
    """What a JSON or space-delimited value may be without quotes. Decision: AWS says
    "alphanumeric", yet its own examples leave ``123.123.*``, ``*.8xlarge`` and
    ``kms.amazonaws.com`` bare, so . * - + : / and _ are allowed too (not @ $ \\ spaces,
    quotes or the pattern's own punctuation)."""
    return bool(text) and all(c.isalnum() or c in "_-.*+:/" for c in text)


def quote(text: str, mark: str = '"') -> str:
    escaped = text.replace("\\", "\\\\").replace(mark, "\\" + mark)
    return f"{mark}{escaped}{mark}"


# ------------------------------------------------------------------------------ values


@dataclass(frozen=True)
class Text:
    """A string value. A leading and/or trailing ``*`` is a wildcard; a ``*`` elsewhere
    is the character itself (AWS: "Ev*ent will only match the actual string Ev*ent");
    ``*`` alone matches any string or number."""

    value: str
    _core: str = field(init=False, compare=False, repr=False)
    _mode: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        value = self.value
        lead, trail = value.startswith("*"), value.endswith("*") and len(value) > 1
        core = value[1 if lead else 0 : len(value) - 1 if trail else len(value)]
        mode = "equals"
        if not core and (lead or trail):
            mode = "anything"
        elif lead:
            mode = "contains" if trail else "ends"
        elif trail:
            mode = "starts"
        object.__setattr__(self, "_core", core)
        object.__setattr__(self, "_mode", mode)

    def matches(self, text: str) -> bool:
        mode, core = self._mode, self._core
        if mode == "equals":
            return text == core
        if mode == "starts":
            return text.startswith(core)
        if mode == "ends":
            return text.endswith(core)
        return mode == "anything" or core in text

    def to_text(self) -> str:
        bare = is_bare_value(self.value) and not NUMBER.fullmatch(self.value)
        return self.value if bare else quote(self.value)


@dataclass(frozen=True)
class Number:
    """A numeric value, kept as written (``1e3`` and ``1000`` compare alike but print as
    given). Compared exactly, as decimals."""

    text: str
    number: Decimal = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        number = as_number(self.text)
        if number is None:
            raise ValueError(f"{self.text!r} is not a number Klaxon can compare")
        object.__setattr__(self, "number", number)

    def to_text(self) -> str:
        return self.text


Value = Text | Number | Regex


def compare(op: Op, value: Value, text: str, number: int | Decimal | None) -> bool:
    """Whether a string or number (its ``text``, and its value when it is a number)
    satisfies ``op value``.

    Decisions: a number compares with a number numerically; with a string ``=``/``!=``
    compare the string with the number as written (``"400"`` equals ``400``, not
    ``4e2``), and ``< > <= >=`` never hold. A string value or regex sees a number as its
    text (``4*`` matches 404)."""
    if isinstance(value, Number):
        if number is None:
            if op == "=":
                return text == value.text
            return op == "!=" and text != value.text
        return _ORDER[op](number, value.number)
    found = value.matches(text) if isinstance(value, Text) else value.search(text)
    return found if op == "=" else not found


def _check_operand(op: Op, value: Value) -> None:
    if op in ORDER_OPS and not isinstance(value, Number):
        raise ValueError(f"{op} needs a number")


def _comparison_text(left: str, op: Op, value: Value, compact: bool) -> str:
    space = "" if compact else " "
    return f"{left}{space}{op}{space}{value.to_text()}"


# ------------------------------------------------------------------------- conditions

Context = TypeVar("Context", contravariant=True)


class Condition(Protocol[Context]):
    def holds(self, context: Context, /) -> bool: ...

    def to_text(self, *, compact: bool = False) -> str: ...

    def leaves(self) -> Iterator[object]: ...


@dataclass(frozen=True)
class _Junction(Generic[Context]):
    items: tuple[Condition[Context], ...]

    def __post_init__(self) -> None:
        kind = type(self).__name__
        if len(self.items) < 2 or any(isinstance(i, type(self)) for i in self.items):
            raise ValueError(f"{kind} needs two or more items, none of them an {kind}")

    def leaves(self) -> Iterator[object]:
        for item in self.items:
            yield from item.leaves()


@dataclass(frozen=True)
class And(_Junction[Context]):
    """All of ``items``; ``&&`` binds tighter than ``||``. Build with all_of."""

    def holds(self, context: Context) -> bool:
        return all(item.holds(context) for item in self.items)

    def to_text(self, *, compact: bool = False) -> str:
        parts = [
            f"({i.to_text(compact=compact)})" if isinstance(i, Or) else i.to_text(compact=compact)
            for i in self.items
        ]
        return ("&&" if compact else " && ").join(parts)


@dataclass(frozen=True)
class Or(_Junction[Context]):
    """Any of ``items``. Build with any_of."""

    def holds(self, context: Context) -> bool:
        return any(item.holds(context) for item in self.items)

    def to_text(self, *, compact: bool = False) -> str:
        return ("||" if compact else " || ").join(i.to_text(compact=compact) for i in self.items)


def _flatten(
    junction: type[And[Context]] | type[Or[Context]], conditions: tuple[Condition[Context], ...]
) -> Condition[Context]:
    items: list[Condition[Context]] = []
    for condition in conditions:
        if isinstance(condition, _Junction) and isinstance(condition, junction):
            items.extend(condition.items)
        else:
            items.append(condition)
    return items[0] if len(items) == 1 else junction(tuple(items))


def all_of(*conditions: Condition[Context]) -> Condition[Context]:
    """``a && b && ...`` as a canonical tree (nested Ands flattened)."""
    return _flatten(And, conditions)


def any_of(*conditions: Condition[Context]) -> Condition[Context]:
    """``a || b || ...`` as a canonical tree (nested Ors flattened)."""
    return _flatten(Or, conditions)


# -------------------------------------------------------------------------- selectors


@dataclass(frozen=True)
class Key:
    """``.name`` or ``['name']``: a property of an object."""

    name: str

    def to_text(self) -> str:
        if self.name and all(c.isalnum() or c in "_-" for c in self.name):
            return f".{self.name}"
        mark = "'" if "'" not in self.name else '"'
        return f".[{quote(self.name, mark)}]"


@dataclass(frozen=True)
class Index:
    """``[n]``: element n (from 0) of an array."""

    index: int

    def to_text(self) -> str:
        return f"[{self.index}]"


@dataclass(frozen=True)
class Wildcard:
    """``[*]`` or ``.*``: every element of an array or every property of an object.
    Decision: both spellings select either (AWS: "any array element or any JSON object
    field"); the spelling is kept for printing."""

    bracket: bool = True

    def to_text(self) -> str:
        return "[*]" if self.bracket else ".*"


Step = Key | Index | Wildcard


@dataclass(frozen=True)
class Selector:
    """``$`` and its steps, e.g. ``$.users[0].email``."""

    steps: tuple[Step, ...]
    text: str = field(init=False, compare=False, repr=False)
    _keys: tuple[str, ...] | None = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.steps:
            raise ValueError("a selector needs at least one step after $")
        object.__setattr__(self, "text", "$" + "".join(s.to_text() for s in self.steps))
        plain = all(isinstance(s, Key) for s in self.steps)
        keys = tuple(s.name for s in self.steps if isinstance(s, Key)) if plain else None
        object.__setattr__(self, "_keys", keys)

    @property
    def wildcards(self) -> int:
        return sum(isinstance(s, Wildcard) for s in self.steps)

    def resolve(self, root: object) -> tuple[object, ...]:
        """The nodes this selector lands on under ``root`` (several through a wildcard,
        none when the path is missing or crosses a value of the wrong kind)."""
        if self._keys is not None:  # the common case: $.a.b.c
            node = root
            for key in self._keys:
                if not isinstance(node, dict) or key not in node:
                    return ()
                node = node[key]
            return (node,)
        nodes = [root]
        for step in self.steps:
            found: list[object] = []
            for node in nodes:
                if isinstance(step, Key):
                    if isinstance(node, dict) and step.name in node:
                        found.append(node[step.name])
                elif isinstance(step, Index):
                    if isinstance(node, list) and step.index < len(node):
                        found.append(node[step.index])
                elif isinstance(node, dict):
                    found.extend(node.values())
                elif isinstance(node, list):
                    found.extend(node)
            nodes = found
        return tuple(nodes)


# ---------------------------------------------------------------------- JSON conditions


def _json_holds(op: Op, value: Value, node: object) -> bool:
    """One selected node against ``op value``. Decision (AWS: "the selector must point to
    a value node (string or number)"): an object, array, null or boolean never satisfies
    a comparison, ``!=`` included; ``IS`` is for null and booleans."""
    if isinstance(node, str):
        return compare(op, value, node, None)
    if isinstance(node, bool) or not isinstance(node, int | Decimal | float):
        return False
    if isinstance(node, float):
        node = Decimal(repr(node))
    return compare(op, value, str(node), node)


@dataclass(frozen=True)
class Comparison:
    """``selector op value``. Through a wildcard it holds when it holds for any selected
    node (decision: the same for ``!=``: some element differs)."""

    selector: Selector
    op: Op
    value: Value

    def __post_init__(self) -> None:
        _check_operand(self.op, self.value)

    def holds(self, event: LogEvent) -> bool:
        op, value = self.op, self.value
        return any(_json_holds(op, value, node) for node in event.select(self.selector))

    def to_text(self, *, compact: bool = False) -> str:
        return _comparison_text(self.selector.text, self.op, self.value, compact)

    def leaves(self) -> Iterator[object]:
        yield self


@dataclass(frozen=True)
class IsCheck:
    """``selector IS NULL`` / ``IS TRUE`` / ``IS FALSE``: the property exists with that
    JSON value (not the string "null" or "true")."""

    selector: Selector
    expected: Literal["NULL", "TRUE", "FALSE"]

    def holds(self, event: LogEvent) -> bool:
        wanted = {"NULL": None, "TRUE": True, "FALSE": False}[self.expected]
        return any(node is wanted for node in event.select(self.selector))

    def to_text(self, *, compact: bool = False) -> str:
        return f"{self.selector.text} IS {self.expected}"

    def leaves(self) -> Iterator[object]:
        yield self


@dataclass(frozen=True)
class NotExists:
    """``selector NOT EXISTS``: the event is JSON and the selector lands on nothing (a
    property set to null exists: that is ``IS NULL``)."""

    selector: Selector

    def holds(self, event: LogEvent) -> bool:
        return not event.select(self.selector)

    def to_text(self, *, compact: bool = False) -> str:
        return f"{self.selector.text} NOT EXISTS"

    def leaves(self) -> Iterator[object]:
        yield self


JsonCondition = Condition[LogEvent]


# ----------------------------------------------------------- space-delimited conditions


@dataclass(frozen=True)
class FieldComparison:
    """``name op value`` on a space-delimited field. A field is text; decision: it
    compares as a number when it reads as one (``bytes > 1000``), and ``< > <= >=``
    never hold for a field that does not."""

    name: str
    op: Op
    value: Value

    def __post_init__(self) -> None:
        _check_operand(self.op, self.value)

    def holds(self, fields: Mapping[str, str]) -> bool:
        text = fields[self.name]
        return compare(self.op, self.value, text, as_number(text))

    def to_text(self, *, compact: bool = False) -> str:
        return _comparison_text(self.name, self.op, self.value, compact)

    def leaves(self) -> Iterator[object]:
        yield self


FieldCondition = Condition[Mapping[str, str]]


def first_field(condition: FieldCondition) -> str:
    """The field a condition is written on: its leftmost comparison's."""
    leaf = next(iter(condition.leaves()))
    assert isinstance(leaf, FieldComparison)
    return leaf.name


@dataclass(frozen=True)
class Field:
    """One field of a space-delimited pattern: a name, with an optional condition that
    starts with that name (``status = 4* && bytes > 1000``), or nameless (a trailing
    comma, as in AWS's ``[..., status=4*,]``)."""

    name: str | None
    condition: FieldCondition | None = None

    def __post_init__(self) -> None:
        if self.condition is not None and first_field(self.condition) != self.name:
            raise ValueError("a field's condition starts with the field's own name")

    def to_text(self, *, compact: bool = False) -> str:
        if self.condition is not None:
            return self.condition.to_text(compact=compact)
        return self.name or ""


@dataclass(frozen=True)
class AnyFields:
    """``...``: any number of fields, none included."""

    def to_text(self, *, compact: bool = False) -> str:
        return "..."


# ---------------------------------------------------------------------------- patterns


class Pattern(ABC):
    """A parsed filter pattern."""

    def matches(self, message: str) -> bool:
        """Whether the log event ``message`` matches."""
        return self.matches_event(LogEvent(message))

    @abstractmethod
    def matches_event(self, event: LogEvent) -> bool:
        """Whether ``event`` matches; share one LogEvent across many patterns."""

    @abstractmethod
    def to_text(self, *, compact: bool = False) -> str:
        """Canonical text; ``compact`` leaves out optional spaces."""

    def __str__(self) -> str:
        # The spaced form is easier to read; a pattern near the length limit is printed
        # compact, which is never longer than what was parsed, so it parses back.
        text = self.to_text()
        return text if len(text) <= MAX_PATTERN_LENGTH else self.to_text(compact=True)


TermKind = Literal["include", "exclude", "optional"]
_PREFIX: dict[str, str] = {"include": "", "exclude": "-", "optional": "?"}


@dataclass(frozen=True)
class Term:
    """A term of an unstructured pattern: ``word``, ``"exact phrase"``, ``-excluded``
    or ``?optional``. Case-sensitive, found anywhere in the message (``ERROR`` is in
    ``ERRORCODE``). Decision: a term of spaces only (``" "``) is in every message, as AWS
    gives ``" "`` as the pattern that matches everything."""

    text: str
    kind: TermKind = "include"

    def occurs_in(self, message: str) -> bool:
        return not self.text.strip() or self.text in message

    def to_text(self) -> str:
        return _PREFIX[self.kind] + (self.text if is_word(self.text) else quote(self.text))


@dataclass(frozen=True)
class TermsPattern(Pattern):
    """Terms separated by spaces: all included ones and none of the excluded ones must
    be in the message. ``?`` terms match when any of them is, but only in a pattern of
    ``?`` terms alone: next to other terms they are ignored, as AWS documents. No terms
    at all (the empty pattern) matches every event."""

    terms: tuple[Term, ...] = ()
    _required: tuple[Term, ...] = field(init=False, compare=False, repr=False)
    _excluded: tuple[Term, ...] = field(init=False, compare=False, repr=False)
    _optional: tuple[Term, ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        for kind, attribute in (
            ("include", "_required"),
            ("exclude", "_excluded"),
            ("optional", "_optional"),
        ):
            object.__setattr__(self, attribute, tuple(t for t in self.terms if t.kind == kind))

    def matches_event(self, event: LogEvent) -> bool:
        message = event.message
        if self._required or self._excluded:
            return all(t.occurs_in(message) for t in self._required) and not any(
                t.occurs_in(message) for t in self._excluded
            )
        if self._optional:
            return any(t.occurs_in(message) for t in self._optional)
        return True

    def to_text(self, *, compact: bool = False) -> str:
        return " ".join(t.to_text() for t in self.terms)


@dataclass(frozen=True)
class RegexPattern(Pattern):
    """``%regex%`` on its own: the regex matches somewhere in the message."""

    regex: Regex

    def matches_event(self, event: LogEvent) -> bool:
        return self.regex.search(event.message)

    def to_text(self, *, compact: bool = False) -> str:
        return self.regex.to_text()


@dataclass(frozen=True)
class JsonPattern(Pattern):
    """``{ condition }``: matches JSON-object messages for which the condition holds."""

    condition: JsonCondition

    def matches_event(self, event: LogEvent) -> bool:
        return event.json is not NOT_JSON and self.condition.holds(event)

    def to_text(self, *, compact: bool = False) -> str:
        inner = self.condition.to_text(compact=compact)
        return f"{{{inner}}}" if compact else f"{{ {inner} }}"


@dataclass(frozen=True)
class DelimitedPattern(Pattern):
    """``[field, ...]``: the message's space-delimited fields (text in "..." or [...] is
    one field) bound in order, and every field condition holding.

    Binding, decided from AWS's examples: without ``...`` the message needs at least as
    many fields as the pattern, and the last field takes the rest of the message
    (``[w1=ERROR, w2]`` matches "ERROR 09/25/2014 Failed to process request", and
    ``[w1=ERROR]`` alone does not: AWS asks for that "blank w2"). With ``...`` (at most
    one), the fields before it bind the first fields of the message, the ones after it
    the last ones, and ``...`` the zero or more in between."""

    fields: tuple[Field | AnyFields, ...]
    _gap: int | None = field(init=False, compare=False, repr=False)
    _conditions: tuple[FieldCondition, ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        gaps = [i for i, f in enumerate(self.fields) if isinstance(f, AnyFields)]
        names = [f.name for f in self.fields if isinstance(f, Field) and f.name is not None]
        if not self.fields or len(gaps) > 1 or len(names) != len(set(names)):
            raise ValueError("fields: one or more, at most one ..., names unique")
        object.__setattr__(self, "_gap", gaps[0] if gaps else None)
        conditions = tuple(
            f.condition for f in self.fields if isinstance(f, Field) and f.condition
        )
        named = {
            leaf.name
            for condition in conditions
            for leaf in condition.leaves()
            if isinstance(leaf, FieldComparison)
        }
        if not named <= set(names):
            raise ValueError(f"conditions name fields the pattern lacks: {named - set(names)}")
        object.__setattr__(self, "_conditions", conditions)

    def bind(self, event: LogEvent) -> dict[str, str] | None:
        """Field name -> text for this event, or None when the field count cannot fit."""
        tokens: tuple[FieldToken, ...] = event.fields
        slots, gap = self.fields, self._gap
        if gap is None:
            if len(tokens) < len(slots):
                return None
            pairs = list(zip(slots[:-1], tokens, strict=False))
            last = tokens[len(slots) - 1]
            rest = last.text if len(tokens) == len(slots) else event.message[last.start :].rstrip()
            bound = {s.name: t.text for s, t in pairs if isinstance(s, Field) and s.name}
            final = slots[-1]
            if isinstance(final, Field) and final.name:
                bound[final.name] = rest
            return bound
        after = len(slots) - gap - 1
        if len(tokens) < len(slots) - 1:
            return None
        tail = tokens[len(tokens) - after :] if after else ()
        pairs = [
            *zip(slots[:gap], tokens, strict=False),
            *zip(slots[gap + 1 :], tail, strict=True),
        ]
        return {s.name: t.text for s, t in pairs if isinstance(s, Field) and s.name}

    def matches_event(self, event: LogEvent) -> bool:
        bound = self.bind(event)
        return bound is not None and all(c.holds(bound) for c in self._conditions)

    def to_text(self, *, compact: bool = False) -> str:
        inner = ("," if compact else ", ").join(f.to_text(compact=compact) for f in self.fields)
        return f"[{inner}]"
