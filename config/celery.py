from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("klaxon")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="klaxon.ping")
def ping(value: str = "pong") -> str:
    """Round-trip probe: proves a worker consumed the broker and wrote a result."""
    return value
