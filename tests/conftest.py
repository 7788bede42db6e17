from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from config.celery import app as celery_app
from tests.factories import UserFactory
from tests.twilio_server import FakeTwilio
from tests.waiting import stop

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def pytest_configure(config: pytest.Config) -> None:
    """With CI=true the suite must run on PostgreSQL and a Redis broker: fail, not skip."""
    if os.environ.get("CI", "").lower() not in ("1", "true", "yes"):
        return
    problems = []
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        problems.append("DATABASE_URL must point at PostgreSQL when CI=true")
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        problems.append("CELERY_BROKER_URL must point at Redis when CI=true")
    if problems:
        raise pytest.UsageError("; ".join(problems))


# --- Races only PostgreSQL can show ---------------------------------------------------------
#
# SQLite serialises writers, so a race between two requests never happens on it. A test
# marked ``postgresql`` runs as it is on PostgreSQL (CI). On SQLite (a default local run)
# it runs again in a child pytest against a throwaway database on the local PostgreSQL
# server when one answers, and passes or fails with it; with no server it is skipped, and
# the summary line says so rather than hiding it among the other skips.

POSTGRES_SERVER = os.environ.get("KLAXON_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432")
_elsewhere: dict[str, str] = {}  # test name -> "" (passed there) or why it did not
_skipped_races: list[str] = []


def _postgresql_answers() -> bool:
    import psycopg

    try:
        with psycopg.connect(f"{POSTGRES_SERVER}/postgres", connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def _run_races_on_postgresql(items: list[pytest.Item]) -> dict[str, str]:
    """Run ``items`` in one child pytest on a throwaway PostgreSQL database (pytest-django
    creates and drops it); each test's name -> "" when it passed, else what happened."""
    import xml.etree.ElementTree as ET
    from tempfile import TemporaryDirectory

    env = dict(os.environ)
    env.pop("CI", None)
    env["DATABASE_URL"] = f"{POSTGRES_SERVER}/klaxon_races_{os.getpid()}"
    with TemporaryDirectory() as tmp:
        report = Path(tmp) / "races.xml"
        child = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             f"--junitxml={report}", *(item.nodeid for item in items)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        if not report.exists():
            why = f"the child pytest did not run:\n{child.stdout[-2000:]}"
            return {item.name: why for item in items}
        results = {}
        for case in ET.parse(report).iter("testcase"):
            # (An Element without children is false: compare with None.)
            found = [case.find(tag) for tag in ("failure", "error", "skipped")]
            problem = next((element for element in found if element is not None), None)
            results[case.get("name", "")] = (
                "" if problem is None else f"{problem.get('message', '')}\n{problem.text or ''}"
            )
        return results


def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """A ``postgresql`` test on SQLite: its outcome is the child run's (see above)."""
    from django.db import connection

    if pyfuncitem.get_closest_marker("postgresql") is None or connection.vendor == "postgresql":
        return None
    if pyfuncitem.name not in _elsewhere:
        races = [i for i in pyfuncitem.session.items if i.get_closest_marker("postgresql")]
        if _postgresql_answers():
            _elsewhere.update(_run_races_on_postgresql(races))
        else:
            _elsewhere.update({i.name: "no PostgreSQL answers" for i in races})
    problem = _elsewhere.get(pyfuncitem.name, "not run by the child pytest")
    if problem == "no PostgreSQL answers":
        _skipped_races.append(pyfuncitem.nodeid)
        pytest.skip(f"needs PostgreSQL (SQLite serialises writers); none at {POSTGRES_SERVER}")
    if problem:
        pytest.fail(f"on a throwaway PostgreSQL database: {problem}", pytrace=False)
    return True  # passed there; the body is not run here, on SQLite


def pytest_terminal_summary(terminalreporter: Any) -> None:
    ran = [name for name, problem in _elsewhere.items() if problem != "no PostgreSQL answers"]
    if ran:
        terminalreporter.write_line(
            f"{len(ran)} PostgreSQL-only race test(s) ran on a throwaway database at "
            f"{POSTGRES_SERVER} (this run is on SQLite)."
        )
    if _skipped_races:
        terminalreporter.write_line(
            f"{len(_skipped_races)} PostgreSQL-only race test(s) NOT RUN: no PostgreSQL at "
            f"{POSTGRES_SERVER} (set KLAXON_TEST_POSTGRES, or run with DATABASE_URL on "
            "PostgreSQL).",
            yellow=True,
            bold=True,
        )


@pytest.fixture(autouse=True)
def _eager_celery_unless_worker(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tasks run inline by default; tests that ask for ``celery_worker`` use the real one."""
    eager = "celery_worker" not in request.fixturenames
    # Under the CELERY_ namespace the prefixed name wins over the plain one on reads, so
    # set that one (setting task_always_eager alone was read back as Django's False).
    previous = celery_app.conf.task_always_eager
    celery_app.conf.CELERY_TASK_ALWAYS_EAGER = eager
    yield
    celery_app.conf.CELERY_TASK_ALWAYS_EAGER = previous


@pytest.fixture(autouse=True)
def _clear_cache(settings: Any) -> Iterator[None]:
    from django.core.cache import cache

    from integrations.inbound import forget_cached_integrations

    # Tests change integrations with .update(), as another process would; the token
    # cache is off except where a test turns it on (tests/inbound/test_inbound_token_cache.py).
    settings.INTEGRATION_CACHE_SECONDS = 0
    cache.clear()
    forget_cached_integrations()
    yield
    cache.clear()
    forget_cached_integrations()


# The public URL worker processes build links and Twilio callback URLs from.
WORKER_BASE_URL = "https://klaxon.example.com"
# The Twilio auth token tests sign webhooks with (tests/twilio_signing.py).
TWILIO_TEST_TOKEN = "test-token"


@pytest.fixture
def twilio_webhooks(settings: Any) -> None:
    """Twilio configured, so webhooks signed with TWILIO_TEST_TOKEN over WORKER_BASE_URL
    + path are genuine."""
    settings.TWILIO_AUTH_TOKEN = TWILIO_TEST_TOKEN
    settings.KLAXON_BASE_URL = WORKER_BASE_URL


def _worker_env(database_name: str, twilio: FakeTwilio | None = None) -> dict[str, str]:
    env = dict(os.environ)
    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.postgresql":
        env["DATABASE_URL"] = (
            f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{database_name}"
        )
    else:
        env["DATABASE_URL"] = f"sqlite:///{database_name}"
    env["CELERY_BROKER_URL"] = settings.CELERY_BROKER_URL
    env["CELERY_RESULT_BACKEND"] = settings.CELERY_RESULT_BACKEND
    # The worker outlives any one test's local SNS peer: allow every loopback port.
    env["SNS_CERT_URL_PATTERN"] = r"http://127\.0\.0\.1:[0-9]+/[^?#]*\.pem"
    env["SNS_SUBSCRIBE_URL_PATTERN"] = (
        r"http://127\.0\.0\.1:[0-9]+/\?([^#]*&)?Action=ConfirmSubscription(&[^#]*)?"
    )
    env["KLAXON_BASE_URL"] = WORKER_BASE_URL
    # Sends go to the fake Twilio server when there is one, else to the outbox.
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER"):
        env.pop(name, None)
    if twilio is not None:
        env.update(twilio.env())
    return env


WORKER_QUEUES = ("critical", "celery")
WORKER_COMMAND = [
    sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo",
    "--loglevel", "WARNING", "--without-heartbeat", "--without-gossip", "--without-mingle",
    "-Q", ",".join(WORKER_QUEUES),
]  # fmt: skip


@pytest.fixture(scope="session")
def twilio_server() -> Iterator[FakeTwilio]:
    """A Twilio-compatible HTTP server the worker process sends SMS and calls to."""
    server = FakeTwilio().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def celery_worker_process(
    django_db_setup: Any, django_db_blocker: Any, twilio_server: FakeTwilio
) -> Iterator[Any]:
    """A real Celery worker in its own process, on the configured broker and the test DB,
    sending SMS and calls to the fake Twilio server."""
    database_name = settings.DATABASES["default"]["NAME"]
    with celery_app.connection_for_write() as conn:
        # Drop leftovers from an earlier run so the worker starts on empty queues.
        for queue in WORKER_QUEUES:
            conn.default_channel.queue_purge(queue)  # type: ignore[attr-defined]
    proc = subprocess.Popen(
        WORKER_COMMAND, cwd=ROOT, env=_worker_env(database_name, twilio_server)
    )
    try:
        # Wait until it consumes: a ping task round-trips through broker and backend.
        celery_app.conf.CELERY_TASK_ALWAYS_EAGER = False
        deadline = time.monotonic() + 60
        result = celery_app.send_task("klaxon.ping", args=["ready"])
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"celery worker exited with {proc.returncode}")
            if result.ready():
                break
            time.sleep(0.2)
        else:
            raise RuntimeError("celery worker did not answer within 60 s")
        yield proc
    finally:
        stop(proc)


@pytest.fixture
def celery_worker(celery_worker_process: Any, transactional_db: Any) -> Any:
    """Per-test handle on the shared worker; data must be committed for it to see it."""
    return celery_worker_process


@pytest.fixture
def user(db: Any) -> Any:
    return UserFactory(username="responder")


@pytest.fixture
def signed_in(client: Client, user: Any) -> Client:
    client.force_login(user)
    return client
