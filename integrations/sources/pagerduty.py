"""PagerDuty Events API v2 (``POST /v2/enqueue``): alert events in, one AlertEvent out.

Validation follows PagerDuty's: ``routing_key`` is the 32-character integration key,
``event_action`` is trigger/acknowledge/resolve, a trigger needs ``payload.summary``
(at most 1024 characters), ``payload.source`` and ``payload.severity``
(critical/error/warning/info), acknowledge and resolve need ``dedup_key`` (at most 255
characters). Every problem found is reported, in PagerDuty's wording, and the response
builders produce PagerDuty's 202 and 400 bodies so existing senders read them as usual.

A trigger without ``dedup_key`` gets a generated one (a UUID, as PagerDuty does) that
the 202 response returns. The routing key is the integration token: it is returned
beside the event for the caller to authenticate, and never copied into the event.

Pure module: no Django, no database.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Final

from integrations.sources.events import (
    SEVERITIES,
    Action,
    AlertEvent,
    Image,
    Link,
    Severity,
    SourceError,
    parse_timestamp,
    safe_url,
)
from integrations.sources.jsonbody import as_text, decode_json, describe_json

__all__ = [
    "ERROR_STATUS",
    "SUCCESS_STATUS",
    "EnqueueRequest",
    "error_response",
    "parse",
    "parse_request",
    "success_response",
]

KIND: Final = "pagerduty"
SUCCESS_STATUS: Final = 202
ERROR_STATUS: Final = 400

ROUTING_KEY_LENGTH: Final = 32
SUMMARY_MAX_LENGTH: Final = 1024
DEDUP_KEY_MAX_LENGTH: Final = 255
# PagerDuty documents no count; a cap keeps the work bounded and pages readable.
MAX_CONTEXTS: Final = 50
EVENT_ACTIONS: Final[dict[str, Action]] = {
    "trigger": "trigger",
    "acknowledge": "acknowledge",
    "resolve": "resolve",
}
_LABEL_FIELDS: Final = ("component", "group", "class")


@dataclass(frozen=True, slots=True)
class EnqueueRequest:
    """A valid enqueue request: the routing key to authenticate, and its event."""

    routing_key: str
    event: AlertEvent


def parse(body: bytes, *, content_type: str = "") -> list[AlertEvent]:
    """The event in an Events API v2 request; raises SourceError when PagerDuty would 400."""
    return [parse_request(body, content_type=content_type).event]


def parse_request(body: bytes, *, content_type: str = "") -> EnqueueRequest:
    """Parse and validate one enqueue request, keeping its routing key apart."""
    data = decode_json(body, content_type=content_type)
    if not isinstance(data, dict):
        raise SourceError("", f"the body is {describe_json(data)}; an event object was expected")

    problems: list[tuple[str, str]] = []
    routing_key = _routing_key(data.get("routing_key"), problems)
    action = _event_action(data.get("event_action"), problems)
    dedup_key = _dedup_key(data.get("dedup_key"), action, problems)
    payload = data.get("payload")
    if action == "trigger":
        summary, severity, source = _trigger_payload(payload, problems)
    else:
        payload = payload if isinstance(payload, dict) else {}
        summary, severity, source = _optional_payload(payload)
    if problems:
        field, message = problems[0]
        raise SourceError(field, message, problems=tuple(problems))
    assert action is not None  # a missing action is a problem, reported above

    payload = payload if isinstance(payload, dict) else {}
    generated = not dedup_key
    event = AlertEvent(
        source=KIND,
        action=action,
        dedup_key=dedup_key or uuid.uuid4().hex,
        title=summary,
        severity=severity,
        source_time=parse_timestamp(payload.get("timestamp")),
        details=_details(payload),
        labels={
            name: value
            for name in _LABEL_FIELDS
            if isinstance(value := payload.get(name), str) and value
        },
        links=_links(data.get("links")),
        images=_images(data.get("images")),
        client=as_text(data.get("client")),
        client_url=safe_url(data.get("client_url")),
        entity=source,
        dedup_key_generated=generated,
    )
    return EnqueueRequest(routing_key=routing_key, event=event)


def success_response(event: AlertEvent) -> dict[str, str]:
    """PagerDuty's 202 body, returning the dedup key (generated or given)."""
    return {"status": "success", "message": "Event processed", "dedup_key": event.dedup_key}


def error_response(error: SourceError) -> dict[str, Any]:
    """PagerDuty's 400 body for a refused request."""
    if not error.field:
        # The body could not be read as an event object at all.
        return {
            "status": "Unrecognized object",
            "message": "Event object format is unrecognized",
            "errors": [error.message],
        }
    return {
        "status": "invalid event",
        "message": "Event object is invalid",
        "errors": [message for _field, message in error.problems],
    }


# --- validation -----------------------------------------------------------------


def _missing(name: str) -> tuple[str, str]:
    return name, f"'{name}' is missing or blank"


def _too_long(name: str, limit: int) -> tuple[str, str]:
    return name, f"Length of '{name}' is too long (maximum is {limit} characters)"


def _routing_key(value: Any, problems: list[tuple[str, str]]) -> str:
    if not isinstance(value, str) or not value.strip():
        problems.append(_missing("routing_key"))
        return ""
    if len(value) != ROUTING_KEY_LENGTH:
        problems.append(
            (
                "routing_key",
                "Length of 'routing_key' is incorrect "
                f"(should be {ROUTING_KEY_LENGTH} characters)",
            )
        )
    return value


def _event_action(value: Any, problems: list[tuple[str, str]]) -> Action | None:
    if value is None or value == "":
        problems.append(_missing("event_action"))
        return None
    action = EVENT_ACTIONS.get(value) if isinstance(value, str) else None
    if action is None:
        problems.append(
            (
                "event_action",
                "'event_action' is invalid (must be one of: " + ", ".join(EVENT_ACTIONS) + ")",
            )
        )
    return action


def _dedup_key(value: Any, action: str | None, problems: list[tuple[str, str]]) -> str:
    if value is not None and not isinstance(value, str):
        problems.append(("dedup_key", "'dedup_key' must be a string"))
        return ""
    key = value or ""
    if len(key) > DEDUP_KEY_MAX_LENGTH:
        problems.append(_too_long("dedup_key", DEDUP_KEY_MAX_LENGTH))
    elif not key.strip() and action in ("acknowledge", "resolve"):
        problems.append(_missing("dedup_key"))
    return key if key.strip() else ""  # a blank key on a trigger: one is generated


def _trigger_payload(payload: Any, problems: list[tuple[str, str]]) -> tuple[str, Severity, str]:
    if not isinstance(payload, dict):
        problems.append(("payload", "'payload' is missing or not an object"))
        return "", "error", ""
    summary = _required_text(payload, "summary", problems)
    if len(summary) > SUMMARY_MAX_LENGTH:
        problems.append(_too_long("payload.summary", SUMMARY_MAX_LENGTH))
    source = _required_text(payload, "source", problems)
    severity = payload.get("severity")
    if severity is None or severity == "":
        problems.append(_missing("payload.severity"))
    elif severity not in SEVERITIES:
        problems.append(
            (
                "payload.severity",
                "'payload.severity' is invalid (must be one of: " + ", ".join(SEVERITIES) + ")",
            )
        )
    else:
        return summary, severity, source
    return summary, "error", source


def _required_text(payload: dict[str, Any], name: str, problems: list[tuple[str, str]]) -> str:
    value = payload.get(name)
    if isinstance(value, str) and value.strip():
        return value
    if value is None or isinstance(value, str):
        problems.append(_missing(f"payload.{name}"))
    else:
        problems.append((f"payload.{name}", f"'payload.{name}' must be a string"))
    return ""


def _optional_payload(payload: dict[str, Any]) -> tuple[str, Severity, str]:
    """Acknowledge and resolve events may carry a payload; use what is valid in it."""
    summary = payload.get("summary")
    severity = payload.get("severity")
    source = payload.get("source")
    return (
        summary[:SUMMARY_MAX_LENGTH] if isinstance(summary, str) else "",
        severity if severity in SEVERITIES else "error",
        source if isinstance(source, str) else "",
    )


# --- presentation ---------------------------------------------------------------


def _details(payload: dict[str, Any]) -> dict[str, Any]:
    details: dict[str, Any] = {
        name: payload[name]
        for name in ("source", *_LABEL_FIELDS, "custom_details")
        if payload.get(name) not in (None, "")
    }
    timestamp = payload.get("timestamp")
    if timestamp is not None and parse_timestamp(timestamp) is None:
        # PagerDuty would stamp its own time; keep what was sent so nobody wonders.
        details["unreadable_timestamp"] = timestamp
    return details


def _contexts(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    return [item for item in value[:MAX_CONTEXTS] if isinstance(item, dict)]


def _links(value: Any) -> tuple[Link, ...]:
    links = []
    for item in _contexts(value):
        href = safe_url(item.get("href"))
        if href:
            links.append(Link(href=href, text=as_text(item.get("text"))))
    return tuple(links)


def _images(value: Any) -> tuple[Image, ...]:
    images = []
    for item in _contexts(value):
        src = safe_url(item.get("src"))
        if src:
            images.append(
                Image(src=src, href=safe_url(item.get("href")), alt=as_text(item.get("alt")))
            )
    return tuple(images)
