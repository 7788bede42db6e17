"""Sandboxed alert templates (integrations.templating)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from integrations.sources.events import AlertEvent
from integrations.template_sandbox import limits
from integrations.templating import (
    MAX_OUTPUT_CHARS,
    MAX_SOURCE_CHARS,
    TemplateError,
    apply_templates,
    compile_template,
    evaluate_expression,
    render,
    sns_template_context,
    validate_templates,
)
from tests.sources.fixtures import FIXTURES

PAYLOAD: dict[str, Any] = {
    "message": "CRITICAL host=db-7 disk=/data at 97%",
    "alert": {"labels": {"team": "storage", "severity": "page"}, "ids": [11, 22, 33]},
    "fired_at": 1770786000,
    "fired_at_ms": 1770786000123,
    "when": "2026-02-11T05:00:00+01:00",
    "empty": None,
    "things": [{"name": "a"}, {"name": "b"}],
    "dotted": {"a.b": "dot"},
}
EVENT = AlertEvent(
    source="webhook", action="trigger", dedup_key="raw-key", title="Raw title", severity="error"
)


def out(source: str, payload: Any = PAYLOAD) -> str:
    return render(source, {"payload": payload, "event": EVENT.to_dict()})


def error(source: str, payload: Any = PAYLOAD, **kwargs: Any) -> TemplateError:
    with pytest.raises(TemplateError) as caught:
        render(source, {"payload": payload, "event": EVENT.to_dict()}, **kwargs)
    return caught.value


# --- helpers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (r"{{ regex_extract(payload.message, 'host=(\\S+)') }}", "db-7"),
        (r"{{ payload.message | regex_extract('disk=(\\S+) at (\\d+)%', 2) }}", "97"),
        (r"{{ regex_extract(payload.message, 'host=(?P<h>\\S+)', 'h') }}", "db-7"),
        (r"{{ regex_extract(payload.message, 'CRIT\\w+') }}", "CRITICAL"),  # no group: all
        (r"{{ regex_extract(payload.message, 'nothing=(\\d+)') }}", ""),
        (r"{{ regex_extract(payload.missing, '(x)') }}", ""),
    ],
)
def test_regex_extract(source: str, expected: str) -> None:
    assert out(source) == expected


def test_regex_extract_reports_a_bad_pattern() -> None:
    assert "invalid pattern" in error("{{ regex_extract(payload.message, '(') }}").message


def test_regex_extract_stops_a_catastrophic_pattern() -> None:
    started = time.monotonic()
    failure = error(
        r"{{ regex_extract(payload.text, '(\\w+\\s?)+$') }}", {"text": "a" * 5000 + "!"}
    )
    assert "took too long" in failure.message
    assert time.monotonic() - started < 1


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ json_path(payload, '$.alert.labels.team') }}", "storage"),
        ("{{ json_path(payload, 'alert.ids[-1]') }}", "33"),
        ("{{ payload | json_path('$.things[*].name') | join(',') }}", "a,b"),
        ("{{ json_path(payload, \"$.dotted['a.b']\") }}", "dot"),
        ("{{ json_path(payload, '$.alert.nothing[3]') is none }}", "True"),
    ],
)
def test_json_path(source: str, expected: str) -> None:
    assert out(source) == expected


def test_json_path_reports_a_bad_path() -> None:
    assert "invalid path" in error("{{ json_path(payload, '$.a[') }}").message


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ iso(payload.fired_at) }}", "2026-02-11T05:00:00Z"),
        ("{{ payload.fired_at_ms | timestamp_to_iso }}", "2026-02-11T05:00:00.123000Z"),
        ("{{ timestamp_to_iso('1770786000') }}", "2026-02-11T05:00:00Z"),
        ("{{ payload.when | iso }}", "2026-02-11T04:00:00Z"),
        ("{{ iso('soon') }}", ""),
        ("{{ timestamp_to_iso(payload.when) }}", ""),
        ("{{ format_time(payload.fired_at, '%H:%M') }}", "05:00"),
        ("{{ format_time(payload.fired_at, '%H:%M %Z', 'Europe/Paris') }}", "06:00 CET"),
        ("{{ payload.when | format_time('%Y-%m-%d') }}", "2026-02-11"),
        ("{{ parse_time(payload.fired_at).year }}", "2026"),
    ],
)
def test_time_helpers(source: str, expected: str) -> None:
    assert out(source) == expected


def test_format_time_reports_an_unknown_zone() -> None:
    assert "unknown time zone" in error("{{ format_time(1, '%H', 'Mars/Olympus') }}").message


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ truncate(payload.message, 8) }}", "CRITICA…"),
        ("{{ payload.message | truncate(8, '...') }}", "CRITI..."),
        ("{{ 'short' | truncate(8) }}", "short"),
        ("{{ default(payload.missing, 'none given') }}", "none given"),
        ("{{ payload.empty | default('was null') }}", "was null"),
        ("{{ '' | default('blank', true) }}", "blank"),
        ("{{ '' | default('blank') }}", ""),
    ],
)
def test_truncate_and_default(source: str, expected: str) -> None:
    assert out(source) == expected


def test_missing_keys_render_empty_at_any_depth() -> None:
    assert out("[{{ payload.no.such.key }}][{{ payload.alert.labels.nope }}]") == "[][]"


def test_errors_on_missing_values_name_the_template_and_line() -> None:
    with pytest.raises(TemplateError) as caught:
        render("line one\n{{ payload.count + 1 }}", {"payload": {}}, name="title")
    assert caught.value.template_name == "title"
    assert str(caught.value) == "title: 'dict object' has no attribute 'count' (line 2)"


def test_syntax_errors_name_the_line() -> None:
    with pytest.raises(TemplateError, match=r"title: syntax error on line 2"):
        compile_template("ok\n{{ payload. }}", "title")


def test_output_is_plain_text_not_html_escaped() -> None:
    assert out("{{ '<b>&' }}") == "<b>&"


def test_compiled_templates_are_cached() -> None:
    assert compile_template("{{ payload.x }} cached") is compile_template("{{ payload.x }} cached")


def test_expressions_evaluate_to_values() -> None:
    context = {"payload": PAYLOAD, "event": EVENT.to_dict()}
    assert evaluate_expression("payload.fired_at > 5 and 'db-7' in payload.message", context)
    assert evaluate_expression("payload.not_there", context) is None


# --- the sandbox ----------------------------------------------------------------------

ESCAPES = [
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ().__class__.__bases__[0].__subclasses__() }}",
    "{{ payload.__class__.__init__.__globals__ }}",
    "{{ payload.items.__self__ }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ range.__globals__ }}",
    "{{ regex_extract.__globals__ }}",
    "{{ payload | attr('__class__') }}",
    "{{ '{0.__class__}'.format(payload) }}",
    "{{ self._TemplateReference__context }}",
    "{{ 'x'.translate({}) }}",
    "{{ 'x'.encode() }}",
    "{{ payload.update({'a': 1}) }}",
    "{{ payload.items.append(1) }}",
    "{% set x = payload.alert.ids.pop() %}{{ x }}",
    "{% include '/etc/passwd' %}",
    "{% import 'os' as os %}",
    "{% extends 'base.html' %}",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_sandbox_escapes_are_refused_with_an_error(source: str) -> None:
    failure = error(source)
    refusals = ("not allowed", "not available", "may not", "has no attribute")
    assert any(words in failure.message for words in refusals), failure.message


def test_payload_keys_that_look_private_are_still_readable_by_subscript() -> None:
    assert out("{{ payload['__class__'] }}", {"__class__": "just data"}) == "just data"


def test_lists_and_dicts_stay_unmodified() -> None:
    data = {"ids": [1, 2]}
    with pytest.raises(TemplateError):
        render("{{ payload.ids.append(3) }}", {"payload": data})
    assert data == {"ids": [1, 2]}


# --- bounded work -------------------------------------------------------------------------

HOSTILE = [
    ("{% for i in range(10**9) %}{% endfor %}", "range() is limited"),
    ("{{ range(10**30) | list }}", "range() is limited"),
    ("{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}", "loops"),
    ("{% for a in payload %}{% for b in payload %}{% endfor %}{% endfor %}", "loops"),
    ("{{ 'a' * 10**9 }}", "over 1000000 characters"),
    ("{{ [1, 2] * 10**8 }}", "over 1000000 characters"),
    ("{{ 10 ** 100000 }}", "number that large"),
    ("{{ 'x'.center(10**9) }}", "width"),
    ("{{ 'x'.zfill(10**9) }}", "width"),
    ("{{ 'x' | center(10**9) }}", "width"),
    ("{{ '%0999999999d' % 1 }}", "width"),
    ("{{ '%*d' % (999999999, 1) }}", "'*' widths"),
    ("{{ '{:>999999999}'.format(1) }}", "width"),
    ("{{ '{:>{w}}'.format(1, w=999999999) }}", "nested fields"),
    ("{{ '%09999999d' | format(1) }}", "width"),
    ("{{ ('y' * 100000).join(range(10000) | map('string')) }}", "over 1000000"),
    ("{{ range(10000) | map('string') | join('y' * 100000) }}", "over 1000000"),
    ("{{ ('x' * 1000) | replace('', 'y' * 1000) }}", "over 1000000"),
    ("{{ ('x' * 1000).replace('', 'y' * 1000) }}", "over 1000000"),
    ("{{ ('\n' * 100000) | indent(100) }}", "over 1000000"),
    (
        "{% set ns = namespace(s='ab') %}{% for i in range(40) %}"
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        "over the 1000000 limit",
    ),
    ("{% for i in range(5000) %}0123456789{% endfor %}", f"longer than {MAX_OUTPUT_CHARS}"),
    ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "recursion"),
    ("{{ lipsum(10**6) }}", "undefined"),
]


@pytest.mark.parametrize(("source", "words"), HOSTILE)
def test_hostile_templates_are_stopped_quickly(source: str, words: str) -> None:
    started = time.monotonic()
    failure = error(source, list(range(2000)))
    assert words in failure.message
    assert time.monotonic() - started < 1


def test_the_wall_clock_limit_stops_exponential_recursion() -> None:
    started = time.monotonic()
    failure = error(
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
        "{{ f(40) }}",
        time_limit=0.02,
    )
    assert failure.message.startswith("took longer than 20 ms")
    assert time.monotonic() - started < 0.5


def test_source_size_is_capped() -> None:
    with pytest.raises(TemplateError, match=f"at most {MAX_SOURCE_CHARS}"):
        compile_template("x" * (MAX_SOURCE_CHARS + 1), "title")


def test_ordinary_loops_still_work() -> None:
    source = "{% for item in payload.things %}{{ loop.index }}:{{ item.name }}{% endfor %}"
    assert out(source) == "1:a2:b"


# --- shaping events ---------------------------------------------------------------------


def test_apply_templates_shapes_every_field() -> None:
    templates = {
        "title": r"{{ regex_extract(payload.message, 'host=(\\S+)') }} disk almost full",
        "description": "Team {{ payload.alert.labels.team }}",
        "dedup_key": "disk/{{ payload.alert.labels.team }}",
        "severity": "{{ payload.alert.labels.severity }}",
        "action": "{{ 'resolved' if payload.ok else 'firing' }}",
    }
    event, errors = apply_templates(EVENT, templates, payload=PAYLOAD)
    assert errors == []
    assert (event.title, event.description, event.dedup_key, event.severity, event.action) == (
        "db-7 disk almost full",
        "Team storage",
        "disk/storage",
        "critical",
        "trigger",
    )


def test_templates_see_the_parsed_event() -> None:
    event, _ = apply_templates(
        EVENT, {"title": "[{{ event.source }}] {{ event.title }}"}, payload={}
    )
    assert event.title == "[webhook] Raw title"


def test_a_failing_template_keeps_the_raw_field_and_reports() -> None:
    event, errors = apply_templates(
        EVENT,
        {"title": "{{ payload.count + 1 }}", "description": "ok"},
        payload={},
    )
    assert event.title == "Raw title"
    assert event.description == "ok"
    assert errors == [
        "title: 'dict object' has no attribute 'count' (line 1); kept the original title"
    ]


@pytest.mark.parametrize(
    ("templates", "words"),
    [
        ({"title": "{{ payload.nothing }}"}, "title: rendered empty; kept 'Raw title'"),
        ({"dedup_key": "  "}, "dedup_key: rendered empty; kept 'raw-key'"),
        ({"severity": "apocalyptic"}, "severity: rendered 'apocalyptic', not one of"),
        ({"action": "explode"}, "action: rendered 'explode', not one of"),
        ({"priority": "P1"}, "priority: not a template field; ignored"),
    ],
)
def test_unusable_results_keep_the_raw_field(templates: dict[str, str], words: str) -> None:
    event, errors = apply_templates(EVENT, templates, payload={})
    assert event == EVENT
    assert len(errors) == 1 and errors[0].startswith(words)


def test_an_empty_description_is_a_value() -> None:
    event = AlertEvent(
        source="webhook", action="trigger", dedup_key="k", title="t", description="d"
    )
    shaped, errors = apply_templates(event, {"description": "{{ payload.none }}"}, payload={})
    assert (shaped.description, errors) == ("", [])


def test_long_dedup_keys_from_templates_are_hashed() -> None:
    event, _ = apply_templates(EVENT, {"dedup_key": "{{ 'k' * 600 }}"}, payload={})
    assert event.dedup_key.startswith("sha256:")


def test_validate_templates_names_the_broken_key() -> None:
    assert validate_templates({"title": "{{ payload.x }}", "description": ""}) == {
        "title": "{{ payload.x }}"
    }
    with pytest.raises(TemplateError) as caught:
        validate_templates({"title": "ok", "severity": "{% if %}"})
    assert caught.value.template_name == "severity"
    with pytest.raises(TemplateError) as caught:
        validate_templates({"titel": "x"})
    assert caught.value.template_name == "titel"
    with pytest.raises(TemplateError):
        validate_templates(["title"])


def test_sns_templates_see_the_envelope_with_its_message_parsed() -> None:
    envelope = json.loads(
        (FIXTURES / "cloudwatch" / "sns_envelope_cloudtrail_changes_alarm.json").read_text()
    )
    payload = sns_template_context(envelope)
    assert payload["TopicArn"] == envelope["TopicArn"]
    rendered = render(
        "{{ payload.message.AlarmName }} is {{ payload.message.NewStateValue }}",
        {"payload": payload},
    )
    assert rendered == "CloudTrailChanges is ALARM"
    assert envelope["Message"].startswith("{")  # the envelope itself is not changed


def test_sns_text_messages_stay_text() -> None:
    assert sns_template_context({"Message": "plain words"})["message"] == "plain words"
    assert sns_template_context({"Message": "{not json"})["message"] == "{not json"


def test_time_helpers_accept_datetimes() -> None:
    moment = datetime(2026, 2, 11, 5, 0, tzinfo=UTC)
    assert render("{{ iso(t) }}", {"t": moment}) == "2026-02-11T05:00:00Z"


def test_json_keys_win_over_dict_methods() -> None:
    payload = {"alert": {"values": {"A": 91.5}, "items": 3}}
    assert out("{{ payload.alert.values.A }} {{ payload.alert.items }}", payload) == "91.5 3"


def test_printing_a_function_is_an_error_not_its_repr() -> None:
    assert "is a function" in error("{{ payload.keys }}").message
    assert out("{{ payload.alert.keys() | list | length }}") == "2"


def test_time_spent_waiting_for_a_cpu_does_not_fail_a_template() -> None:
    with limits(0.01) as allowance:
        time.sleep(0.03)  # descheduled: no CPU used by this thread
        allowance.check()  # not the template's fault: no error
        spin_until = time.thread_time() + 0.02
        while time.thread_time() < spin_until:  # the template's own work
            pass
        with pytest.raises(TemplateError, match="took longer than 10 ms"):
            allowance.check()


def test_waiting_never_stretches_the_limit_past_ten_times() -> None:
    with limits(0.01) as allowance:
        time.sleep(0.11)
        with pytest.raises(TemplateError, match="took longer"):
            allowance.check()
