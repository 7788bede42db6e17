"""Settings of the ceiling project: no apps, no middleware, one database."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

_db = urlsplit(os.environ.get("CEILING_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/x"))

SECRET_KEY = "ceiling-bench-not-a-secret-" + "x" * 32
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "ceiling.urls"
WSGI_APPLICATION = "ceiling.wsgi.application"
USE_TZ = True
DATABASES: dict[str, dict[str, Any]] = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": _db.path.lstrip("/"),
        "USER": _db.username or "postgres",
        "PASSWORD": _db.password or "",
        "HOST": _db.hostname or "127.0.0.1",
        "PORT": str(_db.port or 5432),
        # Persistent connections, as Klaxon's gunicorn workers keep theirs.
        "CONN_MAX_AGE": 600,
        "CONN_HEALTH_CHECKS": False,
    }
}
