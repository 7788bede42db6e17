"""The Inbound Log's row builder: what is kept of a request, whichever door it came in
by (an integration's URL, a Twilio webhook), made storable.

Anyone can post to those doors, so every text field goes through
``integrations.text.valid_text`` (no NUL, no lone surrogate) and is cut to its column's
length, here and nowhere else."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import models

from integrations.models import InboundMessage, Integration
from integrations.text import valid_data, valid_text

# Headers never worth keeping in the log (and never ours to store).
_DROPPED_HEADERS = frozenset({"cookie", "authorization", "x-csrftoken"})


def loggable_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in _DROPPED_HEADERS}


def _storable(name: str, value: Any) -> Any:
    """``value`` as InboundMessage.<name> can hold it: valid text, cut to max_length."""
    if not isinstance(value, str):
        return value
    text = valid_text(value)
    column = InboundMessage._meta.get_field(name)
    if isinstance(column, models.CharField) and column.max_length is not None:
        text = text[: column.max_length]
    return text


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as the Inbound Log keeps it; each ``row`` is a fresh unsaved row."""

    source: str  # InboundMessage.Source
    integration: Integration | None
    received_at: datetime
    source_ip: str | None
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)  # loggable_headers already
    message_type: str = ""

    def row(self, **fields: Any) -> InboundMessage:
        """An unsaved row for this request with ``fields`` (outcome, reason, ids...)."""
        fields.setdefault("message_type", self.message_type)
        return InboundMessage(
            source=self.source,
            integration=self.integration,
            received_at=self.received_at,
            source_ip=self.source_ip,
            headers=valid_data(self.headers),
            body=valid_text(self.body.decode("utf-8", errors="replace")),
            body_size=len(self.body),
            **{name: _storable(name, value) for name, value in fields.items()},
        )
