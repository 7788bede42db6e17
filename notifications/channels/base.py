"""The contract every notification channel keeps, and the registry of channels by kind.

A channel is one class in one file of this package. It is built from Django settings
plus the stored options of one target (``from_settings``), and sends one
``OutgoingMessage`` (``send``): it returns a ``Delivery`` saying what went out, or raises
a ``ChannelError`` whose ``permanent`` flag tells the caller whether trying again can
help. A channel never retries by itself (Celery and the Notification row own retries)
and never touches the ORM: everything it needs is in the message.

Adding a channel:

1. Write ``notifications/channels/<kind>.py`` with a ``Channel`` subclass decorated
   ``@register``, its ``kind`` (at most 8 characters, the Notification column), a
   ``from_settings`` classmethod reading its settings with ``getattr`` defaults, and
   ``send``. ``teams.py`` is the smallest neighbour to copy the shape from.
2. Import the module in ``notifications/channels/__init__.py`` (that import registers
   it).
3. Add its settings to ``config/settings.py`` (read from the environment variable of
   the same name) and say in the README what they do.
4. Test it against a fake of the provider's HTTP API in ``tests/fakes/``."""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import ClassVar, Self, TypeVar


class ChannelError(Exception):
    """A send that did not go out. ``permanent``: trying again cannot help (a deleted
    channel, a revoked token, a gone subscription); otherwise it may (a timeout, a 5xx,
    a rate limit, with ``retry_after`` seconds when the provider said)."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        code: str = "",
        retry_after: float | None = None,
        response: ResponseRecord | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.code = code
        self.retry_after = retry_after
        self.response = response


class TransientChannelError(ChannelError):
    def __init__(
        self,
        message: str,
        *,
        code: str = "",
        retry_after: float | None = None,
        response: ResponseRecord | None = None,
    ) -> None:
        super().__init__(
            message, permanent=False, code=code, retry_after=retry_after, response=response
        )


class PermanentChannelError(ChannelError):
    def __init__(
        self, message: str, *, code: str = "", response: ResponseRecord | None = None
    ) -> None:
        super().__init__(message, permanent=True, code=code, response=response)


@dataclass(frozen=True)
class ResponseRecord:
    """What an HTTP target answered, kept on the attempt so an admin can see it."""

    status_code: int
    body: str  # the first KiB, decoded leniently
    duration_ms: int


@dataclass(frozen=True)
class Delivery:
    """What went out: the provider's id for it (a Slack "channel:ts", a push service's
    message URL, a webhook-id), the provider's word for its state, the text as sent, and
    ``outbox`` when it was only recorded because the channel is not configured."""

    provider_id: str = ""
    provider_status: str = ""
    body: str = ""
    subject: str = ""
    outbox: bool = False
    response: ResponseRecord | None = None


class Purpose(StrEnum):
    """Why a message is sent. The first values match Notification.Purpose; the webhook
    event names are ``incident.<purpose>``."""

    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    ESCALATED = "escalated"
    RESOLVED = "resolved"
    NOTE_ADDED = "note_added"
    TEST = "test"


@dataclass(frozen=True)
class IncidentSummary:
    """The incident as a channel shows it. ``state`` is triggered, acknowledged or
    resolved; ``url`` is the incident page (absolute)."""

    number: int
    title: str
    state: str
    url: str
    severity: str = ""
    integration: str = ""
    description: str = ""
    opened_at: datetime | None = None


def _new_delivery_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


@dataclass(frozen=True)
class OutgoingMessage:
    """Everything a channel needs to send one message, built by the caller from the
    Notification row, so channels never reach into the ORM.

    ``destination``: a Slack channel id, user id or email; a Teams Workflows URL; a push
    subscription (JSON); a webhook URL. ``delivery_id`` must stay the same across retries
    of one message (it is the webhook-id receivers deduplicate on): the caller passes the
    Notification's own id, e.g. ``f"ntf_{row.pk}"``. ``text`` is what happened, in words
    ("Acknowledged by alice"). ``acknowledge_url`` / ``resolve_url`` are signed,
    single-use links (notifications.links). ``reference`` is the provider id of an
    earlier message this one follows up (Slack updates that message in place)."""

    destination: str
    purpose: Purpose
    incident: IncidentSummary | None = None
    text: str = ""
    subject: str = ""
    acknowledge_url: str = ""
    resolve_url: str = ""
    reference: str = ""
    delivery_id: str = field(default_factory=_new_delivery_id)
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def headline(self) -> str:
        """One line naming the incident ("#12 CPU high on db-1"), or the subject."""
        if self.incident is None:
            return self.subject or "Klaxon test message"
        return f"#{self.incident.number} {self.incident.title}"


class Channel(ABC):
    kind: ClassVar[str]

    @classmethod
    @abstractmethod
    def from_settings(cls, options: Mapping[str, str] | None = None) -> Self:
        """The channel configured from Django settings and one target's stored
        ``options`` (a webhook's secret and template, say)."""

    @abstractmethod
    def send(self, message: OutgoingMessage) -> Delivery:
        """Send ``message`` once; raise ChannelError when it did not go out."""


CHANNELS: dict[str, type[Channel]] = {}

C = TypeVar("C", bound=type[Channel])


def register(cls: C) -> C:
    """Class decorator: make ``cls`` the channel for its ``kind``."""
    kind = cls.kind
    if len(kind) > 8:
        raise ValueError(f"channel kind {kind!r} is longer than 8 characters")
    if CHANNELS.get(kind, cls) is not cls:
        raise ValueError(f"two channels claim the kind {kind!r}")
    CHANNELS[kind] = cls
    return cls


def channel_for(kind: str) -> type[Channel]:
    """The channel class for ``kind``; KeyError naming the known kinds otherwise."""
    import notifications.channels  # noqa: F401  (its imports register every channel)

    try:
        return CHANNELS[kind]
    except KeyError:
        raise KeyError(f"no channel {kind!r}; known: {', '.join(sorted(CHANNELS))}") from None
