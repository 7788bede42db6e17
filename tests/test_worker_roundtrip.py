"""A task goes through the configured broker to a real worker process and back."""

from __future__ import annotations

import os
from typing import Any

import pytest
from django.conf import settings

from config.celery import ping


@pytest.mark.broker
def test_task_round_trips_through_a_real_worker(celery_worker: Any) -> None:
    result = ping.delay("hello from the test")
    assert result.get(timeout=30) == "hello from the test"


def test_ci_uses_the_redis_broker_and_postgresql() -> None:
    if os.environ.get("CI", "").lower() != "true":
        pytest.skip("outside CI the suite runs on whatever DATABASE_URL says")
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
