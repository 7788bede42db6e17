"""Generic JSON webhook: any JSON body becomes one trigger event.

The integration's templates (``integrations.templating.apply_templates``) are what
usually shape it. Without templates the event takes its title from the first common
top-level key that holds text (title, summary, message, subject, name), its description
and severity the same way, and its dedup key is a stable hash of the body, so the same
body sent twice is one alert.

Pure module: no Django, no database.
"""

from __future__ import annotations

from typing import Any, Final

from integrations.sources.events import AlertEvent, bounded_title, severity_from, stable_hash
from integrations.sources.jsonbody import decode_json

__all__ = ["DESCRIPTION_KEYS", "SEVERITY_KEYS", "TITLE_KEYS", "parse"]

KIND: Final = "webhook"
TITLE_KEYS: Final = ("title", "summary", "message", "subject", "name")
DESCRIPTION_KEYS: Final = ("description", "details", "text", "body")
SEVERITY_KEYS: Final = ("severity", "priority", "level")
FALLBACK_TITLE: Final = "Webhook alert"


def parse(body: bytes, *, content_type: str = "") -> list[AlertEvent]:
    """The body as one trigger event; raises SourceError only when it is not usable JSON."""
    data = decode_json(body, content_type=content_type)
    fields = data if isinstance(data, dict) else {}
    title = bounded_title(_first_text(fields, TITLE_KEYS) or FALLBACK_TITLE)
    return [
        AlertEvent(
            source=KIND,
            action="trigger",
            dedup_key=stable_hash(data),
            title=title,
            description=_first_text(fields, DESCRIPTION_KEYS),
            severity=severity_from(_first_text(fields, SEVERITY_KEYS)),
            details=fields if isinstance(data, dict) else {"payload": data},
        )
    ]


def _first_text(fields: dict[str, Any], keys: tuple[str, ...]) -> str:
    for key in keys:
        value = fields.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""
