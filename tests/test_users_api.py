"""The users/ API: an admin creates a responder whose phone and email are usable at once."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def api_as(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def test_admin_creates_a_responder_with_a_normalised_phone() -> None:
    admin = UserFactory(username="boss", is_staff=True)
    response = api_as(admin).post(
        "/api/v1/users/",
        {"username": "dana", "email": "dana@example.com", "phone": "+44 7700 900123"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["phone"] == "+447700900123"
    dana = User.objects.get(username="dana")
    assert dana.email == "dana@example.com" and dana.phone == "+447700900123"
    assert not dana.has_usable_password()


def test_a_bad_phone_is_refused_with_a_reason() -> None:
    admin = UserFactory(username="boss", is_staff=True)
    response = api_as(admin).post(
        "/api/v1/users/",
        {"username": "eve", "email": "eve@example.com", "phone": "12345"},
        format="json",
    )
    assert response.status_code == 400
    assert "country code" in response.json()["phone"][0]
    assert not User.objects.filter(username="eve").exists()


def test_only_staff_create_users_but_everyone_signed_in_reads() -> None:
    responder = UserFactory(username="r")
    client = api_as(responder)
    refused = client.post(
        "/api/v1/users/", {"username": "x", "email": "x@example.com"}, format="json"
    )
    assert refused.status_code == 403
    listed = client.get("/api/v1/users/")
    assert listed.status_code == 200
    assert [u["username"] for u in listed.json()["results"]] == ["r"]
    assert APIClient().get("/api/v1/users/").status_code in (401, 403)


def test_a_number_of_the_wrong_length_is_refused() -> None:
    admin = UserFactory(username="boss", is_staff=True)
    response = api_as(admin).post(
        "/api/v1/users/",
        {"username": "f", "email": "f@example.com", "phone": "+44 77"},
        format="json",
    )
    assert response.status_code == 400
    assert "wrong length" in response.json()["phone"][0]
