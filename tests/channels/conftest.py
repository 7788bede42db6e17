from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from notifications.channels.base import IncidentSummary, OutgoingMessage, Purpose
from tests.fakes.push import FakePushService
from tests.fakes.server import WebhookReceiver
from tests.fakes.slack import FakeSlack

OPENED = datetime(2025, 3, 4, 5, 6, tzinfo=UTC)


def incident(**changes: Any) -> IncidentSummary:
    fields: dict[str, Any] = {
        "number": 12,
        "title": "CPU high on db-1",
        "state": "triggered",
        "url": "https://klaxon.example.com/incidents/12/",
        "severity": "critical",
        "integration": "prod AWS",
        "description": "Threshold Crossed: 1 datapoint [97.0] was greater than 90.",
        "opened_at": OPENED,
    }
    fields.update(changes)
    return IncidentSummary(**fields)


def message(destination: str, **changes: Any) -> OutgoingMessage:
    fields: dict[str, Any] = {
        "destination": destination,
        "purpose": Purpose.TRIGGERED,
        "incident": incident(),
        "text": "Paging alice: escalation step 1 of 2",
        "acknowledge_url": "https://klaxon.example.com/n/act/ACK-TOKEN/",
        "resolve_url": "https://klaxon.example.com/n/act/RESOLVE-TOKEN/",
        "delivery_id": "ntf_42",
        "occurred_at": datetime(2025, 3, 4, 5, 7, tzinfo=UTC),
    }
    fields.update(changes)
    return OutgoingMessage(**fields)


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def push_service() -> Iterator[FakePushService]:
    with FakePushService() as fake:
        yield fake


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as fake:
        yield fake
