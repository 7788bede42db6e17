"""Two schedulers may run (one per machine); only the one holding the lock sends the
periodic tasks, and the other takes over when the leader's session ends."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from server.scheduler import LOCK_KEY, KlaxonScheduler, scheduler_is_leader


def other_session() -> psycopg.Connection[Any]:
    """A second database session, as another machine's scheduler would have."""
    db = settings.DATABASES["default"]
    return psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname=db["NAME"],
        autocommit=True,
    )


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_only_one_scheduler_leads_and_the_other_takes_over_when_it_goes() -> None:
    other = other_session()
    try:
        took = other.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY]).fetchone()
        assert took == (True,)
        assert scheduler_is_leader() is False  # the other machine leads
        assert scheduler_is_leader() is False
    finally:
        other.close()  # its machine died: the session and the lock are gone
    assert scheduler_is_leader() is True
    assert scheduler_is_leader() is True  # keeps leading, without stacking the lock
    held = (
        other_session()
        .execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s",
            [LOCK_KEY],
        )
        .fetchone()
    )
    assert held == (1,)
    connection.close()  # release for the tests that follow


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_standby_scheduler_sends_nothing(monkeypatch: Any) -> None:
    other = other_session()
    try:
        other.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
        sent: list[str] = []

        def beat_tick(self: Any, *args: Any, **kwargs: Any) -> float:
            sent.append("tick")
            return 1.0

        monkeypatch.setattr(KlaxonScheduler.__mro__[1], "tick", beat_tick)
        scheduler = KlaxonScheduler.__new__(KlaxonScheduler)  # no beat machinery needed
        assert scheduler.tick() == 2.0
        assert sent == []
    finally:
        other.close()
    assert scheduler.tick() == 1.0
    assert sent == ["tick"]
    connection.close()


def test_on_sqlite_the_one_scheduler_always_leads(db: Any) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only: one machine, no lock")
    assert scheduler_is_leader() is True
