"""Sign-in throttling: 10 failed sign-ins per username or per address within 15 minutes
lock it for the rest of the window with a clear message; a success clears the
username's count; API token guessing is throttled per address the same way."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"


def sign_in(client: Client, username: str, password: str, address: str = "192.0.2.1") -> Any:
    return client.post(
        "/login/", {"username": username, "password": password}, REMOTE_ADDR=address
    )


def fail(client: Client, times: int, username: str = "alice", address: str = "192.0.2.1") -> None:
    for _ in range(times):
        assert sign_in(client, username, "wrong", address).status_code == 200


def test_the_tenth_failure_locks_the_account_with_a_clear_message(client: Client) -> None:
    UserFactory(username="alice")
    fail(client, 10)

    response = sign_in(client, "alice", "wrong")

    assert response.status_code == 429
    assert "Too many failed sign-ins for this account; try again in 15 minutes." in (
        response.content.decode()
    )


def test_the_right_password_is_refused_while_the_account_is_locked(client: Client) -> None:
    UserFactory(username="alice")
    fail(client, 10)

    response = sign_in(client, "alice", PASSWORD, address="198.51.100.7")

    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_lock_ends_with_its_window(client: Client, monkeypatch: Any) -> None:
    UserFactory(username="alice")
    fail(client, 10)
    assert sign_in(client, "alice", PASSWORD).status_code == 429
    later = time.time() + 15 * 60 + 1

    # The throttle and the cache's expiry read the same clock.
    monkeypatch.setattr(time, "time", lambda: later)

    assert sign_in(client, "alice", PASSWORD).status_code == 302


def test_a_successful_sign_in_clears_the_accounts_count(client: Client) -> None:
    UserFactory(username="alice")
    fail(client, 9)
    assert sign_in(client, "alice", PASSWORD, address="198.51.100.7").status_code == 302
    client.logout()

    fail(client, 9, address="203.0.113.9")

    assert sign_in(client, "alice", PASSWORD, address="203.0.113.10").status_code == 302


def test_one_address_guessing_many_usernames_is_locked(client: Client) -> None:
    UserFactory(username="zoe")
    for n in range(10):
        fail(client, 1, username=f"guess{n}")

    response = sign_in(client, "zoe", PASSWORD)

    assert response.status_code == 429
    assert "Too many failed sign-ins from your address" in response.content.decode()
    assert sign_in(client, "zoe", PASSWORD, address="198.51.100.7").status_code == 302


def test_behind_a_proxy_the_address_is_the_one_the_proxy_added(
    client: Client, settings: Any
) -> None:
    settings.CLIENT_IP_HEADER = "X-Forwarded-For"
    UserFactory(username="zoe")
    for n in range(10):
        # The attacker forges the left part; the proxy appends the real address.
        client.post(
            "/login/",
            {"username": f"guess{n}", "password": "wrong"},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}, 203.0.113.66",
        )

    locked = client.post(
        "/login/",
        {"username": "zoe", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="203.0.113.66",
    )
    other = client.post(
        "/login/",
        {"username": "zoe", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="203.0.113.67",
    )

    assert locked.status_code == 429
    assert other.status_code == 302


def test_the_admin_sign_in_is_the_throttled_one(client: Client) -> None:
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/admin/"


def test_api_token_guessing_is_answered_429_after_ten_bad_tokens(client: Client) -> None:
    token = Token.objects.create(user=UserFactory(username="script")).key
    for n in range(10):
        bad = client.get(
            "/api/v1/incidents/", HTTP_AUTHORIZATION=f"Token wrong{n}", REMOTE_ADDR="192.0.2.5"
        )
        assert bad.status_code == 401

    locked = client.get(
        "/api/v1/incidents/", HTTP_AUTHORIZATION=f"Token {token}", REMOTE_ADDR="192.0.2.5"
    )
    elsewhere = client.get(
        "/api/v1/incidents/", HTTP_AUTHORIZATION=f"Token {token}", REMOTE_ADDR="192.0.2.6"
    )

    assert locked.status_code == 429
    assert "Too many failed sign-ins from your address" in locked.json()["detail"]
    assert 0 < int(locked["Retry-After"]) <= 15 * 60
    assert elsewhere.status_code == 200
