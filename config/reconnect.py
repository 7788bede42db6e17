"""Reconnecting to the broker at once, for the Celery worker and for beat.

When the broker goes away, Celery's worker and beat both reconnect with kombu's default
pause: 2 s, growing by 2 s, up to 30 s. After a one-minute Redis outage they came back
up to 16 s after Redis did, and paging waited for them: every overdue step is due on
its database row and needs only a beat tick and a consuming worker. Here both try every
second instead (``CELERY_WORKER_CONSUMER``, and beat's scheduler in server/scheduler.py).
"""

from __future__ import annotations

from typing import Any

from celery.worker.consumer import Consumer

RECONNECT_SECONDS = 1.0


def quickly(ensure_connection: Any) -> Any:
    """``ensure_connection`` (kombu's) with a fixed one-second pause between tries."""

    def ensure(*args: Any, **kwargs: Any) -> Any:
        kwargs.update(
            interval_start=RECONNECT_SECONDS, interval_step=0, interval_max=RECONNECT_SECONDS
        )
        return ensure_connection(*args, **kwargs)

    return ensure


class PagerConsumer(Consumer):
    def ensure_connected(self, conn: Any) -> Any:
        # Celery's own method, on a connection whose ensure_connection is made quick.
        original = conn.ensure_connection
        conn.ensure_connection = quickly(original)
        try:
            return super().ensure_connected(conn)
        finally:
            conn.ensure_connection = original
