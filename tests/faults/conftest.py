from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings

from tests.faults.harness import TIMINGS, KlaxonNode, RedisServer, keep_log
from tests.sns_peer import SnsPeer
from tests.twilio_server import FakeTwilio

# Fault tests are slow (they wait out real outages) and run on their own:
# `pytest -m fault` (make test runs them after the main suite).
pytestmark = pytest.mark.fault


def _require(binary: str) -> None:
    if shutil.which(binary) is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{binary} is needed for the fault tests")
        pytest.skip(f"{binary} is not installed")


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    _require("redis-server")
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    server = FakeTwilio().start()
    yield server
    server.stop()


@pytest.fixture
def peer() -> Iterator[SnsPeer]:
    server = SnsPeer().start()
    yield server
    server.stop()


def database_url_for_processes() -> str:
    """The URL of the database pytest-django made for this run, for other processes."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.postgresql":
        return (
            f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}"
        )
    return f"sqlite:///{db['NAME']}"


@pytest.fixture
def node(
    request: pytest.FixtureRequest,
    transactional_db: Any,
    redis_server: RedisServer,
    twilio: FakeTwilio,
    peer: SnsPeer,
) -> Iterator[KlaxonNode]:
    """A Klaxon node (web, worker, scheduler under `manage.py serve`) on the test
    database and a private Redis. Its log is kept in test-results/<test>.log."""
    klaxon = KlaxonNode(database_url_for_processes(), redis_server.url, twilio, peer).start()
    yield klaxon
    klaxon.stop()
    keep_log(klaxon, request.node.name)
    shutil.rmtree(klaxon.var_dir, ignore_errors=True)


@pytest.fixture
def record_recovery(request: pytest.FixtureRequest) -> Iterator[dict[str, float]]:
    """Times a test measured (seconds), kept in test-results/fault-recovery.json."""
    measured: dict[str, float] = {}
    yield measured
    if not measured:
        return
    TIMINGS.parent.mkdir(exist_ok=True)
    known: dict[str, Any] = json.loads(TIMINGS.read_text()) if TIMINGS.exists() else {}
    known[request.node.name] = {k: round(v, 2) for k, v in measured.items()}
    TIMINGS.write_text(json.dumps(known, indent=2) + "\n")
