"""The cases AWS's documentation leaves open, each decided (see README "Filter patterns")
and pinned here, plus how events are read."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from aws.filter_patterns import (
    NOT_JSON,
    Comparison,
    JsonPattern,
    LogEvent,
    Selector,
    matches,
    parse,
)

DECIDED = [
    # A number compares with a string as written; an order never holds for a string.
    ("{ $.n = 400 }", '{"n": "400"}', True),
    ("{ $.n = 400 }", '{"n": "4e2"}', False),
    ("{ $.n = 4e2 }", '{"n": 400}', True),
    ("{ $.n != 400 }", '{"n": "401"}', True),
    ("{ $.n > 5 }", '{"n": "10"}', False),
    ('{ $.s = "400" }', '{"s": 400}', True),
    ("{ $.s = 4* }", '{"s": 404}', True),
    ("{ $.s = %^40% }", '{"s": 404}', True),
    # Numbers compare exactly, as decimals.
    ("{ $.a = 0.1 }", '{"a": 0.10}', True),
    ("{ $.a = 0.1 }", '{"a": 1e-1}', True),
    ("{ $.a < 0.30000000000000004 }", '{"a": 0.3}', True),
    ("{ $.a > 99999999999999999999 }", '{"a": 100000000000000000000}', True),
    # != needs a string or number to compare: missing, null, booleans, objects are not.
    ('{ $.a != "x" }', '{"a": "y"}', True),
    ('{ $.a != "x" }', "{}", False),
    ('{ $.a != "x" }', '{"a": null}', False),
    ('{ $.a != "x" }', '{"a": true}', False),
    ('{ $.a != "x" }', '{"a": {"x": 1}}', False),
    # Booleans and null are IS TRUE / IS FALSE / IS NULL, not strings.
    ("{ $.a = true }", '{"a": true}', False),
    ("{ $.a IS TRUE }", '{"a": "true"}', False),
    ("{ $.a IS NULL }", '{"a": "null"}', False),
    ("{ $.a is null }", '{"a": null}', True),  # keywords in any case
    # Strings are case-sensitive.
    ("{ $.a = ConsoleLogin }", '{"a": "consolelogin"}', False),
    # A wildcard selector holds when any selected node does, for != too.
    ('{ $.a[*] != "x" }', '{"a": ["x", "y"]}', True),
    ('{ $.a[*] != "x" }', '{"a": ["x"]}', False),
    ("{ $.a[*] NOT EXISTS }", '{"a": []}', True),
    ("{ $.a[*] NOT EXISTS }", '{"a": [1]}', False),
    ("{ $.a[*] IS NULL }", '{"a": [1, null]}', True),
    # .* and [*] both select array elements and object properties.
    ("{ $.a.* = 2 }", '{"a": [1, 2]}', True),
    ("{ $.a[*] = 2 }", '{"a": {"k": 2}}', True),
    # Only JSON objects are JSON events; NOT EXISTS needs one too.
    ("{ $.a NOT EXISTS }", "[1, 2]", False),
    ("{ $.a NOT EXISTS }", "42", False),
    ("{ $.a NOT EXISTS }", '{"a": 1', False),
    ("{ $.a NOT EXISTS }", '{"b": NaN}', False),
    ("{ $.a = 1 }", '  {"a": 1}\n', True),
    ("{ $.a NOT EXISTS }", '{"b": 1e99999999999999999999}', False),  # beyond any decimal
    # Regex: "." matches any character, newline too; "$" also before a final newline.
    ("%a.b%", "a\nb", True),
    ("%done$%", "START RequestId done\n", True),
    ("{ $.m = %^x$% }", '{"m": "x\\ny"}', False),
    # Terms: escapes in quotes, letters of any script, a spaced minus as in AWS's example.
    ('"say \\"hi\\""', 'they say "hi"', True),
    ("Grüße", "viele Grüße", True),
    ("ERROR - DEBUG", "ERROR DEBUG", False),
    ('"C:\\Windows"', "path C:\\Windows\\system32", True),
    # Space-delimited: fields in "..." or [...], an unclosed one runs to the end.
    ('[a, b = "x y", c]', 'one "x y" three', True),
    ('[a, b = "x y"]', 'one "x y', True),
    ("[a, b = 2, c]", "1\t2\t3", True),
    # Too few fields never match; the last field takes the rest.
    ("[a, b, c]", "one two", False),
    ('[a, b = "two three"]', "one two three", True),
    ("[a, b = two]", "one two three", False),
    # ... binds the middle, the start or the end.
    ("[a = 1, ..., z = 9]", "1 9", True),
    ("[a = 1, ..., z = 9]", "1 5 6 7 9", True),
    ("[..., z = 9]", "9", True),
    ("[a = 1, ...]", "1", True),
    ("[a = 1, ...]", "", False),
    # A field reads as a number when it is one, sci notation included.
    ("[a > 1000]", "1.5e3", True),
    ("[a > 1000]", "lots", False),
    ("[a > 1000]", "1e99999999999999999999", False),
    ("[a = 200]", "200.0", True),
    ("[a = 200]", "OK", False),
    ("[a != 200]", "OK", True),
    # A field condition may name a later field.
    ("[a = x || b = y, b]", "q y", True),
    ("[a = x || b = y, b]", "q z", False),
]


@pytest.mark.parametrize(("pattern", "message", "expected"), DECIDED)
def test_decided_semantics(pattern: str, message: str, expected: bool) -> None:
    assert matches(pattern, message) is expected


def test_keywords_print_in_capitals_and_values_bare_when_they_can() -> None:
    assert str(parse('{ $.a is null && $.b not exists || $.c = "x" }')) == (
        "{ $.a IS NULL && $.b NOT EXISTS || $.c = x }"
    )
    assert str(parse('{ ($.a = "x y" || $.b = "400") && $.c = 400 }')) == (
        '{ ($.a = "x y" || $.b = "400") && $.c = 400 }'
    )
    assert str(parse("{ $.['a.b'][0].* = 1 }")) == "{ $.['a.b'][0].* = 1 }"
    assert str(parse("[ a=1 , ... ,b = x&&a!=2 ,]")) == "[a = 1, ..., b = x && a != 2, ]"
    assert str(parse('  ?"x y"  -ERROR   "ok" ')) == '?"x y" -ERROR ok'


def test_an_event_is_read_once_however_many_patterns_look_at_it() -> None:
    event = LogEvent('{"eventName": "StopLogging", "n": 1.50}')
    first, second = parse("{ $.eventName = StopLogging }"), parse("{ $.n = 1.5 }")
    assert isinstance(first, JsonPattern) and isinstance(first.condition, Comparison)
    assert isinstance(second, JsonPattern) and isinstance(second.condition, Comparison)

    assert first.matches_event(event) and second.matches_event(event)
    assert event.json is event.json  # parsed once
    same_selector = Selector(first.condition.selector.steps)
    assert event.select(same_selector) is event.select(first.condition.selector)
    assert str(event.select(second.condition.selector)[0]) == "1.50"  # the digits kept


def test_an_event_that_is_not_json_has_no_json() -> None:
    assert LogEvent("ERROR 500").json is NOT_JSON
    assert LogEvent("ERROR 500").fields[1].text == "500"


def test_a_compiled_pattern_survives_pickling_for_a_cache() -> None:
    for text in ("{ $.a = %x.y% && $.b = *z* }", "[a = %q%, ...]", "ERROR -DEBUG", "%ab+c%"):
        pattern = parse(text)
        copy = pickle.loads(pickle.dumps(pattern))
        assert copy == pattern
        for message in ('{"a": "xzy", "b": "zz"}', "q r", "ERROR x", "abbc"):
            assert copy.matches(message) is pattern.matches(message)


def test_the_engine_is_pure_python_without_django() -> None:
    script = (
        "import sys, aws.filter_patterns as f; "
        "assert f.matches('{ $.a = 1 }', '{\"a\": 1}'); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'rest_framework')))"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
