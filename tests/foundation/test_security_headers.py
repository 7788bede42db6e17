"""Security headers and production settings: the Content-Security-Policy on every
answer, HSTS and the https redirect when KLAXON_BASE_URL is https, and `manage.py check
--deploy` clean with production settings. (The browser side of the policy, every page
working under it with no violation, is tests/browser/test_content_security_policy.py.)"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from schedules.models import Layer, LayerMember, Schedule
from tests.conftest import ROOT
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CSP = "Content-Security-Policy"


def directives(response: Any) -> dict[str, str]:
    policy = response[CSP]
    return dict(part.strip().split(" ", 1) for part in policy.split(";"))


@pytest.mark.parametrize("path", ["/incidents/", "/login/", "/api/v1/incidents/", "/healthz"])
def test_every_answer_carries_a_policy_allowing_only_klaxons_own_scripts_and_styles(
    signed_in: Client, path: str
) -> None:
    response = signed_in.get(path)
    assert response.status_code == 200
    policy = directives(response)
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["base-uri"] == "'self'"
    assert policy["form-action"] == "'self'"
    assert "unsafe" not in response[CSP]


def test_the_schedule_timeline_style_block_carries_the_nonce_of_its_own_answer(
    signed_in: Client,
) -> None:
    schedule = Schedule.objects.create(name="Primary")
    layer = Layer.objects.create(
        schedule=schedule, name="Weekly", start="2026-01-05", handoff_time="09:00"
    )
    LayerMember.objects.create(layer=layer, user=UserFactory(), position=0)

    first = signed_in.get(f"/schedules/{schedule.pk}/")
    second = signed_in.get(f"/schedules/{schedule.pk}/")

    nonce = re.search(r"'nonce-([^']+)'", directives(first)["style-src"])
    assert nonce is not None
    html = first.content.decode()
    assert f'<style nonce="{nonce[1]}">' in html
    assert re.search(r"#tl-r\d+b1 \{ left: [0-9.]+%; width: [0-9.]+%; \}", html)
    assert 'style="' not in html
    assert nonce[1] not in second[CSP], "a nonce is used once"


def test_djangos_debug_error_pages_keep_their_inline_styles_in_debug_only(
    signed_in: Client, settings: Any
) -> None:
    assert CSP in signed_in.get("/no-such-page/")
    settings.DEBUG = True
    assert CSP not in signed_in.get("/no-such-page/")
    assert CSP in signed_in.get("/incidents/")


def test_pages_that_need_no_nonce_get_none(signed_in: Client) -> None:
    assert "nonce" not in signed_in.get("/incidents/")[CSP]


TEMPLATES = ROOT / "templates"
# Emails are read in mail clients, which need inline styles and never see our policy.
EMAILS = {TEMPLATES / "notifications/email_incident.html"}
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"\sstyle\s*=", re.IGNORECASE)
STYLE_BLOCK = re.compile(r"<style(?![^>]*\bnonce=)[^>]*>", re.IGNORECASE)


@pytest.mark.parametrize(
    "template",
    sorted(p for p in TEMPLATES.rglob("*.html") if p not in EMAILS),
    ids=lambda p: str(p.relative_to(TEMPLATES)),
)
def test_no_template_has_inline_script_event_handler_or_style(template: Path) -> None:
    text = template.read_text()
    for name, pattern in (
        ("inline <script>", INLINE_SCRIPT),
        ("inline event handler", EVENT_HANDLER),
        ("style attribute", STYLE_ATTRIBUTE),
        ("<style> without a nonce", STYLE_BLOCK),
    ):
        assert not pattern.search(text), f"{name} in {template.name}: the CSP blocks it"


def test_the_api_docs_load_their_script_and_styles_from_files(signed_in: Client) -> None:
    page = signed_in.get("/api/docs/")
    html = page.content.decode()
    assert page.status_code == 200
    assert not INLINE_SCRIPT.search(html) and "<style" not in html
    script = re.search(r'<script src="([^"]*script[^"]*)"', html)
    assert script is not None
    init = signed_in.get(script[1].replace("&amp;", "&"))
    assert init.status_code == 200
    assert init["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in init.content.decode()


def test_an_unknown_api_address_answers_json_not_the_dashboards_page(signed_in: Client) -> None:
    response = signed_in.get("/api/v1/incidents/not-a-number.json/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
    assert "text/html" in signed_in.get("/no-such-page/")["Content-Type"]


def settings_in_subprocess(tmp_path: Path, **env: str) -> dict[str, Any]:
    code = (
        "import os, json; os.environ['DJANGO_SETTINGS_MODULE']='config.settings'; "
        "from django.conf import settings as s; print(json.dumps({n: getattr(s, n, None) "
        "for n in ('SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS', "
        "'SECURE_SSL_REDIRECT', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE')}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], "KLAXON_VAR_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def test_hsts_and_the_https_redirect_are_on_only_when_the_base_url_is_https(
    tmp_path: Path,
) -> None:
    https = settings_in_subprocess(tmp_path, KLAXON_BASE_URL="https://klaxon.example.com")
    assert https == {
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_SSL_REDIRECT": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
    }
    plain = settings_in_subprocess(tmp_path, KLAXON_BASE_URL="http://127.0.0.1:8000")
    assert not plain["SECURE_HSTS_SECONDS"] and not plain["SECURE_SSL_REDIRECT"]


def test_behind_https_plain_http_is_redirected_but_health_probes_answer(
    client: Client, settings: Any
) -> None:
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

    redirected = client.get("/login/")
    assert redirected.status_code == 301
    assert redirected["Location"].startswith("https://")
    assert client.get("/healthz").status_code == 200
    secure = client.get("/login/", HTTP_X_FORWARDED_PROTO="https")
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == "max-age=31536000"


def test_check_deploy_is_clean_with_production_settings(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "KLAXON_VAR_DIR": str(tmp_path),
        "KLAXON_BASE_URL": "https://klaxon.example.com",
        "ALLOWED_HOSTS": "klaxon.example.com",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "false",
    }
    out = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "System check identified no issues" in out.stdout
    assert "WARNINGS" not in out.stderr
