"""Alert templates: the integration's ``templates`` object, rendered in a sandbox.

``templates`` maps event fields (``title``, ``description``, ``dedup_key``,
``severity``, ``action``) to Jinja2 templates. A template sees the request's parsed JSON
as ``payload`` and the parsed event as ``event``, plus the helpers of
``integrations.template_helpers``. It runs in the sandbox of
``integrations.template_sandbox`` (no Python internals, bounded size, loops and time).

Every failure is a :class:`TemplateError` naming the template; :func:`apply_templates`
turns failures into error strings and keeps the raw field, so a broken template never
loses an alert. Compiled templates are cached by source.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from functools import lru_cache
from types import TracebackType
from typing import Any, Final, TypeVar

from jinja2 import Template, TemplateSyntaxError
from jinja2.exceptions import SecurityError, UndefinedError

from integrations.sources.events import (
    ACTIONS,
    SEVERITIES,
    AlertEvent,
    bounded_key,
    bounded_title,
    parse_action,
    parse_severity,
)
from integrations.template_helpers import HELPERS, REGEX_TIMEOUT_SECONDS
from integrations.template_sandbox import (
    TIME_LIMIT_SECONDS,
    TemplateError,
    bounded_template,
    check_size,
    limits,
    make_environment,
    refuse,
)

__all__ = [
    "MAX_OUTPUT_CHARS",
    "MAX_SOURCE_CHARS",
    "REGEX_TIMEOUT_SECONDS",
    "TEMPLATE_FIELDS",
    "TIME_LIMIT_SECONDS",
    "TemplateError",
    "apply_templates",
    "compile_expression",
    "compile_template",
    "evaluate_expression",
    "render",
    "shape_field",
    "sns_template_context",
    "template_context",
    "validate_templates",
]

TEMPLATE_FIELDS: Final = ("title", "description", "dedup_key", "severity", "action")
MAX_SOURCE_CHARS: Final = 8_000
MAX_OUTPUT_CHARS: Final = 32_768

_T = TypeVar("_T")
_ENVIRONMENT: Final = make_environment(HELPERS)


# --- compiling and rendering -------------------------------------------------------------


def compile_template(source: str, name: str = "template") -> Template:
    """The compiled template for ``source`` (cached); raises TemplateError naming ``name``."""
    return _compiled(source, name, "template", _compile)


def compile_expression(source: str, name: str = "expression") -> Callable[..., Any]:
    """The compiled Jinja expression (cached); raises TemplateError naming ``name``."""
    if isinstance(source, str) and not source.strip():
        raise TemplateError("an expression must not be empty", name)
    return _compiled(source, name, "expression", _compile_expression)


def _compiled(source: Any, name: str, what: str, compiler: Callable[[str], _T]) -> _T:
    if not isinstance(source, str):
        raise TemplateError(f"a {what} must be text", name)
    if len(source) > MAX_SOURCE_CHARS:
        raise TemplateError(
            f"the {what} is {len(source)} characters; at most {MAX_SOURCE_CHARS} are allowed",
            name,
        )
    try:
        return compiler(source)
    except TemplateError as exc:
        raise TemplateError(exc.message, name) from None
    except TemplateSyntaxError as exc:
        # An expression is one line; Jinja's line numbers for it are meaningless.
        where = f" on line {exc.lineno}" if what == "template" else ""
        raise TemplateError(f"syntax error{where}: {exc.message}", name) from None
    except RecursionError:
        raise TemplateError(f"the {what} is nested too deeply", name) from None


@lru_cache(maxsize=1024)
def _compile(source: str) -> Template:
    return bounded_template(_ENVIRONMENT, source)


def render(
    source: str,
    context: Mapping[str, Any],
    *,
    name: str = "template",
    time_limit: float = TIME_LIMIT_SECONDS,
) -> str:
    """Render ``source`` with ``context``; raises TemplateError (and nothing else)."""
    template = compile_template(source, name)
    pieces: list[str] = []
    size = 0
    try:
        with limits(time_limit) as budget:
            for piece in template.generate(context):
                size += len(piece)
                if size > MAX_OUTPUT_CHARS:
                    raise refuse(f"the output is longer than {MAX_OUTPUT_CHARS} characters")
                budget.check()
                pieces.append(piece)
    except Exception as exc:  # user code ran: whatever it raised is the template's error
        raise _as_template_error(exc, name) from None
    return "".join(pieces)


def evaluate_expression(
    source: str,
    context: Mapping[str, Any],
    *,
    name: str = "expression",
    time_limit: float = TIME_LIMIT_SECONDS,
) -> Any:
    """The value of a Jinja expression (``payload.level >= 3``); undefined gives None."""
    expression = compile_expression(source, name)
    try:
        with limits(time_limit):
            return check_size(expression(**context))
    except Exception as exc:  # user code ran: whatever it raised is the expression's error
        raise _as_template_error(exc, name, with_line=False) from None


@lru_cache(maxsize=1024)
def _compile_expression(source: str) -> Callable[..., Any]:
    return _ENVIRONMENT.compile_expression(source, undefined_to_none=True)


def _as_template_error(exc: BaseException, name: str, *, with_line: bool = True) -> TemplateError:
    # An expression is one line; Jinja's line numbers for it are meaningless.
    line = _template_line(exc.__traceback__) if with_line else None
    where = f" (line {line})" if line else ""
    if isinstance(exc, TemplateError):
        message = exc.message
    elif isinstance(exc, SecurityError):
        message = str(exc)
    elif isinstance(exc, UndefinedError):
        message = str(exc.message)
    elif isinstance(exc, RecursionError):
        message = "recursion too deep"
    elif isinstance(exc, MemoryError):
        message = "ran out of memory"
    else:
        message = f"{type(exc).__name__}: {exc}"
    if len(message) > 300:
        message = message[:297] + "..."
    return TemplateError(message + where, name)


def _template_line(trace: TracebackType | None) -> int | None:
    """The template line a rendering error happened on (Jinja rewrites tracebacks)."""
    line = None
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == "<template>":
            line = trace.tb_lineno
        trace = trace.tb_next
    return line


# --- shaping events --------------------------------------------------------------------


def template_context(event: AlertEvent, payload: Any) -> dict[str, Any]:
    """What a template sees: the parsed request as ``payload``, the event as ``event``."""
    return {"payload": payload, "event": event.to_dict()}


def sns_template_context(envelope: Mapping[str, Any]) -> dict[str, Any]:
    """The ``payload`` an aws_sns integration's templates see.

    The SNS envelope as it is, plus ``message``: its ``Message`` parsed when it is JSON
    (a CloudWatch alarm, an EventBridge event), else the text as sent.
    """
    payload = dict(envelope)
    message = envelope.get("Message")
    payload["message"] = message
    if isinstance(message, str) and message.lstrip()[:1] in ("{", "["):
        try:
            parsed = json.loads(message)
        except (ValueError, RecursionError):
            return payload
        payload["message"] = parsed
    return payload


def validate_templates(templates: Any) -> dict[str, str]:
    """An integration's ``templates`` object, checked: raises TemplateError naming the key."""
    if not isinstance(templates, Mapping):
        raise TemplateError("templates must be an object", "templates")
    checked: dict[str, str] = {}
    for key, source in templates.items():
        if key not in TEMPLATE_FIELDS:
            raise TemplateError(
                "not a template field; use one of " + ", ".join(TEMPLATE_FIELDS), str(key)
            )
        if source is None or source == "":
            continue
        compile_template(source, key)
        checked[key] = source
    return checked


def apply_templates(
    event: AlertEvent, templates: Mapping[str, str], *, payload: Any
) -> tuple[AlertEvent, list[str]]:
    """The event shaped by the integration's templates, and the errors met.

    Every template sees the event as parsed (not as shaped by the others). A template
    that fails, renders empty where a value is required, or renders a severity or action
    Klaxon does not know leaves that field as it was and adds an error: the alert is
    never lost to a template.
    """
    context = template_context(event, payload)
    changes: dict[str, Any] = {}
    errors: list[str] = []
    for field, source in templates.items():
        if field not in TEMPLATE_FIELDS:
            errors.append(f"{field}: not a template field; ignored")
            continue
        if not source:
            continue
        value, problem = shape_field(field, source, context, event)
        if problem:
            errors.append(problem)
        else:
            changes[field] = value
    return dataclasses.replace(event, **changes), errors


def shape_field(
    field: str, source: str, context: Mapping[str, Any], event: AlertEvent
) -> tuple[Any, str]:
    """The value template ``source`` gives event ``field``, or (None, the problem).

    Problems: the template failed, rendered empty where a value is required, or rendered
    a severity or action Klaxon does not know. Long dedup keys are hashed to fit.
    """
    try:
        text = render(source, context, name=field).strip()
    except TemplateError as exc:
        return None, f"{exc}; kept the original {field}"
    value, problem = _field_value(field, text, event)
    return value, f"{field}: {problem}" if problem else ""


def _field_value(field: str, text: str, event: AlertEvent) -> tuple[Any, str]:
    """The value a rendered template gives ``field``, or a problem to report."""
    if field == "description":
        return text, ""
    if field in ("title", "dedup_key") and not text:
        return None, f"rendered empty; kept {getattr(event, field)!r}"
    if field == "title":
        return bounded_title(text), ""
    if field == "dedup_key":
        return bounded_key(text), ""
    if field == "severity":
        severity = parse_severity(text)
        if severity is None:
            return None, (
                f"rendered {text[:40]!r}, not one of {', '.join(SEVERITIES)} "
                f"(or a word such as P1, page, warn); kept {event.severity!r}"
            )
        return severity, ""
    action = parse_action(text)
    if action is None:
        return None, (
            f"rendered {text[:40]!r}, not one of {', '.join(ACTIONS)} "
            f"(or a word such as firing, resolved, ack); kept {event.action!r}"
        )
    return action, ""
