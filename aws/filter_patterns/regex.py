"""The regex subset of filter patterns (``%...%``), matched in linear time.

What CloudWatch Logs documents, and so what this accepts:

- characters: ASCII letters and digits, the symbols ``: _ # = @ / ; , -`` and the space
  (decision: the space is not in AWS's list, yet its own example
  ``%^starting|^initializing|^shutting down%`` uses one);
- operators: ``^ $ ? [ ] { } | \\ * + .``; ``\\d \\D \\s \\S \\w \\W`` (ASCII classes),
  ``\\xhh`` (an ASCII character by its hex code) and ``\\`` before an operator or symbol
  for the character itself;
- no parentheses (no groups), no multi-byte characters.

Decisions where the documentation is silent: ``.`` matches any character, a newline too
("any single character"); ``$`` matches at the end or before a final newline, ``^`` only
at the start (the usual single-line meaning); an empty alternative (``a|``), a lone ``]``
or ``}`` and an unknown escape are errors rather than guesses; repetition counts are at
most 1000.

Matching never backtracks: the pattern becomes a small automaton (one state per
character position, repetitions unrolled) that is run as a DFA built lazily, one cached
transition per (state, character). A pattern such as ``%a*a*a*a*b%`` costs the same per
character as ``%b%``, so a user-supplied pattern cannot stall the process.
"""

from __future__ import annotations

import string
import threading
from dataclasses import dataclass, field

from aws.filter_patterns.errors import FilterPatternError

# Characters a regex may contain as themselves.
LITERALS = frozenset(string.ascii_letters + string.digits + ":_#=@/;,- ")
OPERATORS = frozenset("^$?[]{}|\\*+.")
MAX_REPEAT = 1000
# Unrolled repetitions beyond this are refused: the automaton stays small.
MAX_STATES = 5000
# Cached DFA states per pattern before the cache starts again (bounds memory).
MAX_DFA_STATES = 2000

_ASCII = frozenset(chr(i) for i in range(128))
_DIGITS = frozenset(string.digits)
_WORD = frozenset(string.ascii_letters + string.digits + "_")
_SPACE = frozenset(" \t\n\r\f\v")


@dataclass(frozen=True)
class CharSet:
    """A set of characters: the ASCII ones listed, and every non-ASCII one or none."""

    ascii: frozenset[str]
    non_ascii: bool

    def __contains__(self, char: str) -> bool:
        return char in self.ascii if char < "\x80" else self.non_ascii

    def union(self, other: CharSet) -> CharSet:
        return CharSet(self.ascii | other.ascii, self.non_ascii or other.non_ascii)

    def inverse(self) -> CharSet:
        return CharSet(_ASCII - self.ascii, not self.non_ascii)


ANY = CharSet(_ASCII, True)
_CLASSES = {
    "d": CharSet(_DIGITS, False),
    "w": CharSet(_WORD, False),
    "s": CharSet(_SPACE, False),
}
for _name, _set in list(_CLASSES.items()):
    _CLASSES[_name.upper()] = _set.inverse()

# Automaton states: kinds and their payloads live in parallel lists.
_CHAR, _SPLIT, _BOL, _EOL, _MATCH = range(5)


@dataclass
class _Item:
    """One atom (a character set, or an anchor ``^``/``$``) repeated lo..hi times."""

    atom: CharSet | str
    lo: int = 1
    hi: int | None = 1
    repeated: bool = False


class _Parser:
    def __init__(self, source: str, base: int) -> None:
        self.source = source
        self.base = base  # where source starts in the whole pattern, for error positions
        self.i = 0

    def error(self, message: str, at: int | None = None) -> FilterPatternError:
        return FilterPatternError(message, self.base + (self.i if at is None else at))

    def parse(self) -> list[list[_Item]]:
        if not self.source:
            raise self.error("expected a regex between the % signs")
        alternatives: list[list[_Item]] = [[]]
        while self.i < len(self.source):
            char = self.source[self.i]
            if char == "|":
                if not alternatives[-1]:
                    raise self.error("expected something before |")
                alternatives.append([])
                self.i += 1
            elif char in "?*+{":
                self.quantifier(alternatives[-1])
            else:
                alternatives[-1].append(self.atom())
        if not alternatives[-1]:
            raise self.error("expected something after |")
        return alternatives

    def atom(self) -> _Item:
        start = self.i
        char = self.source[self.i]
        self.i += 1
        if char in "^$":
            return _Item(char)
        if char == ".":
            return _Item(ANY)
        if char == "[":
            return _Item(self.char_class(start))
        if char == "\\":
            return _Item(self.escape(in_class=False))
        if char in LITERALS:
            return _Item(CharSet(frozenset(char), False))
        self.i = start
        raise self.unsupported(char)

    def unsupported(self, char: str) -> FilterPatternError:
        if char in "()":
            return self.error(
                "parentheses are not supported in a regex (no groups); \\x28 and \\x29 "
                "match the characters ( and )"
            )
        if char in "]}":
            return self.error(f"unexpected {char} in the regex; write \\{char} for the character")
        if char >= "\x80":
            return self.error("multi-byte characters are not supported in a regex")
        return self.error(
            f"{char!r} is not supported in a regex (letters, digits, space and : _ # = @ / ; "
            ", - only); \\xhh matches any ASCII character by its hex code"
        )

    def escape(self, *, in_class: bool) -> CharSet:
        """After a backslash: a class, \\xhh, or an operator/symbol taken literally."""
        if self.i >= len(self.source):
            raise self.error("expected a character after \\")
        char = self.source[self.i]
        self.i += 1
        if char in _CLASSES:
            return _CLASSES[char]
        if char == "x":
            digits = self.source[self.i : self.i + 2]
            if len(digits) != 2 or any(d not in string.hexdigits for d in digits):
                raise self.error("expected two hex digits after \\x")
            code = int(digits, 16)
            if code > 0x7F:
                raise self.error("\\xhh must be an ASCII character (00 to 7F)")
            self.i += 2
            return CharSet(frozenset(chr(code)), False)
        if char in OPERATORS or (char in LITERALS and not char.isalnum() and char != " "):
            return CharSet(frozenset(char), False)
        self.i -= 1
        where = " in a character class" if in_class else ""
        raise self.error(
            f"\\{char} is not a supported escape{where} (\\d \\D \\s \\S \\w \\W \\xhh, or \\ "
            "before an operator)"
        )

    def class_char(self) -> CharSet:
        char = self.source[self.i]
        if char == "\\":
            self.i += 1
            return self.escape(in_class=True)
        if char in LITERALS or (char in OPERATORS and char != "]"):
            self.i += 1
            return CharSet(frozenset(char), False)
        raise self.unsupported(char)

    def char_class(self, start: int) -> CharSet:
        negated = self.i < len(self.source) and self.source[self.i] == "^"
        if negated:
            self.i += 1
        members = CharSet(frozenset(), False)
        empty = True
        while True:
            if self.i >= len(self.source):
                raise self.error("expected ] to close the character class", at=start)
            if self.source[self.i] == "]":
                if empty:
                    raise self.error("a character class needs at least one character")
                self.i += 1
                break
            low_at = self.i
            low = self.class_char()
            empty = False
            is_range = self.source[self.i : self.i + 1] == "-" and self.source[
                self.i + 1 : self.i + 2
            ] not in ("", "]")
            if not is_range:
                members = members.union(low)
                continue
            self.i += 1
            high = self.class_char()
            if len(low.ascii) != 1 or len(high.ascii) != 1 or low.non_ascii or high.non_ascii:
                raise self.error("a range needs a single character at each end", at=low_at)
            first, last = min(low.ascii), min(high.ascii)
            if first > last:
                raise self.error(f"range {first}-{last} is out of order", at=low_at)
            span = frozenset(chr(c) for c in range(ord(first), ord(last) + 1))
            members = members.union(CharSet(span, False))
        return members.inverse() if negated else members

    def quantifier(self, items: list[_Item]) -> None:
        start = self.i
        char = self.source[self.i]
        previous = items[-1] if items else None
        if previous is None or isinstance(previous.atom, str) or previous.repeated:
            raise self.error(f"nothing to repeat before {char}")
        self.i += 1
        if char == "?":
            lo, hi = 0, 1
        elif char == "*":
            lo, hi = 0, None
        elif char == "+":
            lo, hi = 1, None
        else:
            lo, hi = self.braces(start)
        previous.lo, previous.hi, previous.repeated = lo, hi, True

    def braces(self, start: int) -> tuple[int, int | None]:
        end = self.source.find("}", self.i)
        body = self.source[self.i : end] if end >= 0 else ""
        parts = [p.strip() for p in body.split(",")]
        valid = (
            end >= 0
            and 1 <= len(parts) <= 2
            and all(p.isdigit() or p == "" for p in parts)
            and any(parts)
            and (len(parts) == 2 or parts[0])
        )
        if not valid:
            raise self.error(
                "expected a repetition count such as {3}, {3,}, {,5} or {3,5}", at=start
            )
        numbers = [int(p) if p else None for p in parts]
        if any(n is not None and n > MAX_REPEAT for n in numbers):
            raise self.error(f"a repetition count is at most {MAX_REPEAT}", at=start)
        lo = numbers[0] or 0
        hi = numbers[0] if len(numbers) == 1 else numbers[1]
        if hi is not None and hi < lo:
            raise self.error(f"{{{body}}}: the maximum is below the minimum", at=start)
        self.i = end + 1
        return lo, hi


class _Tables:
    """One generation of the lazily built DFA, replaced whole when it grows too big.
    A DFA state is a set of automaton states; state 0 is always the start."""

    def __init__(self) -> None:
        self.ids: dict[frozenset[int], int] = {}
        self.sets: list[frozenset[int]] = []
        self.accepting: list[bool] = []
        self.moves: list[dict[str, int]] = []
        self.at_end: dict[tuple[int, bool], frozenset[int]] = {}


_NO_CHARS = CharSet(frozenset(), False)


class Machine:
    """The automaton of one regex and its lazily built DFA."""

    def __init__(self, alternatives: list[list[_Item]], base: int) -> None:
        self.kind: list[int] = []
        self.chars: list[CharSet] = []
        self.outs: list[tuple[int, ...]] = []
        match = self._add(_MATCH)
        entries = tuple(self._sequence(items, match) for items in alternatives)
        start = entries[0] if len(entries) == 1 else self._add(_SPLIT, outs=entries)
        if len(self.kind) > MAX_STATES:
            raise FilterPatternError(
                f"the regex is too large once its repetitions are expanded (over {MAX_STATES}"
                " characters); use smaller counts",
                base,
            )
        self.start = start
        # Unanchored search: a match may begin at every position, so the start states
        # join every step (without "^", which only passes at position 0).
        self.start_anywhere = self._closure([start], bol=False, eol=False)
        self._lock = threading.Lock()
        self._tables = self._new_tables()

    def _add(self, kind: int, chars: CharSet = _NO_CHARS, outs: tuple[int, ...] = ()) -> int:
        self.kind.append(kind)
        self.chars.append(chars)
        self.outs.append(outs)
        return len(self.kind) - 1

    def _sequence(self, items: list[_Item], after: int) -> int:
        """The entry state of ``items`` followed by state ``after`` (built backwards)."""
        following = after
        for item in reversed(items):
            if len(self.kind) > MAX_STATES:  # stop unrolling; __init__ reports it
                break
            if isinstance(item.atom, str):
                following = self._add(_BOL if item.atom == "^" else _EOL, outs=(following,))
                continue
            chars, entry = item.atom, following
            if item.hi is None:  # lo copies, then a loop
                loop = self._add(_SPLIT)
                self.outs[loop] = (self._add(_CHAR, chars, (loop,)), following)
                entry = loop
            else:  # lo copies, then hi - lo optional ones
                for _ in range(item.hi - item.lo):
                    take = self._add(_CHAR, chars, (entry,))
                    entry = self._add(_SPLIT, outs=(take, following))
            for _ in range(item.lo):
                entry = self._add(_CHAR, chars, (entry,))
            following = entry
        return following

    def _closure(self, states: list[int], *, bol: bool, eol: bool) -> frozenset[int]:
        """The states reachable without reading a character: character states and the
        match. A "$" that may not pass yet stays in the set, to be tried at the end."""
        seen: set[int] = set()
        kept: set[int] = set()
        stack = list(states)
        while stack:
            state = stack.pop()
            if state in seen:
                continue
            seen.add(state)
            kind = self.kind[state]
            if kind == _SPLIT or (kind == _BOL and bol) or (kind == _EOL and eol):
                stack.extend(self.outs[state])
            elif kind != _BOL:
                kept.add(state)
        return frozenset(kept)

    def _new_tables(self) -> _Tables:
        tables = _Tables()
        self._intern(tables, self._closure([self.start], bol=True, eol=False))
        return tables

    def _intern(self, tables: _Tables, states: frozenset[int]) -> int:
        found = tables.ids.get(states)
        if found is not None:
            return found
        tables.ids[states] = len(tables.sets)
        tables.sets.append(states)
        tables.accepting.append(self._has_match(states))
        tables.moves.append({})
        return len(tables.sets) - 1

    def _has_match(self, states: frozenset[int]) -> bool:
        return any(self.kind[s] == _MATCH for s in states)

    def _step(self, states: frozenset[int], char: str) -> frozenset[int]:
        chars, outs = self.chars, self.outs
        targets = [o for s in states if char in chars[s] for o in outs[s]]
        return self._closure(targets, bol=False, eol=False) | self.start_anywhere

    def _move(self, tables: _Tables, state: int, char: str) -> int:
        with self._lock:
            target = self._intern(tables, self._step(tables.sets[state], char))
            tables.moves[state][char] = target
            if len(tables.sets) > MAX_DFA_STATES and tables is self._tables:
                # Searches under way keep the old generation; new ones start afresh.
                self._tables = self._new_tables()
            return target

    def _at_end(self, tables: _Tables, state: int, at_start: bool) -> frozenset[int]:
        """The states once each pending "$" passes (at the end of the text, or just
        before a final newline)."""
        key = (state, at_start)
        found = tables.at_end.get(key)
        if found is None:
            found = self._closure(list(tables.sets[state]), bol=at_start, eol=True)
            tables.at_end[key] = found
        return found

    def search(self, text: str) -> bool:
        """Whether the regex matches anywhere in ``text``."""
        tables = self._tables
        accepting, moves = tables.accepting, tables.moves
        state = 0
        if accepting[state]:
            return True
        last = len(text) - 1
        for index, char in enumerate(text):
            if index == last and char == "\n":
                # "$" also matches just before a final newline, and "\n$" after it.
                ahead = self._at_end(tables, state, index == 0)
                if self._has_match(ahead):
                    return True
                after = self._step(ahead, char)
                return self._has_match(self._closure(list(after), bol=False, eol=True))
            target = moves[state].get(char)
            state = self._move(tables, state, char) if target is None else target
            if accepting[state]:
                return True
        return self._has_match(self._at_end(tables, state, last < 0))


@dataclass(frozen=True)
class Regex:
    """A validated regex: its source (between the % signs) and its matcher."""

    source: str
    machine: Machine = field(compare=False, repr=False, hash=False)

    def search(self, text: str) -> bool:
        return self.machine.search(text)

    def to_text(self) -> str:
        return f"%{self.source}%"

    def __reduce__(self) -> tuple[object, tuple[str]]:
        # Pickled (e.g. into a cache) as its source; the matcher is built again.
        return (compile_regex, (self.source,))


def compile_regex(source: str, base: int = 0) -> Regex:
    """Validate ``source`` (the text between the % signs, which starts at ``base`` in the
    whole pattern) and build its matcher; raises FilterPatternError."""
    alternatives = _Parser(source, base).parse()
    return Regex(source, Machine(alternatives, base))
