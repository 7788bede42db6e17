"""Properties of the filter-pattern engine, checked with hypothesis.

- printing is exact: parse(str(p)) == p for generated pattern trees of every kind;
- && and || mean both and either, over generated JSON events;
- numeric comparisons agree with Python's, scientific notation included;
- the regex subset agrees with Python's re on generated regexes and texts, while never
  backtracking.
"""

from __future__ import annotations

import json
import operator
import re
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from aws.filter_patterns import (
    MAX_PATTERN_LENGTH,
    AnyFields,
    Comparison,
    DelimitedPattern,
    Field,
    FieldComparison,
    Index,
    IsCheck,
    JsonPattern,
    Key,
    NotExists,
    Number,
    Pattern,
    RegexPattern,
    Selector,
    Term,
    TermsPattern,
    Text,
    Wildcard,
    all_of,
    any_of,
    compile_regex,
    parse,
)

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ------------------------------------------------------------------------------- regex

REGEX_LITERALS = "abcxyz019:_#=@/;,- "


def _regex_atom() -> st.SearchStrategy[str]:
    literal = st.sampled_from(REGEX_LITERALS)
    escaped = st.sampled_from([r"\.", r"\*", r"\[", r"\]", r"\^", r"\$", r"\|", r"\\"])
    classes = st.sampled_from([r"\d", r"\D", r"\s", r"\S", r"\w", r"\W", r"\x3A", r"\x0a"])
    member = st.sampled_from(["a", "b", "x", "0", "9", ":", " ", "a-c", "0-9", r"\d", r"\s"])
    char_class = st.builds(
        lambda negate, items: "[" + ("^" if negate else "") + "".join(items) + "]",
        st.booleans(),
        st.lists(member, min_size=1, max_size=3),
    )
    return st.one_of(literal, literal, escaped, classes, char_class, st.just("."))


def _regex_piece() -> st.SearchStrategy[str]:
    quantifier = st.sampled_from(["", "", "", "?", "*", "+", "{2}", "{1,}", "{,2}", "{1,3}"])
    return st.builds(operator.add, _regex_atom(), quantifier)


def _regex_branch() -> st.SearchStrategy[str]:
    return st.builds(
        lambda start, pieces, end: ("^" if start else "") + "".join(pieces) + ("$" if end else ""),
        st.booleans(),
        st.lists(_regex_piece(), min_size=1, max_size=5),
        st.booleans(),
    )


regex_sources = st.lists(_regex_branch(), min_size=1, max_size=3).map("|".join)
regex_texts = st.text(alphabet="abcxyz019: _.[]\n\t*", max_size=25)


@FAST
@given(regex_sources, regex_texts)
def test_the_regex_subset_agrees_with_python_re(source: str, text: str) -> None:
    # Python's re reads the subset the same way, with "." matching any character (ours
    # matches newlines too, so DOTALL) and ASCII classes.
    expected = re.search(source, text, re.ASCII | re.DOTALL) is not None
    assert compile_regex(source).search(text) is expected


def test_a_regex_that_would_backtrack_forever_takes_linear_time() -> None:
    regex = compile_regex("a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b")
    text = "a" * 20000
    started = time.perf_counter()
    assert not regex.search(text)
    assert not regex.search(text + "c")
    assert regex.search(text + "b")
    assert time.perf_counter() - started < 2.0


# ---------------------------------------------------------------------- JSON patterns

KEYS = ["a", "b", "c", "x-y", "dotted.key", "it's", "*"]

plain_texts = st.text(alphabet="abcXYZ09_-.*+:/ @$\\\"'{}", max_size=8)
number_texts = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda f: f"{f:.4e}"),
    st.sampled_from(["+1000", "1e+3", "10e-3", "55.5", "-0", "5."]),
)
values: st.SearchStrategy[Text | Number | Any] = st.one_of(
    plain_texts.map(Text),
    number_texts.map(Number),
    regex_sources.map(compile_regex),
)


def _steps(draw: st.DrawFn) -> tuple[Any, ...]:
    steps: list[Any] = [Key(draw(st.sampled_from(KEYS)))]
    wildcard = False
    for _ in range(draw(st.integers(0, 2))):
        kind = draw(st.sampled_from(["key", "index", "wildcard"]))
        if kind == "key":
            steps.append(Key(draw(st.sampled_from(KEYS))))
        elif kind == "index":
            steps.append(Index(draw(st.integers(0, 3))))
        elif not wildcard:
            wildcard = True
            steps.append(Wildcard(bracket=draw(st.booleans())))
    return tuple(steps)


@st.composite
def selectors(draw: st.DrawFn) -> Selector:
    return Selector(_steps(draw))


@st.composite
def json_leaves(draw: st.DrawFn) -> Any:
    selector = draw(selectors())
    kind = draw(st.sampled_from(["compare", "compare", "compare", "is", "not exists"]))
    if kind == "is":
        return IsCheck(selector, draw(st.sampled_from(["NULL", "TRUE", "FALSE"])))
    if kind == "not exists":
        return NotExists(selector)
    value = draw(values)
    ops = ["=", "!=", "<", ">", "<=", ">="] if isinstance(value, Number) else ["=", "!="]
    return Comparison(selector, draw(st.sampled_from(ops)), value)


json_conditions = st.recursive(
    json_leaves(),
    lambda children: st.one_of(
        st.lists(children, min_size=2, max_size=3).map(lambda items: all_of(*items)),
        st.lists(children, min_size=2, max_size=3).map(lambda items: any_of(*items)),
    ),
    max_leaves=6,
)


def _within_limits(pattern: Pattern) -> bool:
    text = str(pattern)
    leaves = []
    if isinstance(pattern, JsonPattern):
        leaves = list(pattern.condition.leaves())
    elif isinstance(pattern, DelimitedPattern):
        for f in pattern.fields:
            if isinstance(f, Field) and f.condition is not None:
                leaves.extend(f.condition.leaves())
    regexes = sum(
        1
        for leaf in leaves
        if isinstance(leaf, Comparison | FieldComparison)
        and not isinstance(leaf.value, Text | Number)
    )
    wildcards = sum(
        1
        for leaf in leaves
        if isinstance(leaf, Comparison | IsCheck | NotExists) and leaf.selector.wildcards
    )
    return len(text) <= MAX_PATTERN_LENGTH and regexes <= 2 and wildcards <= 3


@FAST
@given(json_conditions)
def test_json_patterns_print_to_text_that_parses_back_equal(condition: Any) -> None:
    pattern = JsonPattern(condition)
    assume(_within_limits(pattern))

    assert parse(str(pattern)) == pattern
    assert parse(pattern.to_text(compact=True)) == pattern


# -------------------------------------------------------------- space-delimited patterns

FIELD_NAMES = ["ip", "user", "w1", "status_code", "bytes", "t2"]


@st.composite
def delimited_patterns(draw: st.DrawFn) -> DelimitedPattern:
    names = draw(st.lists(st.sampled_from(FIELD_NAMES), min_size=1, max_size=5, unique=True))

    def leaf(name: str) -> FieldComparison:
        value = draw(values)
        ops = ["=", "!=", "<", ">", "<=", ">="] if isinstance(value, Number) else ["=", "!="]
        return FieldComparison(name, draw(st.sampled_from(ops)), value)

    slots: list[Field | AnyFields] = []
    for name in names:
        condition: Any = None
        if draw(st.booleans()):
            condition = leaf(name)
            for _ in range(draw(st.integers(0, 2))):
                other = leaf(draw(st.sampled_from(names)))
                combine = all_of if draw(st.booleans()) else any_of
                condition = combine(condition, other)
        slots.append(Field(name, condition))
    if draw(st.booleans()):
        slots.insert(draw(st.integers(0, len(slots))), AnyFields())
    if draw(st.booleans()):
        slots.append(Field(None))
    return DelimitedPattern(tuple(slots))


@FAST
@given(delimited_patterns())
def test_space_delimited_patterns_print_to_text_that_parses_back_equal(
    pattern: DelimitedPattern,
) -> None:
    assume(_within_limits(pattern))
    assert parse(str(pattern)) == pattern
    assert parse(pattern.to_text(compact=True)) == pattern


# ----------------------------------------------------------- terms and regex patterns

terms_patterns = st.lists(
    st.builds(
        Term,
        st.text(max_size=10),
        st.sampled_from(["include", "exclude", "optional"]),
    ),
    max_size=5,
).map(lambda terms: TermsPattern(tuple(terms)))


@FAST
@given(st.one_of(terms_patterns, regex_sources.map(compile_regex).map(RegexPattern)))
def test_term_and_regex_patterns_print_to_text_that_parses_back_equal(
    pattern: Pattern,
) -> None:
    assume(len(str(pattern)) <= MAX_PATTERN_LENGTH)
    assert parse(str(pattern)) == pattern


@FAST
@given(st.lists(st.text(alphabet="abAB_ 1", min_size=1, max_size=4), min_size=1, max_size=4))
def test_terms_all_match_only_when_each_does(words: list[str]) -> None:
    message = "ab 1 B_a A"
    terms = tuple(Term(w) for w in words)
    assert TermsPattern(terms).matches(message) is all(
        TermsPattern((t,)).matches(message) for t in terms
    )
    optional = tuple(Term(w, "optional") for w in words)
    assert TermsPattern(optional).matches(message) is any(
        TermsPattern((t,)).matches(message) for t in terms
    )


# ------------------------------------------------------------ && and || over events

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.sampled_from(["", "a", "abc", "x-y", "10", "UpdateTrail", "val", "*"]),
    st.floats(-10, 10).map(lambda f: round(f, 2)),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.sampled_from(KEYS), children, max_size=3),
    ),
    max_leaves=8,
)
json_events = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=5).map(json.dumps)


@FAST
@given(json_conditions, json_conditions, json_events)
def test_and_means_both_and_or_means_either(a: Any, b: Any, message: str) -> None:
    first, second = JsonPattern(a), JsonPattern(b)
    assume(_within_limits(JsonPattern(all_of(a, b))))
    a_text, b_text = a.to_text(), b.to_text()

    both = parse(f"{{ ({a_text}) && ({b_text}) }}")
    either = parse(f"{{ ({a_text}) || ({b_text}) }}")

    assert both.matches(message) is (first.matches(message) and second.matches(message))
    assert either.matches(message) is (first.matches(message) or second.matches(message))
    assert both == JsonPattern(all_of(a, b)) and either == JsonPattern(any_of(a, b))


@FAST
@given(json_conditions, json_events)
def test_a_printed_pattern_matches_what_the_tree_matches(condition: Any, message: str) -> None:
    pattern = JsonPattern(condition)
    assume(_within_limits(pattern))
    assert parse(str(pattern)).matches(message) is pattern.matches(message)


# ------------------------------------------------------------------ numeric comparisons

OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}
finite = st.floats(allow_nan=False, allow_infinity=False)
numerals = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    finite.map(repr),
    finite.map(lambda f: f"{f:e}"),
    finite.map(lambda f: f"{f:.2E}"),
    st.integers(-50, 50).map(lambda e: f"1.5e{e:+d}"),
)


@FAST
@given(numerals, st.sampled_from(sorted(OPS)), numerals)
def test_numeric_comparisons_agree_with_python(event_number: str, op: str, literal: str) -> None:
    pattern = parse(f"{{ $.n {op} {literal} }}")
    expected = OPS[op](Decimal(event_number), Decimal(literal))

    assert pattern.matches(f'{{"n": {event_number}}}') is expected
    assert parse(f"[n {op} {literal}]").matches(event_number) is expected


@FAST
@given(finite, st.sampled_from(sorted(OPS)), finite)
def test_comparisons_of_floats_agree_with_float_comparisons(x: float, op: str, y: float) -> None:
    pattern = parse(f"{{ $.n {op} {y!r} }}")
    assert pattern.matches(json.dumps({"n": x})) is OPS[op](x, y)
