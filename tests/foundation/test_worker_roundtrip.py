"""A task goes through the configured broker to a real worker process and back."""

from __future__ import annotations

import os
from typing import Any

import pytest
from django.db import connection

from config.celery import app as celery_app
from config.celery import ping


@pytest.mark.broker
def test_task_round_trips_through_a_real_worker(celery_worker: Any) -> None:
    result = ping.delay("hello from the test")
    assert result.get(timeout=30) == "hello from the test"


@pytest.mark.django_db
def test_ci_runs_on_a_postgresql_server_and_a_redis_broker_that_answer() -> None:
    """In CI the settings must name PostgreSQL and Redis (conftest refuses anything else);
    this checks the servers themselves answer as those, not just the settings."""
    if os.environ.get("CI", "").lower() not in ("1", "true", "yes"):
        pytest.skip("outside CI the suite runs on whatever DATABASE_URL says")
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        (version,) = cursor.fetchone()
    assert version.startswith("PostgreSQL ")
    with celery_app.connection_for_write() as broker:
        broker.ensure_connection(max_retries=1)
        assert broker.transport.driver_type == "redis"
        assert broker.default_channel.client.ping() is True  # type: ignore[attr-defined]
