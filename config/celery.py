from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("klaxon")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="klaxon.ping", ignore_result=False)
def ping(value: str = "pong") -> str:
    """Round-trip probe: proves a worker consumed the broker and wrote a result."""
    return value


@task_prerun.connect
@task_postrun.connect
def _retire_old_connections(sender: Any = None, **kwargs: Any) -> None:
    """Close a connection that is broken or past CONN_MAX_AGE, as Django does around each
    request (the worker otherwise keeps it: CELERY_DB_REUSE_MAX). Not for eager tasks:
    they run inside the caller's transaction."""
    if sender is not None and getattr(sender.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
