"""Properties of the source parsers, templates and rules, checked with hypothesis.

Whatever arrives, a parser answers with events or a SourceError; a template renders,
or fails with a TemplateError, and never reaches Python's internals; rules parse or
name the field, and evaluating them never raises.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations.rules import RuleError, evaluate, parse_rules
from integrations.sources import opsgenie
from integrations.sources.events import ACTIONS, SEVERITIES, AlertEvent, SourceError
from integrations.sources.registry import PARSERS
from integrations.templating import TemplateError, apply_templates, render
from tests.sources.fixtures import fixture_json, fixture_names

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=6)
        | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=40,
)


def close_by_alias(body: bytes, *, content_type: str = "") -> list[AlertEvent]:
    return opsgenie.parse_close(
        body, identifier="k", identifier_type="alias", content_type=content_type
    )


ALL_PARSERS: dict[str, Callable[..., list[AlertEvent]]] = {
    **PARSERS,
    "opsgenie_close": close_by_alias,
}


def outcome(parse: Callable[..., list[AlertEvent]], body: bytes) -> list[AlertEvent] | None:
    """Events, or None for a SourceError; any other exception fails the property."""
    try:
        events = parse(body)
    except SourceError as exc:
        assert isinstance(exc.field, str) and exc.message
        assert exc.problems[0] == (exc.field, exc.message)
        return None
    for event in events:
        assert event.action in ACTIONS and event.severity in SEVERITIES
        json.dumps(event.to_dict())  # storable as JSON
    return events


@FAST
@given(body=st.binary(max_size=300))
def test_parsers_answer_arbitrary_bytes_with_events_or_a_source_error(body: bytes) -> None:
    for parse in ALL_PARSERS.values():
        outcome(parse, body)


@FAST
@given(value=json_values)
def test_parsers_answer_arbitrary_json_with_events_or_a_source_error(value: Any) -> None:
    body = json.dumps(value).encode()
    for parse in ALL_PARSERS.values():
        outcome(parse, body)


def _fixtures() -> list[tuple[str, str]]:
    return [
        (kind, name)
        for kind in ("pagerduty", "alertmanager", "opsgenie", "webhook")
        for name in fixture_names(kind)
    ]


def _replace_somewhere(data: Any, path: list[int], value: Any) -> Any:
    """``data`` with one nested field (chosen by ``path``) replaced by ``value``."""
    if not path or not isinstance(data, dict | list) or not data:
        return value
    if isinstance(data, dict):
        key = sorted(data)[path[0] % len(data)]
        return {**data, key: _replace_somewhere(data[key], path[1:], value)}
    index = path[0] % len(data)
    copy = list(data)
    copy[index] = _replace_somewhere(data[index], path[1:], value)
    return copy


@FAST
@given(
    fixture=st.sampled_from(_fixtures()),
    path=st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=4),
    value=json_values,
)
def test_a_damaged_real_payload_gives_events_or_names_a_field(
    fixture: tuple[str, str], path: list[int], value: Any
) -> None:
    kind, name = fixture
    damaged = _replace_somewhere(fixture_json(kind, name), path, value)
    body = json.dumps(damaged).encode()
    parse = PARSERS[kind]
    if name in ("close.json", "acknowledge.json", "add_note.json", "alertmanager_close.json"):
        parse = close_by_alias
    outcome(parse, body)


# --- templates ---------------------------------------------------------------------------

ROOTS = [
    "payload",
    "event",
    "''",
    "()",
    "[]",
    "{}",
    "cycler",
    "joiner",
    "namespace",
    "range",
    "regex_extract",
    "self",
    "loop",
    "dict",
]
ATTRIBUTES = [
    "__class__",
    "__mro__",
    "__subclasses__()",
    "__globals__",
    "__builtins__",
    "__init__",
    "__dict__",
    "__code__",
    "__self__",
    "__base__",
    "__bases__",
    "__getattribute__",
    "__reduce_ex__(2)",
    "__import__",
    "_TemplateReference__context",
    "mro()",
    "gi_frame",
    "f_globals",
    "func_globals",
    "environment",
    "items",
    "format",
    "keys()",
]
LEAKS = ("<class", "<module", "<function", "<built-in", "<bound", "mappingproxy", "<frame")


@st.composite
def escape_attempts(draw: st.DrawFn) -> str:
    root = draw(st.sampled_from(ROOTS))
    chain = draw(st.lists(st.sampled_from(ATTRIBUTES), min_size=1, max_size=4))
    style = draw(st.sampled_from(["dot", "subscript", "attr_filter", "format"]))
    if style == "dot":
        return "{{ " + root + "".join(f".{part}" for part in chain) + " }}"
    names = [part.split("(")[0] for part in chain]
    if style == "subscript":
        return "{{ " + root + "".join(f"[{name!r}]" for name in names) + " }}"
    if style == "attr_filter":
        return "{{ " + root + "".join(f" | attr({name!r})" for name in names) + " }}"
    return "{{ '{0." + ".".join(names) + "}'.format(" + root + ") }}"


@FAST
@given(source=escape_attempts())
def test_templates_never_reach_python_internals(source: str) -> None:
    try:
        rendered = render(source, {"payload": {"a": 1}, "event": {"title": "t"}})
    except TemplateError:
        return
    assert not any(leak in rendered for leak in LEAKS), (source, rendered)


@FAST
@given(source=st.text(max_size=120), field=st.sampled_from(["title", "severity", "action"]))
def test_any_template_text_shapes_or_reports_never_raises(source: str, field: str) -> None:
    event = AlertEvent(source="webhook", action="trigger", dedup_key="k", title="t")
    shaped, errors = apply_templates(event, {field: source}, payload={"x": [1, 2]})
    assert shaped.action in ACTIONS and shaped.severity in SEVERITIES
    assert shaped.title
    assert all(isinstance(error, str) for error in errors)


# --- rules ---------------------------------------------------------------------------------


@FAST
@given(data=json_values)
def test_rule_json_parses_or_names_the_field(data: Any) -> None:
    for candidate in (
        data,
        [data],
        [{"name": "r", "when": data}],
        [{"name": "r", "actions": data}],
    ):
        try:
            parse_rules(candidate)
        except RuleError as exc:
            assert isinstance(exc.field, str) and exc.message


clauses = st.fixed_dictionaries(
    {
        "path": st.sampled_from(
            ["payload.a", "payload.b[0]", "payload.c.d", "payload.l[*].x", "event.title"]
        ),
        "op": st.sampled_from(["equals", "not_equals", "contains", "regex", "gt", "lte"]),
        "value": st.one_of(st.text(max_size=5), st.integers(-5, 5)),
    }
)


@FAST
@given(
    rule_clauses=st.lists(clauses, min_size=1, max_size=4),
    match=st.sampled_from(["all", "any"]),
    payload=json_values,
)
def test_evaluating_valid_rules_never_raises(
    rule_clauses: list[dict[str, Any]], match: str, payload: Any
) -> None:
    for clause in rule_clauses:
        if clause["op"] in ("gt", "lte") and not isinstance(clause["value"], int):
            clause["value"] = 1
        if clause["op"] == "regex":
            clause["value"] = "^a"
    rules = parse_rules(
        [
            {
                "name": "r",
                "when": {"match": match, "clauses": rule_clauses},
                "actions": {"title": "{{ payload }}"},
            }
        ]
    )
    event = AlertEvent(source="webhook", action="trigger", dedup_key="k", title="t")
    result = evaluate(rules, event, payload)
    assert result.event is not None
