"""CloudWatch Logs filter patterns in pure Python: parse, print and evaluate.

    >>> from aws.filter_patterns import parse
    >>> pattern = parse('{ $.eventName = ConsoleLogin && $.errorMessage = "Failed*" }')
    >>> pattern.matches('{"eventName": "ConsoleLogin", "errorMessage": "Failed auth"}')
    True

Many patterns over one event, the event parsed once::

    event = LogEvent(message)
    hits = [p for p in compiled if p.matches_event(event)]

No Django here: this package imports nothing from the project outside ``aws.filter_patterns``.
"""

from __future__ import annotations

from functools import lru_cache

from aws.filter_patterns.errors import FilterPatternError
from aws.filter_patterns.event import NOT_JSON, FieldToken, LogEvent
from aws.filter_patterns.nodes import (
    MAX_PATTERN_LENGTH,
    MAX_REGEX_PER_PATTERN,
    MAX_WILDCARD_SELECTORS,
    And,
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
    Or,
    Pattern,
    RegexPattern,
    Selector,
    Term,
    TermsPattern,
    Text,
    Wildcard,
    all_of,
    any_of,
)
from aws.filter_patterns.parser import parse
from aws.filter_patterns.regex import Regex, compile_regex

__all__ = [
    "MAX_PATTERN_LENGTH",
    "MAX_REGEX_PER_PATTERN",
    "MAX_WILDCARD_SELECTORS",
    "NOT_JSON",
    "And",
    "AnyFields",
    "Comparison",
    "DelimitedPattern",
    "Field",
    "FieldComparison",
    "FieldToken",
    "FilterPatternError",
    "Index",
    "IsCheck",
    "JsonPattern",
    "Key",
    "LogEvent",
    "NotExists",
    "Number",
    "Or",
    "Pattern",
    "Regex",
    "RegexPattern",
    "Selector",
    "Term",
    "TermsPattern",
    "Text",
    "Wildcard",
    "all_of",
    "any_of",
    "compile_regex",
    "matches",
    "parse",
]


@lru_cache(maxsize=256)
def _parsed(pattern: str) -> Pattern:
    return parse(pattern)


def matches(pattern: str, message: str) -> bool:
    """Whether ``message`` matches ``pattern`` (parsed once per distinct text)."""
    return _parsed(pattern).matches(message)
