"""The normalised alert event every source kind produces.

Each parser in ``integrations.sources`` turns one inbound request into a list of
:class:`AlertEvent`; templates and rules reshape it; the incident state machine consumes
it. An event presents itself (title, links, the sending tool) without the incident code
knowing which monitoring tool spoke.

Pure module: no Django, no database.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal, get_args
from urllib.parse import urlsplit

__all__ = [
    "ACTIONS",
    "DEDUP_KEY_MAX_LENGTH",
    "DEFAULT_SEVERITY",
    "SEVERITIES",
    "TITLE_MAX_LENGTH",
    "Action",
    "AlertEvent",
    "Image",
    "Link",
    "Severity",
    "SourceError",
    "bounded_key",
    "bounded_title",
    "parse_action",
    "parse_severity",
    "parse_timestamp",
    "safe_url",
    "severity_from",
    "stable_hash",
]

Action = Literal["trigger", "acknowledge", "resolve", "annotate"]
Severity = Literal["critical", "error", "warning", "info"]

ACTIONS: Final[tuple[Action, ...]] = get_args(Action)
SEVERITIES: Final[tuple[Severity, ...]] = get_args(Severity)
# What an alert is worth when its source names no severity or one we cannot read:
# Alertmanager's own PagerDuty notifier makes the same choice.
DEFAULT_SEVERITY: Final[Severity] = "error"
# Incident.dedup_key is a 512-character column.
DEDUP_KEY_MAX_LENGTH: Final = 512
# PagerDuty's limit for a summary; the most any source's title may be.
TITLE_MAX_LENGTH: Final = 1024

# The words monitoring tools use for how bad things are. Keys are lower-case.
_SEVERITY_WORDS: Final[dict[str, Severity]] = {
    # PagerDuty's four, and Alertmanager/Grafana label conventions
    "critical": "critical",
    "crit": "critical",
    "page": "critical",
    "fatal": "critical",
    "emergency": "critical",
    "emerg": "critical",
    "alert": "critical",
    "disaster": "critical",  # Zabbix
    "p1": "critical",  # Opsgenie
    "sev1": "critical",
    "error": "error",
    "err": "error",
    "high": "error",
    "major": "error",
    "p2": "error",
    "sev2": "error",
    "warning": "warning",
    "warn": "warning",
    "average": "warning",  # Zabbix
    "medium": "warning",
    "moderate": "warning",
    "minor": "warning",
    "p3": "warning",
    "sev3": "warning",
    "info": "info",
    "informational": "info",
    "information": "info",
    "notice": "info",
    "low": "info",
    "none": "info",
    "debug": "info",
    "ok": "info",
    "not classified": "info",  # Zabbix
    "p4": "info",
    "p5": "info",
    "sev4": "info",
    "sev5": "info",
}

_ACTION_WORDS: Final[dict[str, Action]] = {
    "trigger": "trigger",
    "triggered": "trigger",
    "firing": "trigger",
    "alerting": "trigger",
    "alarm": "trigger",
    "open": "trigger",
    "problem": "trigger",
    "create": "trigger",
    "acknowledge": "acknowledge",
    "acknowledged": "acknowledge",
    "ack": "acknowledge",
    "resolve": "resolve",
    "resolved": "resolve",
    "ok": "resolve",
    "close": "resolve",
    "closed": "resolve",
    "recovery": "resolve",
    "recovered": "resolve",
    "clear": "resolve",
    "cleared": "resolve",
    "annotate": "annotate",
    "annotation": "annotate",
    "note": "annotate",
}

_TIMESTAMP_MAX_LENGTH: Final = 64


class SourceError(ValueError):
    """A request a source parser refuses, with the offending field.

    ``field`` is the dotted path of the field (``payload.severity``,
    ``alerts[2].status``), or ``""`` when the body as a whole is unusable (not JSON,
    too large). ``message`` is a sentence that names the field the way the original
    API does in its 400, so ``str(error)`` can be shown as it is. ``problems`` lists
    every (field, message) found when a parser reports several at once, as PagerDuty
    and Opsgenie do; the first is the error itself.
    """

    def __init__(
        self, field: str, message: str, *, problems: tuple[tuple[str, str], ...] = ()
    ) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.problems: tuple[tuple[str, str], ...] = problems or ((field, message),)

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"SourceError(field={self.field!r}, message={self.message!r})"


@dataclass(frozen=True, slots=True)
class Link:
    """A link shown on the incident; only http(s) URLs are ever built (see safe_url)."""

    href: str
    text: str = ""


@dataclass(frozen=True, slots=True)
class Image:
    """An image shown on the incident (PagerDuty ``images``, Grafana ``imageURL``)."""

    src: str
    href: str = ""
    alt: str = ""


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One alert as Klaxon understands it, whatever format it arrived in.

    ``dedup_key`` identifies the alert across its life: a trigger for a key with an
    open incident appends to it; acknowledge/resolve/annotate address that incident.
    ``details`` and ``labels`` are JSON-safe. ``title`` may be empty for acknowledge,
    resolve and annotate events, which refer to an incident that already has one.
    """

    source: str  # the integration kind that parsed it: "pagerduty", "alertmanager"...
    action: Action
    dedup_key: str
    title: str
    description: str = ""
    severity: Severity = DEFAULT_SEVERITY
    source_time: datetime | None = None
    details: dict[str, Any] = field(default_factory=dict, hash=False)
    labels: dict[str, str] = field(default_factory=dict, hash=False)
    links: tuple[Link, ...] = ()
    images: tuple[Image, ...] = ()
    # How the sending tool presents itself: "Grafana", PagerDuty's ``client``...
    client: str = ""
    client_url: str = ""
    # The affected system: PagerDuty payload.source, Opsgenie entity, the instance label.
    entity: str = ""
    # True when the request carried no key and the parser generated one; PagerDuty's
    # 202 response must then return it so the sender can resolve later.
    dedup_key_generated: bool = False
    # Opsgenie's identifierType=id|tiny addresses a Klaxon incident by its number
    # instead of by dedup key.
    incident_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The event as JSON-safe data: what templates see as ``event`` and previews show."""
        return {
            "source": self.source,
            "action": self.action,
            "dedup_key": self.dedup_key,
            "title": self.title,
            "description": self.description,
            "severity": self.severity,
            "source_time": self.source_time.isoformat() if self.source_time else None,
            "details": self.details,
            "labels": self.labels,
            "links": [{"href": link.href, "text": link.text} for link in self.links],
            "images": [
                {"src": image.src, "href": image.href, "alt": image.alt} for image in self.images
            ],
            "client": self.client,
            "client_url": self.client_url,
            "entity": self.entity,
            "dedup_key_generated": self.dedup_key_generated,
            "incident_id": self.incident_id,
        }


def parse_severity(word: object) -> Severity | None:
    """The severity a tool's word means (``P1``, ``page``, ``Warning``...), None if unknown."""
    if not isinstance(word, str):
        return None
    return _SEVERITY_WORDS.get(word.strip().lower())


def severity_from(word: object, *, default: Severity = DEFAULT_SEVERITY) -> Severity:
    """Like parse_severity, but an absent or unknown word gives ``default``."""
    return parse_severity(word) or default


def parse_action(word: object) -> Action | None:
    """The action a word means (``firing``, ``resolved``, ``ack``...), None if unknown."""
    if not isinstance(word, str):
        return None
    return _ACTION_WORDS.get(word.strip().lower())


def parse_timestamp(value: object) -> datetime | None:
    """An ISO 8601 / RFC 3339 time as an aware UTC datetime; None when unusable.

    Accepts what the sources send: ``Z`` or ``+00:00`` or ``+0000`` offsets and up to
    nanosecond fractions (Go's RFC 3339). A time without an offset is taken as UTC. Go's
    zero time (``0001-01-01T00:00:00Z``, Alertmanager's "not ended yet") is None.
    """
    if not isinstance(value, str) or len(value) > _TIMESTAMP_MAX_LENGTH:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.year <= 1:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        return None


def safe_url(value: object) -> str:
    """``value`` when it is an absolute http(s) URL, else "".

    Links end up as ``href`` on the dashboard, so ``javascript:`` and other schemes
    must never get through.
    """
    if not isinstance(value, str) or not value or len(value) > 2048:
        return ""
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return ""
    return value.strip()


def stable_hash(value: Any) -> str:
    """SHA-256 (hex) of ``value`` as canonical JSON: key order and spacing do not matter."""
    canonical = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def bounded_key(key: str) -> str:
    """A dedup key that fits the incident column: long keys become their SHA-256.

    Hashing (rather than cutting) keeps two long keys that differ only at the end apart.
    """
    if len(key) <= DEDUP_KEY_MAX_LENGTH:
        return key
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return f"sha256:{digest}"


def bounded_title(title: str) -> str:
    """A title of at most TITLE_MAX_LENGTH characters, marked with "…" when cut."""
    if len(title) <= TITLE_MAX_LENGTH:
        return title
    return title[: TITLE_MAX_LENGTH - 1] + "…"
