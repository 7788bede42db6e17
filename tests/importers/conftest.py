from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from importers.oncall_api import OnCallClient
from importers.opsgenie_api import OpsgenieClient
from tests.fakes import oncall_server, opsgenie_server

# The check window starts here: it spans the US (8 March) and EU (29 March) clock changes.
NOW = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def opsgenie() -> Iterator[opsgenie_server.FakeOpsgenie]:
    fake = opsgenie_server.FakeOpsgenie().start()
    yield fake
    fake.stop()


@pytest.fixture
def oncall() -> Iterator[oncall_server.FakeOnCall]:
    fake = oncall_server.FakeOnCall().start()
    yield fake
    fake.stop()


@pytest.fixture
def waits() -> list[float]:
    """The sleeps a client asked for (it is given ``waits.append`` instead of sleeping)."""
    return []


@pytest.fixture
def opsgenie_client(opsgenie: opsgenie_server.FakeOpsgenie, waits: list[float]) -> OpsgenieClient:
    return OpsgenieClient(
        api_base=opsgenie.base_url, api_key=opsgenie_server.API_KEY, sleep=waits.append
    )


@pytest.fixture
def oncall_client(oncall: oncall_server.FakeOnCall, waits: list[float]) -> OnCallClient:
    return OnCallClient(
        api_base=oncall.base_url, api_key=oncall_server.API_KEY, sleep=waits.append
    )
