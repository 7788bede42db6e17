"""Filter-pattern text -> pattern tree, with errors that name the position and what was
expected there.

The first non-space character decides the kind of pattern: ``{`` JSON, ``[``
space-delimited, ``%`` a standalone regex, anything else terms.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Generic, Literal, TypeVar, cast

from aws.filter_patterns.errors import FilterPatternError
from aws.filter_patterns.event import LogEvent
from aws.filter_patterns.nodes import (
    MAX_PATTERN_LENGTH,
    MAX_REGEX_PER_PATTERN,
    MAX_WILDCARD_SELECTORS,
    MAX_WILDCARDS_PER_SELECTOR,
    NUMBER,
    ORDER_OPS,
    AnyFields,
    Comparison,
    Condition,
    DelimitedPattern,
    Field,
    FieldComparison,
    Index,
    IsCheck,
    JsonPattern,
    Key,
    NotExists,
    Number,
    Op,
    Pattern,
    RegexPattern,
    Selector,
    Step,
    Term,
    TermKind,
    TermsPattern,
    Text,
    Value,
    Wildcard,
    all_of,
    any_of,
    as_number,
    is_bare_value,
)
from aws.filter_patterns.regex import compile_regex

# Longest first, so "<=" is not read as "<".
_OPS: tuple[Op, ...] = ("!=", "<=", ">=", "=", "<", ">")
# Characters that may follow a bare value (anything else belongs in quotes).
_AFTER_VALUE = frozenset(" \t\r\n)}],&|")

Context = TypeVar("Context")
Fields = Mapping[str, str]
IsValue = Literal["NULL", "TRUE", "FALSE"]


class _Cursor:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.regexes = 0

    def error(self, message: str, at: int | None = None) -> FilterPatternError:
        return FilterPatternError(message, self.i if at is None else at)

    def peek(self, ahead: int = 0) -> str:
        index = self.i + ahead
        return self.text[index] if index < len(self.text) else ""

    def at_end(self) -> bool:
        return self.i >= len(self.text)

    def startswith(self, prefix: str) -> bool:
        return self.text.startswith(prefix, self.i)

    def skip_space(self) -> None:
        while self.i < len(self.text) and self.text[self.i].isspace():
            self.i += 1

    def run(self, allowed: Callable[[str], bool]) -> str:
        start = self.i
        while self.i < len(self.text) and allowed(self.text[self.i]):
            self.i += 1
        return self.text[start : self.i]

    def word(self) -> str:
        return self.run(str.isalpha)

    def expect(self, token: str, what: str) -> None:
        if not self.startswith(token):
            raise self.error(f"expected {what}")
        self.i += len(token)

    def quoted(self) -> str:
        """A string in double (or, for a bracketed property name, single) quotes;
        backslash escapes the quote mark and itself, and is kept before anything else."""
        start, mark = self.i, self.peek()
        self.i += 1
        chars: list[str] = []
        while self.i < len(self.text):
            char = self.text[self.i]
            if char == mark:
                self.i += 1
                return "".join(chars)
            if char == "\\" and self.peek(1) in (mark, "\\"):
                char = self.peek(1)
                self.i += 1
            chars.append(char)
            self.i += 1
        raise self.error(f"expected a closing {mark} for the string opened here", at=start)

    def regex(self) -> Value:
        start = self.i
        end = self.text.find("%", start + 1)
        if end < 0:
            raise self.error("expected a closing % for the regex opened here", at=start)
        regex = compile_regex(self.text[start + 1 : end], base=start + 1)
        self.i = end + 1
        return regex

    def counted_regex(self) -> Value:
        if self.regexes == MAX_REGEX_PER_PATTERN:
            raise self.error(
                f"a JSON or space-delimited pattern holds at most {MAX_REGEX_PER_PATTERN} regex"
            )
        self.regexes += 1
        return self.regex()

    def operator(self) -> Op | None:
        for op in _OPS:
            if self.startswith(op):
                self.i += len(op)
                return op
        return None

    def value(self, op: Op) -> Value:
        """The value after ``op``: "quoted", %regex%, a number or a bare string."""
        self.skip_space()
        start = self.i
        char = self.peek()
        value: Value
        if char == '"':
            value = Text(self.quoted())
        elif char == "%":
            value = self.counted_regex()
        else:
            bare = self.run(is_bare_value)
            if not bare:
                if char and char not in _AFTER_VALUE:
                    raise self.quote_please(start)
                raise self.error(f"expected a value after {op}")
            if self.peek() and self.peek() not in _AFTER_VALUE:
                raise self.quote_please(start)
            if not NUMBER.fullmatch(bare):
                value = Text(bare)
            elif as_number(bare) is None:
                raise self.error(f"the number {bare} is out of range", at=start)
            else:
                value = Number(bare)
        if op in ORDER_OPS and not isinstance(value, Number):
            raise self.error(f"expected a number after {op}", at=start)
        return value

    def quote_please(self, start: int) -> FilterPatternError:
        bad = next(c for c in self.text[self.i :] if not is_bare_value(c))
        return self.error(
            f'{bad!r} needs quotes: write the value in double quotes, e.g. "...{bad}..." '
            "(bare values hold letters, digits and _ - . * + : / only)",
            at=self.text.index(bad, start),
        )


class _Conditions(Generic[Context]):
    """``a && b || (c && d)``: && binds tighter than ||, parentheses group."""

    def __init__(
        self, cursor: _Cursor, leaf: Callable[[], Condition[Context]], closers: str
    ) -> None:
        self.cursor = cursor
        self.leaf = leaf
        self.closers = closers  # what may follow a whole condition, for the error message

    def parse(self) -> Condition[Context]:
        items = [self.conjunction()]
        while self._operator("||"):
            items.append(self.conjunction())
        return any_of(*items)

    def conjunction(self) -> Condition[Context]:
        items = [self.primary()]
        while self._operator("&&"):
            items.append(self.primary())
        return all_of(*items)

    def _operator(self, token: str) -> bool:
        self.cursor.skip_space()
        if self.cursor.startswith(token):
            self.cursor.i += len(token)
            return True
        return False

    def primary(self) -> Condition[Context]:
        cursor = self.cursor
        cursor.skip_space()
        if cursor.peek() != "(":
            return self.leaf()
        opened = cursor.i
        cursor.i += 1
        inner = self.parse()
        cursor.skip_space()
        if cursor.peek() != ")":
            raise cursor.error(f"expected ) to close the ( at position {opened}, or && or ||")
        cursor.i += 1
        return inner

    def whole(self) -> Condition[Context]:
        """A condition that must be followed by one of ``closers``."""
        condition = self.parse()
        self.cursor.skip_space()
        if self.cursor.at_end() or self.cursor.peek() not in self.closers:
            expected = " or ".join(self.closers)
            raise self.cursor.error(f"expected &&, || or {expected} after the condition")
        return condition


# ------------------------------------------------------------------------------- JSON


class _Json:
    def __init__(self, cursor: _Cursor) -> None:
        self.cursor = cursor
        self.wildcard_selectors = 0

    def parse(self) -> JsonPattern:
        cursor = self.cursor
        cursor.i += 1  # {
        cursor.skip_space()
        if cursor.peek() == "}":
            raise cursor.error("expected a condition inside { }, such as $.eventName = X")
        condition = _Conditions[LogEvent](cursor, self.leaf, "}").whole()
        cursor.i += 1
        return JsonPattern(condition)

    def selector(self) -> Selector:
        cursor = self.cursor
        if cursor.peek() != "$":
            raise cursor.error("expected a property selector starting with $, e.g. $.eventName")
        cursor.i += 1
        steps: list[Step] = []
        while cursor.peek() in (".", "["):
            step_at = cursor.i
            if cursor.peek() == ".":
                cursor.i += 1
                if cursor.peek() == "[":  # AWS writes $.['cluster.name']
                    continue
                if cursor.peek() == "*":
                    cursor.i += 1
                    steps.append(Wildcard(bracket=False))
                else:
                    name = cursor.run(lambda c: c.isalnum() or c in "_-")
                    if not name:
                        raise cursor.error(
                            "expected a property name after . (letters, digits, - and _; "
                            "write other names as ['name'])"
                        )
                    steps.append(Key(name))
            else:
                cursor.i += 1
                inner = cursor.peek()
                if inner == "*":
                    cursor.i += 1
                    steps.append(Wildcard(bracket=True))
                elif inner.isdigit():
                    steps.append(Index(int(cursor.run(str.isdigit))))
                elif inner in ("'", '"'):
                    steps.append(Key(cursor.quoted()))
                else:
                    raise cursor.error("expected an index, * or a quoted property name after [")
                cursor.expect("]", "] to close the [")
            if isinstance(steps[-1], Wildcard):
                self.count_wildcard(steps, step_at)
        if not steps:
            raise cursor.error("expected . or [ after $, e.g. $.eventName")
        return Selector(tuple(steps))

    def count_wildcard(self, steps: list[Step], at: int) -> None:
        in_selector = sum(isinstance(s, Wildcard) for s in steps)
        if in_selector > MAX_WILDCARDS_PER_SELECTOR:
            raise self.cursor.error("a property selector holds at most one wildcard", at=at)
        if in_selector == 1:
            self.wildcard_selectors += 1
            if self.wildcard_selectors > MAX_WILDCARD_SELECTORS:
                raise self.cursor.error(
                    f"a JSON pattern holds at most {MAX_WILDCARD_SELECTORS} selectors with a "
                    "wildcard",
                    at=at,
                )

    def leaf(self) -> Condition[LogEvent]:
        cursor = self.cursor
        start = cursor.i
        selector = self.selector()
        written = cursor.text[start : cursor.i]
        cursor.skip_space()
        op = cursor.operator()
        if op is not None:
            return Comparison(selector, op, cursor.value(op))
        keyword_at = cursor.i
        keyword = cursor.word().upper()
        if keyword == "IS":
            cursor.skip_space()
            what_at = cursor.i
            what = cursor.word().upper()
            if what == "NOT":
                raise cursor.error(
                    "IS NOT is not supported (AWS has IS NULL, IS TRUE, IS FALSE and NOT EXISTS)",
                    at=what_at,
                )
            if what not in ("NULL", "TRUE", "FALSE"):
                raise cursor.error("expected NULL, TRUE or FALSE after IS", at=what_at)
            return IsCheck(selector, cast(IsValue, what))
        if keyword == "NOT":
            cursor.skip_space()
            what_at = cursor.i
            if cursor.word().upper() != "EXISTS":
                raise cursor.error("expected EXISTS after NOT", at=what_at)
            return NotExists(selector)
        if keyword == "EXISTS":
            raise cursor.error(
                "EXISTS alone is not supported: use NOT EXISTS, or = * for any value",
                at=keyword_at,
            )
        raise cursor.error(
            f"expected a comparison operator after {written} (= != < > <= >=, IS NULL, "
            "IS TRUE, IS FALSE or NOT EXISTS)",
            at=keyword_at,
        )


# --------------------------------------------------------------------- space-delimited


class _Delimited:
    def __init__(self, cursor: _Cursor) -> None:
        self.cursor = cursor
        self.references: list[tuple[str, int]] = []

    def name(self) -> str:
        cursor = self.cursor
        name = cursor.run(lambda c: c.isalnum() or c == "_")
        if not name:
            raise cursor.error("expected a field name (letters, digits and _) or ...")
        return name

    def leaf(self) -> Condition[Fields]:
        cursor = self.cursor
        cursor.skip_space()
        at = cursor.i
        name = self.name()
        self.references.append((name, at))
        cursor.skip_space()
        op = cursor.operator()
        if op is None:
            raise cursor.error(f"expected a comparison operator after {name}")
        return FieldComparison(name, op, cursor.value(op))

    def slot(self) -> Field | AnyFields:
        cursor = self.cursor
        if cursor.startswith("..."):
            cursor.i += 3
            return AnyFields()
        start = cursor.i
        if cursor.peek() != "(":
            name = self.name()
            cursor.skip_space()
            if cursor.peek() in (",", "]", ""):
                return Field(name)
            cursor.i = start
        condition = _Conditions[Fields](cursor, self.leaf, ",]").whole()
        leaf = next(iter(condition.leaves()))
        assert isinstance(leaf, FieldComparison)
        return Field(leaf.name, condition)

    def parse(self) -> DelimitedPattern:
        cursor = self.cursor
        opened = cursor.i
        cursor.i += 1  # [
        slots: list[Field | AnyFields] = []
        declared: dict[str, int] = {}
        gap_at: int | None = None
        while True:
            cursor.skip_space()
            at = cursor.i
            if cursor.peek() == "]" and slots:  # after a trailing comma: a nameless field
                slots.append(Field(None))
                cursor.i += 1
                break
            if cursor.at_end():
                raise cursor.error(f"expected a field, then ] to close the [ at {opened}")
            slot = self.slot()
            if isinstance(slot, AnyFields):
                if gap_at is not None:
                    raise cursor.error(
                        f"a pattern holds one ... (there is one at position {gap_at})", at=at
                    )
                gap_at = at
            elif slot.name is not None:
                if slot.name in declared:
                    raise cursor.error(f"the field name {slot.name} is used twice", at=at)
                declared[slot.name] = at
            slots.append(slot)
            cursor.skip_space()
            if cursor.peek() == ",":
                cursor.i += 1
                continue
            if cursor.peek() == "]":
                cursor.i += 1
                break
            raise cursor.error("expected , or ] after the field")
        for name, at in self.references:
            if name not in declared:
                raise cursor.error(
                    f"{name} is not one of the pattern's fields ({', '.join(declared)})", at=at
                )
        return DelimitedPattern(tuple(slots))


# ------------------------------------------------------------------------------ terms


def _terms(cursor: _Cursor) -> TermsPattern:
    terms: list[Term] = []
    while True:
        cursor.skip_space()
        if cursor.at_end():
            return TermsPattern(tuple(terms))
        kind: TermKind = "include"
        if cursor.peek() in "?-":
            kind = "optional" if cursor.peek() == "?" else "exclude"
            sign = cursor.peek()
            cursor.i += 1
            cursor.skip_space()  # AWS's own example writes "ERROR" - "Exiting"
            if cursor.at_end():
                raise cursor.error(f"expected a term after {sign}")
        start = cursor.i
        char = cursor.peek()
        if char == '"':
            text = cursor.quoted()
        elif char in ("%", "{", "["):
            raise cursor.error(
                f"{char} starts a regex, JSON or space-delimited pattern, which must be the "
                f'whole filter pattern; to find the character itself, quote it: "{char}"'
            )
        else:
            text = cursor.run(lambda c: not c.isspace())
            bad = next((c for c in text if not (c.isalnum() or c == "_")), None)
            if bad is not None:
                raise cursor.error(
                    f"{bad!r} needs quotes: terms with characters other than letters, digits "
                    f'and _ go in double quotes, e.g. "{text}"',
                    at=start + text.index(bad),
                )
        if not cursor.at_end() and not cursor.peek().isspace():
            raise cursor.error("expected a space after the term")
        terms.append(Term(text, kind))


# ------------------------------------------------------------------------------ parse


def parse(pattern: str) -> Pattern:
    """Parse a CloudWatch Logs filter pattern; raises FilterPatternError."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise FilterPatternError(
            f"a filter pattern is at most {MAX_PATTERN_LENGTH} characters (this one has "
            f"{len(pattern)})",
            MAX_PATTERN_LENGTH,
        )
    cursor = _Cursor(pattern)
    cursor.skip_space()
    first = cursor.peek()
    result: Pattern
    if first == "{":
        result = _Json(cursor).parse()
    elif first == "[":
        result = _Delimited(cursor).parse()
    elif first == "%":
        regex = cursor.regex()
        assert not isinstance(regex, Text | Number)
        result = RegexPattern(regex)
    else:
        return _terms(cursor)
    cursor.skip_space()
    if not cursor.at_end():
        raise cursor.error(
            "unexpected text after the pattern: a JSON, space-delimited or regex pattern "
            "is the whole filter pattern"
        )
    return result
