"""Klaxon settings, read from the environment.

With no environment at all Klaxon runs on embedded defaults: SQLite and a filesystem
Celery broker under ``var/``, email to the console and Twilio in "outbox" mode. Each
variable below switches one part to the real thing; nothing else changes.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import environ

from integrations.sources import sns as sns_patterns

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("KLAXON_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept in var/."""
    if value := env.str("SECRET_KEY", default=""):
        return str(value)
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
# Old keys that still verify (sessions, signed links) and decrypt (stored AWS credentials,
# aws/crypto.py) while you rotate SECRET_KEY.
SECRET_KEY_FALLBACKS: list[str] = env.list("SECRET_KEY_FALLBACKS", default=[])
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])
CI = env.bool("CI", default=False)

KLAXON_BASE_URL: str = env.str("KLAXON_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
# The host SNS posts to must be served, or Django answers 400 before anything is logged.
_base_host = urlsplit(KLAXON_BASE_URL).hostname
if _base_host and _base_host not in ALLOWED_HOSTS and "*" not in ALLOWED_HOSTS:
    ALLOWED_HOSTS.append(_base_host)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "accounts",
    "schedules",
    "escalation",
    "integrations",
    "incidents",
    "notifications",
    "reports",
    "audit",
    "server",
    "retention",
    "demo",
    "aws",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "incidents:list"
LOGOUT_REDIRECT_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.roles.context",
            ],
        },
    }
]

# Database: SQLite under var/ by default; DATABASE_URL=postgres://... for production.
DATABASES: dict[str, dict[str, Any]] = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'klaxon.sqlite3'}")
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A fresh PostgreSQL connection per request costs ~13 ms of CPU here; keep them.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=600)
    # Off by default: the check is one more round trip on every request (an ingest request
    # makes six). After a database restart the first request on each stale connection
    # fails once (the inbound path answers 503, so SNS delivers again) and the connection
    # is replaced.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=False)
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the worker write concurrently: WAL and immediate transactions
    # turn "database is locked" failures into short waits.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # synchronous=FULL: a 2xx to SNS means the row survives a power cut.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
    # A file, not memory, so a Celery worker process in the tests sees the same data.
    # Named per process so two test runs on one checkout do not share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://klaxon")}

# Sign-in throttling (accounts/throttle.py): this many failed sign-ins per username or
# per client address within the window lock it for the rest of the window. Counts live
# in the cache: CACHE_URL=rediscache://... shares them between processes.
SIGNIN_MAX_FAILURES = env.int("SIGNIN_MAX_FAILURES", default=10)
SIGNIN_WINDOW_SECONDS = env.int("SIGNIN_WINDOW_SECONDS", default=15 * 60)
# Behind a reverse proxy: the header it writes the client's address into (e.g.
# X-Forwarded-For); empty: the connection's address (REMOTE_ADDR).
CLIENT_IP_HEADER: str = env.str("CLIENT_IP_HEADER", default="")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Serve static files straight from static/ so a fresh checkout needs no collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# The Content-Security-Policy header: config/security.py.
if KLAXON_BASE_URL.startswith("https://"):
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    CSRF_TRUSTED_ORIGINS.append(KLAXON_BASE_URL)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Browsers that once saw Klaxon over https refuse plain http to it for a year.
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    # A request that reached Klaxon over plain http (the proxy says so in
    # X-Forwarded-Proto) is sent to https, except the health probes, which a load
    # balancer calls on the private address without TLS.
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    if not SECURE_HSTS_PRELOAD:
        # security.W021 asks for "preload", a request to be built into browsers, sent to
        # the browser vendors' list by the owner of the whole registered domain: not a
        # decision for one application on one of its hosts. SECURE_HSTS_PRELOAD=true
        # once the domain owner has decided.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]

# Email: console by default; EMAIL_URL=smtp+tls://user:pass@host:587 for real mail.
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Klaxon <klaxon@localhost>")

# Celery: a filesystem broker under var/ by default (no server needed);
# CELERY_BROKER_URL=redis://... in production.
CELERY_BROKER_URL: str = env.str("CELERY_BROKER_URL", default="filesystem://")
_BROKER_DIR = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    for _sub in ("queue", "processed", "control"):
        (_BROKER_DIR / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {
        "data_folder_in": str(_BROKER_DIR / "queue"),
        "data_folder_out": str(_BROKER_DIR / "queue"),
        "processed_folder": str(_BROKER_DIR / "processed"),
        "control_folder": str(_BROKER_DIR / "control"),
        "store_processed": False,
    }
    _default_results = f"file://{VAR_DIR / 'results'}"
    (VAR_DIR / "results").mkdir(exist_ok=True)
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": 3600,
        # A broker that is down or unreachable must cost a caller seconds, not minutes
        # (config/broker.py publishes once and leaves the rest to the beat).
        "socket_connect_timeout": 2,
        "socket_timeout": 10,
    }
    _default_results = CELERY_BROKER_URL
CELERY_RESULT_BACKEND: str = env.str("CELERY_RESULT_BACKEND", default=_default_results)
CELERY_RESULT_EXPIRES = 3600
# Every task's outcome is in the database (the incident, the Notification row); only the
# readiness ping (config/celery.py) stores a result. A task that stores one also makes
# each publish wait on the result backend, which is Redis: 19 s per request while it
# was down.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker waits for the broker as long as it takes (the default gives up after 100
# tries, about 50 minutes of outage, and exits).
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# ... and tries every second, not every 30 s, as beat does (config/reconnect.py).
CELERY_WORKER_CONSUMER = "config.reconnect:PagerConsumer"
# One scheduler leads at a time, however many run (server/scheduler.py).
CELERY_BEAT_SCHEDULER = "server.scheduler:KlaxonScheduler"
# Celery's Django fixup closes the database connection around every task unless this is
# set; a new PostgreSQL connection per task cost as much CPU as the tasks themselves
# (bench/paging_latency.py). Workers keep their connection like gunicorn does;
# config/celery.py retires stale or broken ones (CONN_MAX_AGE, CONN_HEALTH_CHECKS).
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# Paging has its own queue so a backlog of other work never delays a page; workers
# consume both (`manage.py serve` and the test worker pass -Q critical,celery). The
# escalation tasks (escalation/tasks.py) keep the names they had in incidents/tasks.py.
CELERY_TASK_ROUTES = {
    "incidents.tasks.escalate": {"queue": "critical"},
    "incidents.tasks.escalate_many": {"queue": "critical"},
    "notifications.tasks.*": {"queue": "critical"},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict[str, Any] = {
    # Rows past their retention (RETENTION_*_DAYS), in small batches.
    "prune-old-rows": {"task": "retention.tasks.prune_old_rows", "schedule": 3600.0},
    # A lost broker message or a crashed worker delays a page by one interval at most.
    "rekick-due-escalations": {
        "task": "incidents.tasks.rekick_due_escalations",
        "schedule": env.float("ESCALATION_REKICK_SECONDS", default=15.0),
        # While workers are down, re-kicks must not pile up for their return.
        "options": {"expires": env.float("ESCALATION_REKICK_SECONDS", default=15.0)},
    },
    # The same safety net for notifications: queued sends whose message was lost, and
    # sends a dead worker left half-done.
    "rekick-due-notifications": {
        "task": "notifications.tasks.rekick_due_notifications",
        "schedule": env.float("ESCALATION_REKICK_SECONDS", default=15.0),
        "options": {"expires": env.float("ESCALATION_REKICK_SECONDS", default=15.0)},
    },
}

# Retention in days (0 keeps for ever): the Inbound Log, the timelines of incidents
# resolved that long ago (the incidents stay, for reports), finished notifications.
RETENTION_INBOUND_DAYS = env.int("RETENTION_INBOUND_DAYS", default=30)
RETENTION_TIMELINE_DAYS = env.int("RETENTION_TIMELINE_DAYS", default=365)
RETENTION_NOTIFICATIONS_DAYS = env.int("RETENTION_NOTIFICATIONS_DAYS", default=180)

# Twilio: with no credentials, "outbox" mode records messages instead of sending.
TWILIO_ACCOUNT_SID: str = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN: str = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER: str = env.str("TWILIO_FROM_NUMBER", default="")
TWILIO_API_BASE: str = env.str("TWILIO_API_BASE", default="https://api.twilio.com")
TWILIO_OUTBOX_MODE = not (TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN)
TWILIO_TIMEOUT = env.float("TWILIO_TIMEOUT", default=10.0)
# Sending: transient errors (timeouts, 5xx, 429) are retried this many times in all,
# with exponential backoff from NOTIFY_RETRY_SECONDS.
NOTIFY_MAX_ATTEMPTS = env.int("NOTIFY_MAX_ATTEMPTS", default=4)
NOTIFY_RETRY_SECONDS = env.float("NOTIFY_RETRY_SECONDS", default=10.0)
# A send claimed this long ago and never finished (its worker died) is marked failed,
# not retried: it may have gone out, and a page must not be sent twice.
NOTIFY_STUCK_SECONDS = env.float("NOTIFY_STUCK_SECONDS", default=300.0)
# The beat re-queues a queued send this late (its own task message was lost).
NOTIFY_REKICK_GRACE_SECONDS = env.float("NOTIFY_REKICK_GRACE_SECONDS", default=30.0)
# Acknowledge/resolve links in emails: signed, single use, valid this long.
EMAIL_LINK_MAX_AGE_HOURS = env.float("EMAIL_LINK_MAX_AGE_HOURS", default=24.0)
# Phone verification codes: valid this long, this many wrong tries.
VERIFY_CODE_MINUTES = 10
VERIFY_CODE_MAX_TRIES = 5

# Amazon SNS inbound.
SNS_VERIFY_SIGNATURES = env.bool("SNS_VERIFY_SIGNATURES", default=True)
SNS_CERT_URL_PATTERN: str = env.str(
    "SNS_CERT_URL_PATTERN",
    default=sns_patterns.DEFAULT_CERT_URL_PATTERN,
)
SNS_SUBSCRIBE_URL_PATTERN: str = env.str(
    "SNS_SUBSCRIBE_URL_PATTERN",
    default=sns_patterns.DEFAULT_SUBSCRIBE_URL_PATTERN,
)
SNS_AUTO_CONFIRM = env.bool("SNS_AUTO_CONFIRM", default=True)
SNS_FETCH_TIMEOUT = env.float("SNS_FETCH_TIMEOUT", default=5.0)
INBOUND_MAX_BODY_BYTES = 256 * 1024
# How long a web process may serve an integration (token, enabled, topic) from memory
# before reading it again; changes made in the same process apply at once.
INTEGRATION_CACHE_SECONDS = env.float("INTEGRATION_CACHE_SECONDS", default=5.0)

# The AWS security pack (aws/). The region generated setups default to; the endpoint
# every boto3 client uses when set (tests point it at moto's server); how many matching
# CloudTrail records a metric alarm's incident gets as evidence.
AWS_REGION: str = env.str("AWS_REGION", default=env.str("AWS_DEFAULT_REGION", default="us-east-1"))
AWS_ENDPOINT_URL: str = env.str("AWS_ENDPOINT_URL", default="")
AWS_EVIDENCE_MAX_RECORDS = env.int("AWS_EVIDENCE_MAX_RECORDS", default=10)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.signin.ThrottledTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "config.openapi.KlaxonAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "config.pagination.BoundedLimitOffsetPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Klaxon API",
    "DESCRIPTION": (
        "On-call alerting: integrations, incidents, the Inbound Log, schedules, escalation "
        "policies, users, your contact methods and notification rules, notifications."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from the sidecar package: the docs work offline, no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

_LOG_LEVEL: str = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    # Secret URL paths (/in/<token>/, the iCal feeds, email links) are masked in every
    # line, e.g. django.request's "Not Found: /in/<token>/" (config/access_log.py).
    "filters": {"mask_secret_paths": {"()": "config.access_log.MaskSecretPaths"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["mask_secret_paths"],
        }
    },
    "root": {"handlers": ["console"], "level": _LOG_LEVEL},
    "loggers": {
        # Django's own handlers (console when DEBUG, runserver's) would print unmasked:
        # removed, so these lines go through the root's handler above.
        "django": {"handlers": [], "level": _LOG_LEVEL, "propagate": True},
        "django.server": {"handlers": [], "level": _LOG_LEVEL, "propagate": True},
        "django.db.backends": {"level": "WARNING"},
        # twilio logs every API request and response at INFO.
        "twilio.http_client": {"level": "WARNING"},
    },
}
