"""Per-integration rules (integrations.rules)."""

from __future__ import annotations

from typing import Any

import pytest

from integrations.rules import RuleError, evaluate, group_key, parse_rules
from integrations.sources.events import AlertEvent
from integrations.templating import TemplateError

EVENT = AlertEvent(
    source="alertmanager",
    action="trigger",
    dedup_key="9f2c4e1a7b3d5c60",
    title="Disk /data on storage-3 is 91% full",
    severity="warning",
    labels={"team": "storage", "env": "prod", "host": "storage-3"},
    details={"free_gb": 12},
)
PAYLOAD: dict[str, Any] = {
    "status": "firing",
    "alerts": [
        {"labels": {"severity": "warning", "host": "storage-3"}, "value": 91.5},
        {"labels": {"severity": "critical", "host": "storage-4"}, "value": "97"},
    ],
    "flag": True,
    "nothing": None,
}


def rule(name: str = "r", when: Any = None, **actions: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"name": name, "actions": actions}
    if when is not None:
        data["when"] = when
    return data


def clause(path: str, op: str, value: Any = None) -> dict[str, Any]:
    data = {"path": path, "op": op}
    if value is not None:
        data["value"] = value
    return data


def matches(*clauses: dict[str, Any], match: str = "all") -> bool:
    rules = parse_rules([rule(when={"match": match, "clauses": list(clauses)}, drop=True)])
    return evaluate(rules, EVENT, PAYLOAD).dropped


# --- each op -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "op", "value", "expected"),
    [
        ("event.labels.team", "equals", "storage", True),
        ("event.labels.team", "equals", "Storage", False),
        ("event.details.free_gb", "equals", "12", True),  # "12" and 12 are equal
        ("payload.flag", "equals", 1, False),  # true is not 1
        ("payload.flag", "equals", True, True),
        ("payload.missing", "equals", "x", False),
        ("event.labels.team", "not_equals", "network", True),
        ("event.labels.team", "not_equals", "storage", False),
        ("payload.missing", "not_equals", "x", True),
        ("event.title", "contains", "91%", True),
        ("event.title", "contains", "99%", False),
        ("payload.alerts", "contains", "x", False),
        ("event.labels", "contains", "env", True),  # a key of an object
        ("event.title", "regex", r"^Disk \S+ on storage-\d+", True),
        ("event.title", "regex", r"^CPU", False),
        ("payload.alerts[0].value", "regex", r"^91\.", True),  # numbers as text
        ("event.labels.env", "exists", None, True),
        ("payload.nothing", "exists", None, False),  # null does not exist
        ("payload.missing", "not_exists", None, True),
        ("payload.nothing", "not_exists", None, True),
        ("event.labels.env", "not_exists", None, False),
        ("payload.alerts[0].value", "gt", 90, True),
        ("payload.alerts[0].value", "gt", 91.5, False),
        ("payload.alerts[0].value", "gte", 91.5, True),
        ("payload.alerts[1].value", "lt", 98, True),  # "97" read as a number
        ("payload.alerts[1].value", "lte", 96, False),
        ("event.title", "gt", 1, False),  # not a number: no match
        ("payload.alerts[-1].labels.host", "equals", "storage-4", True),
        ("event.severity", "equals", "warning", True),
        ("event.source", "equals", "alertmanager", True),
    ],
)
def test_each_op(path: str, op: str, value: Any, expected: bool) -> None:
    assert matches(clause(path, op, value)) is expected


def test_wildcard_paths_match_when_any_value_does() -> None:
    assert matches(clause("payload.alerts[*].labels.severity", "equals", "critical"))
    assert not matches(clause("payload.alerts[*].labels.severity", "equals", "info"))
    # negated ops hold when none of the values is equal / exists
    assert matches(clause("payload.alerts[*].labels.severity", "not_equals", "info"))
    assert not matches(clause("payload.alerts[*].labels.severity", "not_equals", "warning"))
    assert matches(clause("payload.alerts[*].labels.team", "not_exists"))


def test_all_and_any() -> None:
    yes = clause("event.labels.team", "equals", "storage")
    no = clause("event.labels.team", "equals", "network")
    assert matches(yes, yes) and not matches(yes, no)
    assert matches(yes, no, match="any") and not matches(no, no, match="any")


def test_expression_conditions() -> None:
    rules = parse_rules(
        [
            rule(
                "expr",
                {"expression": "'storage' in event.title and payload.alerts | length > 1"},
                drop=True,
            )
        ]
    )
    assert evaluate(rules, EVENT, PAYLOAD).dropped
    assert not evaluate(rules, EVENT, {"alerts": []}).dropped


def test_a_rule_without_when_matches_everything() -> None:
    outcome = evaluate(parse_rules([rule("catch-all", escalation_policy=3)]), EVENT, {})
    assert (outcome.matched, outcome.escalation_policy) == (("catch-all",), 3)


# --- each action -----------------------------------------------------------------------------


def test_drop_names_the_rule_for_the_inbound_log() -> None:
    outcome = evaluate(parse_rules([rule("Staging noise", drop=True)]), EVENT, PAYLOAD)
    assert outcome.dropped and outcome.event is None
    assert outcome.dropped_by == "Staging noise"
    assert outcome.log_reason == "filtered by rule Staging noise"


def test_set_severity_accepts_any_known_word() -> None:
    outcome = evaluate(parse_rules([rule(severity="P1")]), EVENT, PAYLOAD)
    assert outcome.event is not None and outcome.event.severity == "critical"


def test_title_description_and_dedup_key_from_templates() -> None:
    rules = parse_rules(
        [
            rule(
                title="[{{ event.labels.team }}] {{ event.title }}",
                description="{{ payload.alerts | length }} alerts",
                dedup_key="disk/{{ event.labels.host }}",
            )
        ]
    )
    event = evaluate(rules, EVENT, PAYLOAD).event
    assert event is not None
    assert event.title == "[storage] Disk /data on storage-3 is 91% full"
    assert event.description == "2 alerts"
    assert event.dedup_key == "disk/storage-3"


def test_route_to_an_escalation_policy() -> None:
    outcome = evaluate(parse_rules([rule(escalation_policy=12)]), EVENT, PAYLOAD)
    assert outcome.escalation_policy == 12


def test_resolve_when_turns_the_event_into_a_resolve() -> None:
    rules = parse_rules(
        [rule(when={"clauses": [clause("payload.status", "equals", "firing")]}, resolve=True)]
    )
    event = evaluate(rules, EVENT, PAYLOAD).event
    assert event is not None and event.action == "resolve"


def test_annotate_only_never_pages() -> None:
    outcome = evaluate(parse_rules([rule(annotate_only=True)]), EVENT, PAYLOAD)
    assert outcome.annotate_only
    assert outcome.event is not None and outcome.event.action == "annotate"


# --- ordering and continue ------------------------------------------------------------------


def test_first_match_wins() -> None:
    rules = parse_rules([rule("first", severity="info"), rule("second", severity="critical")])
    outcome = evaluate(rules, EVENT, PAYLOAD)
    assert outcome.matched == ("first",)
    assert outcome.event is not None and outcome.event.severity == "info"


def test_continue_lets_later_rules_see_the_changed_event() -> None:
    rules = parse_rules(
        [
            {**rule("tag", title="DB: {{ event.title }}"), "continue": True},
            rule("not me", when={"clauses": [clause("event.title", "contains", "nope")]}),
            rule("route", when={"clauses": [clause("event.title", "regex", "^DB: ")]}, drop=True),
        ]
    )
    outcome = evaluate(rules, EVENT, PAYLOAD)
    assert outcome.matched == ("tag", "route")
    assert outcome.dropped_by == "route"


def test_the_last_routing_rule_with_continue_chooses_the_policy() -> None:
    rules = parse_rules(
        [
            {**rule("a", escalation_policy=1), "continue": True},
            {**rule("b", escalation_policy=2), "continue": True},
            rule("c", severity="info"),
        ]
    )
    assert evaluate(rules, EVENT, PAYLOAD).escalation_policy == 2


def test_disabled_rules_are_skipped() -> None:
    rules = parse_rules([{**rule("off", drop=True), "enabled": False}])
    outcome = evaluate(rules, EVENT, PAYLOAD)
    assert not outcome.dropped and outcome.matched == ()
    assert outcome.event == EVENT


def test_no_rules_leave_the_event_as_it_is() -> None:
    assert evaluate((), EVENT, PAYLOAD).event == EVENT


# --- errors while evaluating -----------------------------------------------------------------


def test_a_failing_expression_does_not_match_and_is_reported() -> None:
    rules = parse_rules(
        [rule("broken", {"expression": "payload.count + 1 > 0"}, drop=True), rule("next")]
    )
    outcome = evaluate(rules, EVENT, {})
    assert not outcome.dropped
    assert outcome.matched == ("next",)
    assert outcome.errors == (
        "rule 'broken': 'dict object' has no attribute 'count'; treated as not matching",
    )


def test_a_slow_pattern_does_not_match_and_is_reported() -> None:
    rules = parse_rules(
        [rule("slow", {"clauses": [clause("payload.text", "regex", r"(\w+\s?)+$")]}, drop=True)]
    )
    outcome = evaluate(rules, EVENT, {"text": "a" * 5000 + "!"})
    assert not outcome.dropped
    assert "took too long" in outcome.errors[0]


def test_a_failing_action_template_keeps_the_field() -> None:
    rules = parse_rules([rule(title="{{ payload.n + 1 }}", severity="critical")])
    outcome = evaluate(rules, EVENT, {})
    assert outcome.event is not None
    assert outcome.event.title == EVENT.title
    assert outcome.event.severity == "critical"
    assert outcome.errors[0].startswith("rule 'r': title: 'dict object' has no attribute 'n'")


# --- parsing errors name the field -------------------------------------------------------------


@pytest.mark.parametrize(
    ("rules", "field", "words"),
    [
        ({"name": "x"}, "rules", "must be a list"),
        ([{"name": "x"}] * 101, "rules", "at most 100"),
        (["x"], "rules[0]", "must be an object"),
        ([{"actions": {}}], "rules[0].name", "is required"),
        ([{"name": "a"}, {"name": "a"}], "rules[1].name", "already the name of rules[0]"),
        ([{"name": "x", "colour": "red"}], "rules[0].colour", "unknown field"),
        ([{"name": "x", "continue": "yes"}], "rules[0].continue", "true or false"),
        ([rule(when={"match": "some"})], "rules[0].when.match", "not one of all, any"),
        ([rule(when={"clauses": {}})], "rules[0].when.clauses", "must be a list"),
        (
            [rule(when={"clauses": [clause("event.title", "equals", "x")], "expression": "1"})],
            "rules[0].when.expression",
            "not both",
        ),
        (
            [rule(when={"clauses": [clause("headers.x", "equals", "y")]})],
            "rules[0].when.clauses[0].path",
            "must start with payload. or event.",
        ),
        (
            [rule(when={"clauses": [clause("payload.a[", "equals", "y")]})],
            "rules[0].when.clauses[0].path",
            "cannot read the path",
        ),
        (
            [rule(when={"clauses": [clause("payload.a", "like", "y")]})],
            "rules[0].when.clauses[0].op",
            "'like' is not one of",
        ),
        (
            [rule(when={"clauses": [clause("payload.a", "equals")]})],
            "rules[0].when.clauses[0].value",
            "equals needs a value",
        ),
        (
            [rule(when={"clauses": [clause("payload.a", "exists", "y")]})],
            "rules[0].when.clauses[0].value",
            "exists takes no value",
        ),
        (
            [rule(when={"clauses": [clause("payload.a", "gt", "5")]})],
            "rules[0].when.clauses[0].value",
            "gt needs a number",
        ),
        (
            [rule(when={"clauses": [clause("payload.a", "regex", "(")]})],
            "rules[0].when.clauses[0].value",
            "invalid pattern",
        ),
        (
            [rule(when={"clauses": [{**clause("payload.a", "exists"), "negate": True}]})],
            "rules[0].when.clauses[0].negate",
            "unknown field",
        ),
        ([rule(when={"expression": "payload.("})], "rules[0].when.expression", "syntax error"),
        ([rule(drop=True, severity="info")], "rules[0].actions.drop", "cannot be combined"),
        (
            [rule(resolve=True, annotate_only=True)],
            "rules[0].actions.resolve",
            "cannot be combined",
        ),
        ([rule(severity="urgent")], "rules[0].actions.severity", "'urgent' is not one of"),
        ([rule(escalation_policy="7")], "rules[0].actions.escalation_policy", "id"),
        ([rule(escalation_policy=True)], "rules[0].actions.escalation_policy", "id"),
        ([rule(title="{% if %}")], "rules[0].actions.title", "syntax error"),
        ([rule(dedup_key=5)], "rules[0].actions.dedup_key", "must be a template"),
        ([rule(drop="yes")], "rules[0].actions.drop", "true or false"),
    ],
)
def test_invalid_rules_name_the_field(rules: Any, field: str, words: str) -> None:
    with pytest.raises(RuleError) as caught:
        parse_rules(rules)
    assert caught.value.field == field
    assert words in caught.value.message
    assert str(caught.value).startswith(f"{field}: ")


# --- grouping ------------------------------------------------------------------------------------


def test_group_key_renders_the_template() -> None:
    assert group_key("{{ event.labels.team }}/{{ payload.status }}", EVENT, PAYLOAD) == (
        "storage/firing"
    )


def test_group_key_refuses_an_empty_key() -> None:
    with pytest.raises(TemplateError, match="group_key: rendered empty"):
        group_key("{{ event.labels.nothing }}", EVENT, PAYLOAD)
