"""Invalid patterns: each error names the position and what was expected there."""

from __future__ import annotations

import pytest

from aws.filter_patterns import MAX_PATTERN_LENGTH, FilterPatternError, parse

INVALID = [
    # JSON
    ("{ $.eventName }", 14, "expected a comparison operator after $.eventName"),
    ("{ eventName = X }", 2, "expected a property selector starting with $"),
    ("{ $ = 1 }", 3, "expected . or [ after $"),
    ("{ $. = 1 }", 4, "expected a property name after ."),
    ("{ $.a[x] = 1 }", 6, "expected an index, * or a quoted property name after ["),
    ("{ $.a[1 = 1 }", 7, "expected ] to close the ["),
    ("{ $.a = }", 8, "expected a value after ="),
    ("{ $.a = 1", 9, "expected &&, || or } after the condition"),
    ("{ $.a = 1 $.b = 2 }", 10, "expected &&, || or } after the condition"),
    ("{ ($.a = 1 }", 11, "expected ) to close the ( at position 2"),
    ("{ }", 2, "expected a condition inside { }"),
    ("{ $.a = 1 && }", 13, "expected a property selector"),
    ("{ $.a < abc }", 8, "expected a number after <"),
    ('{ $.a >= "5" }', 9, "expected a number after >="),
    ("{ $.a > %5% }", 8, "expected a number after >"),
    ('{ $.a = "open }', 8, 'expected a closing " for the string opened here'),
    ("{ $.a = foo@bar }", 11, "'@' needs quotes"),
    ("{ $.a = $x }", 8, "'$' needs quotes"),
    ("{ $.a IS NOT NULL }", 9, "IS NOT is not supported"),
    ("{ $.a IS MISSING }", 9, "expected NULL, TRUE or FALSE after IS"),
    ("{ $.a NOT THERE }", 10, "expected EXISTS after NOT"),
    ("{ $.a EXISTS }", 6, "EXISTS alone is not supported"),
    ("{ $.a[*].b[*] = 1 }", 10, "a property selector holds at most one wildcard"),
    ("{ $.a.*.b.* = 1 }", 9, "a property selector holds at most one wildcard"),
    ("{ $.a = 1 } trailing", 12, "unexpected text after the pattern"),
    ("{ $.a = %abc }", 8, "expected a closing % for the regex opened here"),
    ("{ $.a > 1e99999999999999999999 }", 8, "the number 1e99999999999999999999 is out of range"),
    # space-delimited
    ("[a, b", 5, "expected , or ] after the field"),
    ("[]", 1, "expected a field name"),
    ("[a, , b]", 4, "expected a field name"),
    ("[a b]", 3, "expected a comparison operator after a"),
    ("[a = 1 b]", 7, "expected &&, || or , or ] after the condition"),
    ("[a, a]", 4, "the field name a is used twice"),
    ("[..., a, ...]", 9, "a pattern holds one ... (there is one at position 1)"),
    ("[a = x && c = 1, b]", 10, "c is not one of the pattern's fields (a, b)"),
    ("[a && b = 1, b]", 3, "expected a comparison operator after a"),
    ("[a = , b]", 5, "expected a value after ="),
    ("[a > x, b]", 5, "expected a number after >"),
    ("[a = 1, b] extra", 11, "unexpected text after the pattern"),
    ("[a = %x, b]", 5, "expected a closing % for the regex opened here"),
    # terms
    ("ERROR:", 5, "':' needs quotes"),
    ("user@example.com", 4, "'@' needs quotes"),
    ('"unclosed', 0, 'expected a closing " for the string opened here'),
    ('"a"b', 3, "expected a space after the term"),
    ("ERROR -", 7, "expected a term after -"),
    ("?", 1, "expected a term after ?"),
    ("ERROR %x%", 6, "% starts a regex, JSON or space-delimited pattern"),
    ("ERROR {x}", 6, "{ starts a regex, JSON or space-delimited pattern"),
    # regex
    ("%%", 1, "expected a regex between the % signs"),
    ("%abc", 0, "expected a closing % for the regex opened here"),
    ("%abc% ERROR", 6, "unexpected text after the pattern"),
    ("%a(b)%", 2, "parentheses are not supported in a regex"),
    ("%a!%", 2, "'!' is not supported in a regex"),
    ("%caf\u00e9%", 4, "multi-byte characters are not supported"),
    ("%[a%", 1, "expected ] to close the character class"),
    ("%[]%", 2, "a character class needs at least one character"),
    ("%[z-a]%", 2, "range z-a is out of order"),
    ("%*a%", 1, "nothing to repeat before *"),
    ("%^*%", 2, "nothing to repeat before *"),
    ("%a**%", 3, "nothing to repeat before *"),
    ("%a{3,1}%", 2, "the maximum is below the minimum"),
    ("%a{x}%", 2, "expected a repetition count"),
    ("%a{1001}%", 2, "a repetition count is at most 1000"),
    ("%a|%", 3, "expected something after |"),
    ("%|a%", 1, "expected something before |"),
    ("%a]%", 2, "unexpected ] in the regex"),
    ("%\\q%", 2, "\\q is not a supported escape"),
    ("%\\x4%", 3, "expected two hex digits after \\x"),
    ("%\\x80%", 3, "\\xhh must be an ASCII character"),
    ("%a\\%", 3, "expected a character after \\"),
    ("%.{1000}.{1000}.{1000}.{1000}.{1000}.{1000}%", 1, "the regex is too large"),
]


@pytest.mark.parametrize(("pattern", "position", "message"), INVALID)
def test_an_invalid_pattern_names_the_position_and_what_was_expected(
    pattern: str, position: int, message: str
) -> None:
    with pytest.raises(FilterPatternError) as raised:
        parse(pattern)

    error = raised.value
    assert error.position == position, error.message
    assert message in error.message
    assert str(error).startswith(f"position {position}: ")
    assert isinstance(error, ValueError)


def test_positions_count_leading_spaces() -> None:
    with pytest.raises(FilterPatternError) as raised:
        parse("   { $.a }")
    assert raised.value.position == 9


def test_the_documented_length_limit_is_1024_characters() -> None:
    longest = "{ $.a = " + "x" * (MAX_PATTERN_LENGTH - 10) + " }"
    assert len(longest) == MAX_PATTERN_LENGTH
    assert parse(longest).matches('{"a": "' + "x" * (MAX_PATTERN_LENGTH - 10) + '"}')

    with pytest.raises(FilterPatternError) as raised:
        parse(longest + " ")
    assert raised.value.position == MAX_PATTERN_LENGTH
    assert raised.value.message == (
        "a filter pattern is at most 1024 characters (this one has 1025)"
    )


def test_a_compact_pattern_at_the_limit_prints_compact_and_parses_back() -> None:
    clause = "$.a=1&&"
    compact = "{" + clause * ((MAX_PATTERN_LENGTH - 7) // len(clause)) + "$.a=1}"
    assert len(compact) <= MAX_PATTERN_LENGTH
    pattern = parse(compact)

    assert len(pattern.to_text()) > MAX_PATTERN_LENGTH  # the spaced form would not fit
    assert str(pattern) == compact
    assert parse(str(pattern)) == pattern
