"""/settings/: an admin sees how Klaxon reaches Twilio and email, with the webhook URLs
to paste, and no secret; everyone else gets a friendly 403."""

from __future__ import annotations

import html
from typing import Any

import pytest
from django.test import Client

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SID = "AC0123456789abcdef0123456789ab1234"
TOKEN = "f00dfeedf00dfeedf00dfeedf00dfeed"


@pytest.fixture
def admin_client(client: Client) -> Client:
    client.force_login(UserFactory(username="boss", is_staff=True))
    return client


def page(client: Client) -> str:
    response = client.get("/settings/")
    assert response.status_code == 200
    return str(html.unescape(response.content.decode()))


def test_webhook_urls_are_built_from_the_base_url_with_copy_buttons(
    admin_client: Client, settings: Any
) -> None:
    settings.KLAXON_BASE_URL = "https://klaxon.example.com"
    text = page(admin_client)
    for element_id, path in (
        ("webhook-sms", "/webhooks/twilio/sms/"),
        ("webhook-voice", "/webhooks/twilio/voice/"),
        ("webhook-status", "/webhooks/twilio/status/"),
    ):
        assert (
            f'<code class="url" id="{element_id}">https://klaxon.example.com{path}</code>' in text
        )
        assert f'data-copy="{element_id}"' in text
    assert "“A message comes in”" in text
    assert "Klaxon sets it on each call" in text
    assert "Twilio and email links cannot reach this" not in text


def test_a_local_base_url_is_flagged(admin_client: Client, settings: Any) -> None:
    settings.KLAXON_BASE_URL = "http://127.0.0.1:8000"
    text = page(admin_client)
    assert (
        "Twilio and email links cannot reach this; set KLAXON_BASE_URL to the public URL." in text
    )
    assert "http://127.0.0.1:8000/webhooks/twilio/sms/" in text
    settings.KLAXON_BASE_URL = "http://localhost:8000"
    assert "cannot reach this" in page(admin_client)


def test_outbox_mode_is_said_in_words(admin_client: Client, settings: Any) -> None:
    settings.TWILIO_ACCOUNT_SID = ""
    settings.TWILIO_AUTH_TOKEN = ""
    settings.TWILIO_OUTBOX_MODE = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    text = page(admin_client)
    assert (
        "Outbox mode: no TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN, SMS and calls are recorded on "
        "the Outbox page, not sent." in text
    )
    assert "Console: emails are printed in the server's log, not sent (set EMAIL_URL)." in text


def test_live_mode_masks_the_account_and_never_shows_the_token(
    admin_client: Client, settings: Any
) -> None:
    settings.TWILIO_ACCOUNT_SID = SID
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.TWILIO_FROM_NUMBER = "+15005550006"
    settings.TWILIO_OUTBOX_MODE = False
    settings.TWILIO_API_BASE = "http://127.0.0.1:4010"
    text = page(admin_client)
    assert "Live: account AC…1234, from +15005550006." in text
    assert SID not in text and TOKEN not in text
    assert "http://127.0.0.1:4010" in text


def test_the_default_api_base_is_not_mentioned(admin_client: Client, settings: Any) -> None:
    settings.TWILIO_API_BASE = "https://api.twilio.com"
    assert "TWILIO_API_BASE</dt>" not in page(admin_client)


def test_smtp_is_described_without_its_password(admin_client: Client, settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "smtp.example.com"
    settings.EMAIL_PORT = 587
    settings.EMAIL_USE_TLS = True
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = "klaxon"
    settings.EMAIL_HOST_PASSWORD = "hunter2-secret"
    settings.DEFAULT_FROM_EMAIL = "Klaxon <pager@example.com>"
    text = page(admin_client)
    assert "SMTP: smtp.example.com:587 with STARTTLS, signing in as klaxon." in text
    assert "Klaxon <pager@example.com>" in text
    assert "hunter2-secret" not in text


def test_only_staff_see_settings(client: Client) -> None:
    client.force_login(UserFactory(username="responder"))
    response = client.get("/settings/")
    assert response.status_code == 403
    text = html.unescape(response.content.decode())
    assert "Only administrators can see the settings." in text
    assert "/webhooks/twilio/" not in text
    assert "<header" in text  # the normal layout, not a bare error page


def test_settings_need_sign_in(client: Client) -> None:
    response = client.get("/settings/")
    assert response.status_code == 302 and "/login/" in response["Location"]
