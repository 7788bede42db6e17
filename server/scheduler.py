"""The periodic scheduler (Celery beat) as Klaxon runs it: one leader at a time.

Run a scheduler on two machines and only one of them sends the periodic tasks (the
re-kicks of overdue escalation steps and sends): each holds a PostgreSQL session-level
advisory lock while it leads, checked on every tick. If the leader's machine dies its
session ends, the lock is released, and the other takes over within
``STANDBY_CHECK_SECONDS``. (Without this, two beats doubled every periodic task.) On
SQLite there is one machine by definition and no lock.

It also reconnects to the broker every second instead of backing off (see
config/reconnect.py).
"""

from __future__ import annotations

import logging
from typing import Any

from celery.beat import PersistentScheduler
from django.db import DatabaseError, connection

from config.reconnect import quickly

logger = logging.getLogger(__name__)

# An arbitrary constant naming Klaxon's scheduler lock among advisory locks.
LOCK_KEY = 0x4B4C5853  # "KLXS"
STANDBY_CHECK_SECONDS = 2.0

# True while this session holds the lock; else try to take it (never waits).
_LEAD = (
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = 0 "
    "AND objid = %s AND objsubid = 1 AND pid = pg_backend_pid() AND granted) "
    "OR pg_try_advisory_lock(%s)"
)


def scheduler_is_leader() -> bool:
    """Whether this process may send the periodic tasks now."""
    if connection.vendor != "postgresql":
        return True
    try:
        with connection.cursor() as cursor:
            cursor.execute(_LEAD, [LOCK_KEY, LOCK_KEY])
            (leading,) = cursor.fetchone()
    except DatabaseError:
        # The database went away, and with it any lock this session held: start afresh.
        connection.close()
        return False
    return bool(leading)


class KlaxonScheduler(PersistentScheduler):
    _leading = False

    def tick(self, *args: Any, **kwargs: Any) -> float:
        leading = scheduler_is_leader()
        if leading != self._leading:
            self._leading = leading
            if leading:
                logger.info("scheduler: leading (sending the periodic tasks)")
            else:
                logger.info("scheduler: standing by (another scheduler leads)")
        if not leading:
            return STANDBY_CHECK_SECONDS
        return float(super().tick(*args, **kwargs))

    def _ensure_connected(self) -> Any:
        def say(exc: Exception, interval: float) -> None:
            logger.error("beat: broker unavailable (%s); trying again in %.0f s", exc, interval)

        ensure = quickly(self.connection.ensure_connection)
        return ensure(say, self.app.conf.broker_connection_max_retries)
