"""The Opsgenie Alert API subset monitoring tools use, including Alertmanager's notifier.

- Create alert (``POST /v2/alerts``): ``message`` is required (at most 130 characters);
  ``alias`` (at most 512) is the dedup key, so a create for an alias that already has an
  open incident is a repeat, as Opsgenie deduplicates; without one a unique key is
  generated. ``priority`` P1-P5 (default P3) sets the severity. The ``details`` map is
  also the event's labels: Alertmanager's ``opsgenie_configs`` puts the group's common
  labels there.
- Close and acknowledge (``POST /v2/alerts/<identifier>/close|acknowledge``) with
  ``identifierType`` alias, id or tiny (Opsgenie's default is id) and an optional body
  ``{user, source, note}``. Alertmanager closes by alias. An id or tiny id names a
  Klaxon incident by its number. Add note (``.../notes``) annotates.

The response builders give Opsgenie's 202 and its 400/422 error bodies. Authentication
(``Authorization: GenieKey <token>``) is the caller's job. Pure module.
"""

from __future__ import annotations

import uuid
from typing import Any, Final, TypeVar

from integrations.sources.events import (
    Action,
    AlertEvent,
    Severity,
    SourceError,
    safe_url,
)
from integrations.sources.jsonbody import as_labels, decode_json, describe_json

__all__ = [
    "ACCEPTED_STATUS",
    "IDENTIFIER_TYPES",
    "accepted_response",
    "error_response",
    "parse",
    "parse_acknowledge",
    "parse_add_note",
    "parse_close",
]

_Item = TypeVar("_Item")

KIND: Final = "opsgenie"
ACCEPTED_STATUS: Final = 202
BAD_REQUEST_STATUS: Final = 400
UNPROCESSABLE_STATUS: Final = 422

PRIORITIES: Final[dict[str, Severity]] = {
    "P1": "critical",
    "P2": "error",
    "P3": "warning",
    "P4": "info",
    "P5": "info",
}
DEFAULT_PRIORITY: Final = "P3"
IDENTIFIER_TYPES: Final = ("id", "alias", "tiny")
# Opsgenie's documented field limits, in characters.
_TEXT_LIMITS: Final = {
    "message": 130,
    "alias": 512,
    "description": 15000,
    "entity": 512,
    "source": 100,
    "user": 100,
    "note": 25000,
}
# Bounded work: generous beside Opsgenie's own 20 tags, 10 actions, 50 responders.
MAX_LIST_ITEMS: Final = 100


def parse(body: bytes, *, content_type: str = "") -> list[AlertEvent]:
    """A create-alert request as one trigger event; raises SourceError (422 or 400)."""
    data = _object(body, content_type, required=True)
    problems: list[tuple[str, str]] = []
    message = _text(data, "message", problems, required=True)
    alias = _text(data, "alias", problems)
    description = _text(data, "description", problems)
    entity = _text(data, "entity", problems)
    source = _text(data, "source", problems)
    user = _text(data, "user", problems)
    note = _text(data, "note", problems)
    priority = data.get("priority")
    if priority in (None, ""):
        priority = DEFAULT_PRIORITY
    severity = PRIORITIES.get(priority) if isinstance(priority, str) else None
    if severity is None:
        problems.append(("priority", "Priority should be one of [P1, P2, P3, P4, P5]."))
    details = data.get("details")
    if details is not None and not isinstance(details, dict):
        problems.append(("details", "Details must be an object of key-value pairs."))
    tags = _string_list(data, "tags", problems)
    actions = _string_list(data, "actions", problems)
    responders = _object_list(data, "responders", problems)
    visible_to = _object_list(data, "visibleTo", problems)
    _raise_first(problems)
    assert severity is not None  # an unknown priority is a problem, raised above

    extra: dict[str, Any] = {
        "priority": priority,
        "tags": tags,
        "actions": actions,
        "responders": responders,
        "visible_to": visible_to,
        "entity": entity,
        "source": source,
        "user": user,
        "note": note,
    }
    return [
        AlertEvent(
            source=KIND,
            action="trigger",
            dedup_key=alias.strip() or uuid.uuid4().hex,
            title=message.strip(),
            description=description,
            severity=severity,
            details={name: value for name, value in extra.items() if value},
            labels=as_labels(details),
            client=source,
            client_url=safe_url(source),
            entity=entity,
            dedup_key_generated=not alias.strip(),
        )
    ]


def parse_close(
    body: bytes, *, identifier: str, identifier_type: str = "id", content_type: str = ""
) -> list[AlertEvent]:
    """``POST /v2/alerts/<identifier>/close``: a resolve event for that alert."""
    return [_action_event("resolve", body, identifier, identifier_type, content_type)]


def parse_acknowledge(
    body: bytes, *, identifier: str, identifier_type: str = "id", content_type: str = ""
) -> list[AlertEvent]:
    """``POST /v2/alerts/<identifier>/acknowledge``: an acknowledge event for that alert."""
    return [_action_event("acknowledge", body, identifier, identifier_type, content_type)]


def parse_add_note(
    body: bytes, *, identifier: str, identifier_type: str = "id", content_type: str = ""
) -> list[AlertEvent]:
    """``POST /v2/alerts/<identifier>/notes``: an annotate event carrying the note."""
    return [_action_event("annotate", body, identifier, identifier_type, content_type)]


def accepted_response(*, took: float, request_id: str | None = None) -> dict[str, Any]:
    """Opsgenie's 202 body: requests are processed asynchronously."""
    return {
        "result": "Request will be processed",
        "took": round(took, 3),
        "requestId": request_id or str(uuid.uuid4()),
    }


def error_response(
    error: SourceError, *, took: float, request_id: str | None = None
) -> tuple[int, dict[str, Any]]:
    """Opsgenie's error status and body: 400 for an unreadable body, else 422 per field."""
    base = {"took": round(took, 3), "requestId": request_id or str(uuid.uuid4())}
    if not error.field:
        return BAD_REQUEST_STATUS, {"message": error.message, **base}
    return UNPROCESSABLE_STATUS, {
        "message": "Request body is not processable. Please check the errors.",
        "errors": dict(error.problems),
        **base,
    }


# --- helpers ----------------------------------------------------------------------


def _object(body: bytes, content_type: str, *, required: bool) -> dict[str, Any]:
    if not required and not body.strip():
        return {}  # close/acknowledge bodies are optional
    data = decode_json(body, content_type=content_type)
    if not isinstance(data, dict):
        raise SourceError("", f"the body is {describe_json(data)}; a JSON object was expected")
    return data


def _raise_first(problems: list[tuple[str, str]]) -> None:
    if problems:
        field, message = problems[0]
        raise SourceError(field, message, problems=tuple(problems))


def _text(
    data: dict[str, Any], name: str, problems: list[tuple[str, str]], *, required: bool = False
) -> str:
    value = data.get(name)
    label = name.capitalize()
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            problems.append((name, f"{label} can not be empty."))
        return ""
    if not isinstance(value, str):
        problems.append((name, f"{label} must be a string."))
        return ""
    limit = _TEXT_LIMITS[name]
    if len(value) > limit:
        problems.append((name, f"{label} can not be longer than {limit} characters."))
    return value


def _string_list(data: dict[str, Any], name: str, problems: list[tuple[str, str]]) -> list[str]:
    return [item for item in _list(data, name, str, "strings", problems) if item.strip()]


def _object_list(
    data: dict[str, Any], name: str, problems: list[tuple[str, str]]
) -> list[dict[str, Any]]:
    return _list(data, name, dict, "objects", problems)


def _list(
    data: dict[str, Any],
    name: str,
    item_type: type[_Item],
    items: str,
    problems: list[tuple[str, str]],
) -> list[_Item]:
    """``data[name]`` as a list of ``item_type``; [] and a problem when it is not one."""
    value = data.get(name)
    if value is None:
        return []
    label = name[0].upper() + name[1:]
    if not isinstance(value, list) or not all(isinstance(item, item_type) for item in value):
        problems.append((name, f"{label} must be a list of {items}."))
        return []
    if len(value) > MAX_LIST_ITEMS:
        problems.append((name, f"{label} can not have more than {MAX_LIST_ITEMS} items."))
        return []
    return value


def _action_event(
    action: Action, body: bytes, identifier: str, identifier_type: str, content_type: str
) -> AlertEvent:
    identifier = identifier.strip()
    identifier_type = identifier_type or "id"
    if identifier_type not in IDENTIFIER_TYPES:
        raise SourceError("identifierType", "IdentifierType should be one of [id, alias, tiny].")
    if not identifier:
        raise SourceError("identifier", "Identifier can not be empty.")
    incident_id: int | None = None
    if identifier_type == "alias":
        if len(identifier) > _TEXT_LIMITS["alias"]:
            raise SourceError("identifier", "Identifier can not be longer than 512 characters.")
    elif identifier.isascii() and identifier.isdigit() and len(identifier) <= 18:
        incident_id = int(identifier)
    else:
        raise SourceError(
            "identifier",
            f"Identifier must be a Klaxon incident number when identifierType is "
            f"{identifier_type}.",
        )

    data = _object(body, content_type, required=False)
    problems: list[tuple[str, str]] = []
    user = _text(data, "user", problems)
    source = _text(data, "source", problems)
    note = _text(data, "note", problems, required=action == "annotate")
    _raise_first(problems)
    extra = {"user": user, "source": source, "note": note, "identifier_type": identifier_type}
    return AlertEvent(
        source=KIND,
        action=action,
        dedup_key=identifier if incident_id is None else "",
        title="",
        description=note,
        details={name: value for name, value in extra.items() if value},
        client=source,
        client_url=safe_url(source),
        incident_id=incident_id,
    )
