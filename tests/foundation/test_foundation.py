"""The runnable product: sign-in, navigation, health probes, admin, API basics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from accounts.models import Team, User
from escalation.models import EscalationPolicy
from integrations.models import Integration
from schedules.models import Schedule
from tests.conftest import ROOT
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NAV_PAGES = [
    "incidents:list",
    "integrations:list",
    "integrations:inbound-list",
    "schedules:list",
    "policies:list",
    "accounts:teams",
]


def test_anonymous_visitor_is_sent_to_sign_in(client: Client) -> None:
    response = client.get(reverse("incidents:list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_user_signs_in_with_password_and_sees_navigation(client: Client) -> None:
    UserFactory(username="alice")
    response = client.post(
        reverse("login"), {"username": "alice", "password": "correct horse battery"}
    )
    assert response.status_code == 302
    page = client.get(response["Location"])
    html = page.content.decode()
    for label in ("Incidents", "Integrations", "Inbound Log", "Schedules", "Escalation policies",
                  "Teams"):  # fmt: skip
        assert f">{label}</a>" in html


def test_wrong_password_says_so(client: Client) -> None:
    UserFactory(username="alice")
    response = client.post(reverse("login"), {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert "do not match" in response.content.decode()


@pytest.mark.parametrize("name", NAV_PAGES)
def test_every_page_in_the_navigation_renders_when_empty(signed_in: Client, name: str) -> None:
    response = signed_in.get(reverse(name))
    assert response.status_code == 200
    assert (
        'class="card empty"' in response.content.decode() or "empty" in response.content.decode()
    )


def test_pages_use_vendored_htmx_not_a_cdn(signed_in: Client) -> None:
    html = signed_in.get(reverse("incidents:list")).content.decode()
    assert "/static/js/htmx.min.js" in html
    assert "unpkg" not in html and "cdn" not in html.lower()
    assert (ROOT / "static/js/htmx.min.js").read_text().startswith("var htmx")


def test_forms_carry_csrf_token_for_htmx(signed_in: Client) -> None:
    html = signed_in.get(reverse("incidents:list")).content.decode()
    assert 'hx-headers=\'{"X-CSRFToken": "' in html


def test_healthz_answers_while_the_process_is_up(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ok_when_database_and_broker_answer(client: Client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json()["broker"] == "ok"


def test_readyz_names_the_broker_when_it_does_not_answer(client: Client, settings: Any) -> None:
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert set(body["problems"]) == {"broker"}
    assert "broker unreachable" in body["problems"]["broker"]


def test_readyz_names_the_database_when_it_does_not_answer(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import OperationalError, connection

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", refuse)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "database unreachable" in response.json()["problems"]["database"]


def test_admin_is_enabled_for_staff(client: Client) -> None:
    admin = User.objects.create_superuser("root", "root@example.com", "pw-for-tests-only")
    client.force_login(admin)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/integrations/integration/").status_code == 200


def test_create_api_token_prints_a_token_that_authenticates() -> None:
    UserFactory(username="bot")
    out = StringIO()
    call_command("create_api_token", "bot", stdout=out)
    token = out.getvalue().strip().splitlines()[-1]
    assert len(token) == 40
    api = Client()
    assert api.get("/api/v1/incidents/").status_code in (401, 403)
    response = api.get("/api/v1/incidents/", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_create_api_token_for_unknown_user_fails_clearly() -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No user named 'ghost'"):
        call_command("create_api_token", "ghost")


def test_openapi_schema_and_docs_are_served_without_a_cdn(signed_in: Client) -> None:
    schema = signed_in.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = json.loads(schema.content)["paths"]
    for path in ("/api/v1/integrations/", "/api/v1/incidents/{id}/acknowledge/",
                 "/api/v1/inbound-messages/", "/api/v1/schedules/"):  # fmt: skip
        assert path in paths
    docs = signed_in.get("/api/docs/")
    assert docs.status_code == 200
    assert "cdn.jsdelivr" not in docs.content.decode()


def test_seed_demo_creates_the_demo_once_and_prints_the_login() -> None:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    call_command("seed_demo", stdout=StringIO())
    assert "Demo login: admin / " in out.getvalue()
    assert User.objects.filter(is_superuser=True).count() == 1
    assert User.objects.filter(is_superuser=False).count() == 3
    assert Team.objects.count() == 1
    assert Schedule.objects.get().layers.get().turn == "weekly"
    assert EscalationPolicy.objects.get().steps.count() == 2
    integration = Integration.objects.get()
    assert integration.kind == "aws_sns" and integration.escalation_policy is not None
    client = Client()
    assert client.login(username="admin", password="klaxon-demo")


def test_no_environment_means_embedded_defaults(tmp_path: Any) -> None:
    """A fresh machine with no variables gets SQLite, a serverless broker, console email
    and the Twilio outbox."""
    env = {"PATH": os.environ["PATH"], "KLAXON_VAR_DIR": str(tmp_path)}
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings'; "
        "from django.conf import settings as s; import json; print(json.dumps(["
        "s.DATABASES['default']['ENGINE'], s.DATABASES['default']['NAME'], "
        "s.CELERY_BROKER_URL, s.EMAIL_BACKEND, s.TWILIO_OUTBOX_MODE, s.DEBUG]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    engine, name, broker, email, outbox, debug = json.loads(out.stdout)
    assert engine == "django.db.backends.sqlite3" and name.startswith(str(tmp_path))
    assert broker == "filesystem://"
    assert email == "django.core.mail.backends.console.EmailBackend"
    assert outbox is True and debug is False
    assert (tmp_path / "secret_key").exists()


def test_database_url_switches_to_postgresql_with_persistent_connections(tmp_path: Any) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "KLAXON_VAR_DIR": str(tmp_path),
        "DATABASE_URL": "postgres://u:p@db.example:5432/klaxon",
        "CELERY_BROKER_URL": "redis://cache.example:6379/0",
    }
    code = (
        "import os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings'; "
        "from django.conf import settings as s; "
        "d=s.DATABASES['default']; print(d['ENGINE'], d['CONN_MAX_AGE'], "
        "s.CELERY_RESULT_BACKEND)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == [
        "django.db.backends.postgresql",
        "600",
        "redis://cache.example:6379/0",
    ]
