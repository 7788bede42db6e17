"""Publishing Celery tasks without ever making a caller wait on a broker that is down.

The database is the source of truth for everything a task does (an escalation step is
``Incident.next_escalation_at``, a page is a queued ``Notification`` row), and beat
re-queues whatever is overdue. A message is only a way to start that work sooner. So a
publish is tried once, quickly; when the broker does not answer it is skipped, and for
``PAUSE_SECONDS`` afterwards this process does not try again, so an alert storm during a
broker outage costs each request nothing (without this, one request waited 19 s on
Redis retries, beyond SNS's 15 s timeout, and SNS gave up).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from celery import Task
from kombu.exceptions import KombuError

logger = logging.getLogger(__name__)

# After a failed publish, this process skips publishing for this long.
PAUSE_SECONDS = 5.0
# One quick attempt: the row is durable and beat is the retry.
_NO_RETRY = {"max_retries": 0}

_lock = threading.Lock()
_paused_until = 0.0


def broker_paused() -> bool:
    return time.monotonic() < _paused_until


def _pause(exc: BaseException) -> None:
    global _paused_until
    with _lock:
        first = not broker_paused()
        _paused_until = time.monotonic() + PAUSE_SECONDS
    if first:
        logger.warning(
            "broker unavailable (%s: %s); tasks are left to the beat re-kick for %.0f s",
            type(exc).__name__,
            exc,
            PAUSE_SECONDS,
        )


def resume() -> None:
    """Forget a pause (tests, and a process that knows the broker is back)."""
    global _paused_until
    _paused_until = 0.0


def _at(eta: datetime | None) -> dict[str, Any]:
    return {} if eta is None else {"eta": eta}


def publish(task: Task[Any, Any], *args: Any, eta: datetime | None = None) -> bool:
    """Queue ``task(*args)``; False when the broker is unavailable (nothing raised)."""
    return publish_many(task, [(args, eta)]) == 1


def publish_many(
    task: Task[Any, Any], calls: Iterable[tuple[Sequence[Any], datetime | None]]
) -> int:
    """Queue ``task`` once per (args, eta) over one broker connection; returns how many
    were queued. Stops at the first broker error: the rest are left to the beat."""
    calls = list(calls)
    if not calls or broker_paused():
        return 0
    if task.app.conf.task_always_eager:
        # Tests run tasks inline; eager tasks need no broker.
        for args, eta in calls:
            task.apply_async(tuple(args), **_at(eta))
        return len(calls)
    sent = 0
    try:
        with task.app.producer_or_acquire() as producer:
            for args, eta in calls:
                options = {"producer": producer, "retry_policy": _NO_RETRY, **_at(eta)}
                task.apply_async(tuple(args), **options)
                sent += 1
    except (KombuError, OSError) as exc:
        _pause(exc)
    except Exception as exc:  # redis-py's own errors are not all KombuErrors
        if type(exc).__module__.split(".")[0] not in ("redis", "kombu", "amqp"):
            raise
        _pause(exc)
    return sent
