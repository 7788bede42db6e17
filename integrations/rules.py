"""Per-integration rules: ordered conditions over an alert that drop, shape or route it.

A rule set is a JSON list (it comes from ``/api/v1/integrations/<id>/rules/``)::

    [{"name": "Staging is noise",
      "when": {"match": "all",
               "clauses": [{"path": "event.labels.env", "op": "equals", "value": "staging"}]},
      "actions": {"drop": true}},
     {"name": "Database pages the DBAs",
      "when": {"expression": "'db' in event.title and payload.level >= 3"},
      "actions": {"severity": "critical", "escalation_policy": 7}, "continue": true}]

``when`` is either clauses (``path`` into ``payload.…`` or ``event.…``; ``op`` one of
equals, not_equals, contains, regex, exists, not_exists, gt, gte, lt, lte; combined with
``match`` "all" or "any") or one sandboxed Jinja ``expression`` that must be truthy; a
rule without ``when`` matches everything. ``actions``: ``drop``; ``severity``; ``title``,
``description`` and ``dedup_key`` templates; ``escalation_policy`` (an id);
``resolve`` (turn the event into a resolve); ``annotate_only`` (record it, never page).
Rules run in order and the first match wins, unless it says ``"continue": true``.

:func:`parse_rules` validates the JSON once (errors name the field, e.g.
``rules[1].when.clauses[0].op``); :func:`evaluate` is pure and cheap: paths, patterns
and templates are compiled when parsed. A rule that fails while evaluating (a pattern
timing out, a template error) does not match and reports why; it never drops an alert.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args

import regex

from integrations.jsonpath import MISSING, WILDCARD, PathError, Step, parse_path, resolve
from integrations.sources.events import (
    SEVERITIES,
    AlertEvent,
    Severity,
    bounded_key,
    parse_severity,
)
from integrations.templating import (
    REGEX_TIMEOUT_SECONDS,
    TemplateError,
    compile_expression,
    compile_template,
    evaluate_expression,
    render,
    shape_field,
    template_context,
)

__all__ = [
    "OPS",
    "Clause",
    "Condition",
    "Rule",
    "RuleActions",
    "RuleError",
    "RuleOutcome",
    "evaluate",
    "group_key",
    "parse_rule",
    "parse_rules",
]

Op = Literal[
    "equals", "not_equals", "contains", "regex", "exists", "not_exists", "gt", "gte", "lt", "lte"
]
Match = Literal["all", "any"]
OPS: Final[tuple[Op, ...]] = get_args(Op)
MATCHES: Final[tuple[Match, ...]] = get_args(Match)
_VALUELESS_OPS: Final = frozenset({"exists", "not_exists"})
_NUMERIC_OPS: Final[dict[str, Callable[[float, float], bool]]] = {
    "gt": lambda found, value: found > value,
    "gte": lambda found, value: found >= value,
    "lt": lambda found, value: found < value,
    "lte": lambda found, value: found <= value,
}
# Ops that hold when no found value has the property (see Clause).
_NEGATED_OPS: Final = frozenset({"not_equals", "not_exists"})
ROOTS: Final = ("payload", "event")

MAX_RULES: Final = 100
MAX_CLAUSES: Final = 20
MAX_NAME_LENGTH: Final = 100
MAX_PATTERN_LENGTH: Final = 1000
_RULE_KEYS: Final = frozenset({"name", "when", "actions", "continue", "enabled"})
_WHEN_KEYS: Final = frozenset({"match", "clauses", "expression"})
_CLAUSE_KEYS: Final = frozenset({"path", "op", "value"})
_ACTION_KEYS: Final = frozenset(
    {
        "drop",
        "severity",
        "title",
        "description",
        "dedup_key",
        "escalation_policy",
        "resolve",
        "annotate_only",
    }
)


class RuleError(ValueError):
    """A rule that cannot be used, with the dotted path of the offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message

    def within(self, prefix: str) -> RuleError:
        return RuleError(f"{prefix}.{self.field}" if self.field else prefix, self.message)


@dataclass(frozen=True, slots=True)
class Clause:
    """``path`` ``op`` ``value``, e.g. ``event.labels.team equals "db"``.

    A path with a wildcard (``payload.alerts[*].labels.severity``) finds several values:
    the clause holds when any of them satisfies ``op``, and for not_equals / not_exists
    when none of them is equal / exists.
    """

    path: str
    op: Op
    value: Any = None
    root: str = field(init=False, repr=False, compare=False)
    steps: tuple[Step, ...] = field(init=False, repr=False, compare=False)
    pattern: regex.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.path, str) or not self.path.strip():
            raise RuleError("path", "is required: payload.<field> or event.<field>")
        try:
            steps = parse_path(self.path)
        except PathError as exc:
            raise RuleError("path", f"{exc} (position {exc.position})") from None
        if not steps or steps[0] not in ROOTS:
            raise RuleError("path", "must start with payload. or event.")
        if self.op not in OPS:
            raise RuleError("op", f"{self.op!r} is not one of {', '.join(OPS)}")
        object.__setattr__(self, "root", steps[0])
        object.__setattr__(self, "steps", steps[1:])
        object.__setattr__(self, "pattern", _check_value(self.op, self.value))

    def holds(self, payload: Any, event_view: Mapping[str, Any]) -> bool:
        found = resolve(payload if self.root == "payload" else event_view, self.steps)
        if WILDCARD not in self.steps:
            return self._test(found)
        values = found if isinstance(found, list) else []
        if self.op in _NEGATED_OPS:
            return all(self._test(item) for item in values)
        return any(self._test(item) for item in values)

    def _test(self, found: Any) -> bool:
        op = self.op
        if op == "exists":
            return found is not MISSING and found is not None
        if op == "not_exists":
            return found is MISSING or found is None
        if found is MISSING:
            return op == "not_equals"
        if op == "equals":
            return _equal(found, self.value)
        if op == "not_equals":
            return not _equal(found, self.value)
        if op == "contains":
            return _contains(found, self.value)
        if op == "regex":
            return self._search(found)
        number = _number(found)
        return number is not None and _NUMERIC_OPS[op](number, float(self.value))

    def _search(self, found: Any) -> bool:
        assert self.pattern is not None
        if isinstance(found, list):
            return any(self._search(item) for item in found)
        if isinstance(found, dict) or found is None:
            return False
        text = found if isinstance(found, str) else _scalar_text(found)
        try:
            return self.pattern.search(text, timeout=REGEX_TIMEOUT_SECONDS) is not None
        except TimeoutError:
            raise TemplateError(
                f"the pattern {self.value!r} took too long on {self.path}", "regex"
            ) from None


@dataclass(frozen=True, slots=True)
class Condition:
    """Clauses combined with ``match`` (all/any), or one expression; empty matches all."""

    match: Match = "all"
    clauses: tuple[Clause, ...] = ()
    expression: str = ""

    def __post_init__(self) -> None:
        if self.match not in MATCHES:
            raise RuleError("match", f"{self.match!r} is not one of all, any")
        if self.clauses and self.expression:
            raise RuleError("expression", "use clauses or an expression, not both")
        if self.expression:
            try:
                compile_expression(self.expression, "expression")
            except TemplateError as exc:
                raise RuleError("expression", exc.message) from None

    def holds(self, payload: Any, event_view: Mapping[str, Any]) -> bool:
        if self.expression:
            context = {"payload": payload, "event": event_view}
            return bool(evaluate_expression(self.expression, context, name="expression"))
        if not self.clauses:
            return True
        results = (clause.holds(payload, event_view) for clause in self.clauses)
        return all(results) if self.match == "all" else any(results)


@dataclass(frozen=True, slots=True)
class RuleActions:
    """What a matching rule does. Templates are Jinja sources, compiled when parsed."""

    drop: bool = False
    severity: Severity | None = None
    title: str = ""
    description: str = ""
    dedup_key: str = ""
    escalation_policy: int | None = None
    resolve: bool = False
    annotate_only: bool = False

    def __post_init__(self) -> None:
        changes = self.changes_anything()
        if self.drop and changes:
            raise RuleError("drop", "cannot be combined with other actions")
        if self.resolve and self.annotate_only:
            raise RuleError("resolve", "cannot be combined with annotate_only")
        for name in ("title", "description", "dedup_key"):
            source = getattr(self, name)
            if source:
                try:
                    compile_template(source, name)
                except TemplateError as exc:
                    raise RuleError(name, exc.message) from None

    def changes_anything(self) -> bool:
        return bool(
            self.severity
            or self.title
            or self.description
            or self.dedup_key
            or self.escalation_policy is not None
            or self.resolve
            or self.annotate_only
        )


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    when: Condition = Condition()
    actions: RuleActions = RuleActions()
    continue_: bool = False
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """What the rules made of one event.

    ``event`` is None when a rule dropped it (``dropped_by`` names the rule, for the
    Inbound Log). ``escalation_policy`` is the id chosen by the last matching rule that
    routes; ``annotate_only`` means record the event and never page.
    """

    event: AlertEvent | None
    matched: tuple[str, ...] = ()
    dropped_by: str | None = None
    escalation_policy: int | None = None
    annotate_only: bool = False
    errors: tuple[str, ...] = ()

    @property
    def dropped(self) -> bool:
        return self.event is None

    @property
    def log_reason(self) -> str:
        """The Inbound Log's words for a dropped event, "" otherwise."""
        return f"filtered by rule {self.dropped_by}" if self.dropped_by else ""


# --- parsing ------------------------------------------------------------------------------


def parse_rules(data: Any) -> tuple[Rule, ...]:
    """A rule list from JSON; raises RuleError naming the field (``rules[2].actions.drop``)."""
    if not isinstance(data, list):
        raise RuleError("rules", "must be a list of rules")
    if len(data) > MAX_RULES:
        raise RuleError("rules", f"has {len(data)} rules; at most {MAX_RULES} are allowed")
    rules: list[Rule] = []
    first_use: dict[str, int] = {}
    for index, item in enumerate(data):
        where = f"rules[{index}]"
        try:
            rule = parse_rule(item)
        except RuleError as exc:
            raise exc.within(where) from None
        if rule.name in first_use:
            raise RuleError(
                f"{where}.name",
                f"{rule.name!r} is already the name of rules[{first_use[rule.name]}]",
            )
        first_use[rule.name] = index
        rules.append(rule)
    return tuple(rules)


def parse_rule(data: Any) -> Rule:
    """One rule from JSON; RuleError fields are relative to the rule (``when.match``)."""
    _check_keys(data, _RULE_KEYS)
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise RuleError("name", "is required")
    if len(name) > MAX_NAME_LENGTH:
        raise RuleError("name", f"is longer than {MAX_NAME_LENGTH} characters")
    return Rule(
        name=name.strip(),
        when=_parse_condition(data.get("when")),
        actions=_parse_actions(data.get("actions")),
        continue_=_flag(data, "continue"),
        enabled=_flag(data, "enabled", default=True),
    )


def _parse_condition(data: Any) -> Condition:
    if data is None:
        return Condition()
    try:
        _check_keys(data, _WHEN_KEYS)
        clauses_data = data.get("clauses", [])
        if not isinstance(clauses_data, list):
            raise RuleError("clauses", "must be a list")
        if len(clauses_data) > MAX_CLAUSES:
            raise RuleError("clauses", f"has more than {MAX_CLAUSES} clauses")
        clauses = []
        for index, clause in enumerate(clauses_data):
            try:
                _check_keys(clause, _CLAUSE_KEYS)
                clauses.append(Clause(clause.get("path"), clause.get("op"), clause.get("value")))
            except RuleError as exc:
                raise exc.within(f"clauses[{index}]") from None
        expression = data.get("expression", "")
        if not isinstance(expression, str):
            raise RuleError("expression", "must be text")
        return Condition(
            match=data.get("match", "all"), clauses=tuple(clauses), expression=expression
        )
    except RuleError as exc:
        raise exc.within("when") from None


def _parse_actions(data: Any) -> RuleActions:
    if data is None:
        return RuleActions()
    try:
        _check_keys(data, _ACTION_KEYS)
        severity = data.get("severity")
        if severity is not None and parse_severity(severity) is None:
            raise RuleError("severity", f"{severity!r} is not one of {', '.join(SEVERITIES)}")
        policy = data.get("escalation_policy")
        if policy is not None and (
            isinstance(policy, bool) or not isinstance(policy, int) or policy < 1
        ):
            raise RuleError("escalation_policy", "must be an escalation policy id (a number)")
        texts = {}
        for name in ("title", "description", "dedup_key"):
            value = data.get(name, "")
            if not isinstance(value, str):
                raise RuleError(name, "must be a template (text)")
            texts[name] = value
        return RuleActions(
            drop=_flag(data, "drop"),
            severity=parse_severity(severity) if severity is not None else None,
            escalation_policy=policy,
            resolve=_flag(data, "resolve"),
            annotate_only=_flag(data, "annotate_only"),
            **texts,
        )
    except RuleError as exc:
        raise exc.within("actions") from None


def _check_keys(data: Any, allowed: frozenset[str]) -> None:
    if not isinstance(data, dict):
        raise RuleError("", "must be an object")
    unknown = sorted(str(key) for key in data if key not in allowed)
    if unknown:
        raise RuleError(unknown[0], f"unknown field; expected one of {', '.join(sorted(allowed))}")


def _flag(data: dict[str, Any], name: str, *, default: bool = False) -> bool:
    value = data.get(name, default)
    if not isinstance(value, bool):
        raise RuleError(name, "must be true or false")
    return value


def _check_value(op: str, value: Any) -> regex.Pattern[str] | None:
    """Validate a clause's value for its op; the compiled pattern for regex clauses."""
    if op in _VALUELESS_OPS:
        if value is not None:
            raise RuleError("value", f"{op} takes no value")
        return None
    if value is None:
        raise RuleError("value", f"{op} needs a value")
    if op in _NUMERIC_OPS:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise RuleError("value", f"{op} needs a number")
        return None
    if isinstance(value, dict | list):
        raise RuleError("value", "must be text, a number, true or false")
    if op != "regex":
        return None
    if not isinstance(value, str) or len(value) > MAX_PATTERN_LENGTH:
        raise RuleError("value", f"must be a pattern of at most {MAX_PATTERN_LENGTH} characters")
    try:
        return regex.compile(value)
    except regex.error as exc:
        raise RuleError("value", f"invalid pattern: {exc}") from None


# --- evaluation ------------------------------------------------------------------------


def evaluate(rules: Sequence[Rule], event: AlertEvent, payload: Any) -> RuleOutcome:
    """Run ``rules`` in order over one event and its request's parsed JSON."""
    matched: list[str] = []
    errors: list[str] = []
    policy: int | None = None
    annotate_only = False
    view: dict[str, Any] | None = None
    for rule in rules:
        if not rule.enabled:
            continue
        if view is None:
            view = event.to_dict()
        try:
            hit = rule.when.holds(payload, view)
        except TemplateError as exc:
            errors.append(f"rule {rule.name!r}: {exc.message}; treated as not matching")
            continue
        if not hit:
            continue
        matched.append(rule.name)
        actions = rule.actions
        if actions.drop:
            return RuleOutcome(
                event=None,
                matched=tuple(matched),
                dropped_by=rule.name,
                errors=tuple(errors),
            )
        if actions.changes_anything():
            event = _apply(rule.name, actions, event, payload, view, errors)
            view = None
        if actions.escalation_policy is not None:
            policy = actions.escalation_policy
        annotate_only = annotate_only or actions.annotate_only
        if not rule.continue_:
            break
    return RuleOutcome(
        event=event,
        matched=tuple(matched),
        escalation_policy=policy,
        annotate_only=annotate_only,
        errors=tuple(errors),
    )


def _apply(
    name: str,
    actions: RuleActions,
    event: AlertEvent,
    payload: Any,
    view: Mapping[str, Any],
    errors: list[str],
) -> AlertEvent:
    changes: dict[str, Any] = {}
    context = {"payload": payload, "event": view}
    for field_name in ("title", "description", "dedup_key"):
        source = getattr(actions, field_name)
        if not source:
            continue
        value, problem = shape_field(field_name, source, context, event)
        if problem:
            errors.append(f"rule {name!r}: {problem}")
        else:
            changes[field_name] = value
    if actions.severity:
        changes["severity"] = actions.severity
    if actions.resolve:
        changes["action"] = "resolve"
    if actions.annotate_only:
        changes["action"] = "annotate"
    return dataclasses.replace(event, **changes)


def group_key(template: str, event: AlertEvent, payload: Any) -> str:
    """The grouping key of an event for "group alerts with the same <template>".

    Events whose keys are equal within the grouping window join one incident. Raises
    TemplateError when the template fails or renders empty.
    """
    text = render(template, template_context(event, payload), name="group_key").strip()
    if not text:
        raise TemplateError("rendered empty", "group_key")
    return bounded_key(text)


# --- comparisons -------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _equal(found: Any, value: Any) -> bool:
    """JSON-minded equality: 3 equals "3", but true never equals 1."""
    if isinstance(found, bool) or isinstance(value, bool):
        return isinstance(found, bool) and isinstance(value, bool) and found is value
    if isinstance(found, str) and isinstance(value, str):
        return found == value
    left, right = _number(found), _number(value)
    if left is not None and right is not None:
        return left == right
    return bool(found == value)


def _contains(found: Any, value: Any) -> bool:
    if isinstance(found, str):
        return _scalar_text(value) in found
    if isinstance(found, list):
        return any(_equal(item, value) for item in found)
    if isinstance(found, dict):
        return _scalar_text(value) in found
    return False
