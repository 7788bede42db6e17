"""Publishing a task never makes a caller wait on a broker that is down: one quick try,
then a pause in which this process does not try again; the database row stays due and
beat re-queues it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery

from config import broker
from escalation.tasks import escalate

# An app of its own on a Redis port where nothing listens, configured as Klaxon's is.
DEAD_URL = "redis://127.0.0.1:9/0"
dead = Celery("dead", broker=DEAD_URL, set_as_current=False)
dead.conf.broker_transport_options = {"socket_connect_timeout": 2, "socket_timeout": 10}
dead.conf.task_ignore_result = True


@dead.task(name="dead.noop")
def _noop(*args: Any) -> None:
    return None


dead.finalize()
noop = dead.tasks["dead.noop"]  # bound to this app, whatever app is current


@pytest.fixture
def dead_broker(monkeypatch: Any) -> Iterator[None]:
    # Celery reads CELERY_BROKER_URL from the environment before any configuration.
    monkeypatch.setenv("CELERY_BROKER_URL", DEAD_URL)
    broker.resume()
    yield
    broker.resume()


def test_a_broker_that_is_down_costs_one_quick_try_then_nothing(dead_broker: None) -> None:
    started = time.monotonic()
    assert broker.publish(noop, 1, "token") is False
    first = time.monotonic() - started
    assert broker.broker_paused()

    started = time.monotonic()
    assert broker.publish_many(noop, [((n, "t"), None) for n in range(100)]) == 0
    assert time.monotonic() - started < 0.05  # paused: not even tried
    assert first < 1.0


def test_publishing_resumes_after_the_pause(dead_broker: None, monkeypatch: Any) -> None:
    assert broker.publish(noop, 1, "token") is False
    monkeypatch.setattr(broker, "PAUSE_SECONDS", 0.0)
    broker.resume()
    # Tried again (and fails again, the broker still being down), not skipped.
    assert not broker.broker_paused()
    assert broker.publish(noop, 1, "token") is False


def test_eager_tasks_need_no_broker(db: Any) -> None:
    # The test suite's default: tasks run inline; publish reports them as queued.
    assert broker.publish(escalate, 10**9, "token") is True
