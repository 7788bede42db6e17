"""The users/ API: an admin creates a responder whose phone and email are usable at once."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import Membership, NotificationRule, User
from tests.factories import TeamFactory, UserFactory

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
    body = response.json()
    assert body["phone"] == "+447700900123"
    dana = User.objects.get(username="dana")
    assert dana.email == "dana@example.com" and dana.phone == "+447700900123"
    assert not dana.has_usable_password()
    methods = {m["kind"]: m for m in body["contact_methods"]}
    assert methods["phone"]["value"] == "+447700900123" and methods["phone"]["verified"]
    assert methods["email"]["value"] == "dana@example.com" and methods["email"]["verified"]


def test_a_new_responder_has_the_default_rules_at_once() -> None:
    admin = UserFactory(username="boss", is_staff=True)
    response = api_as(admin).post(
        "/api/v1/users/",
        {"username": "dana", "email": "dana@example.com", "phone": "+1 500 555 0001"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    phone_id = next(m["id"] for m in body["contact_methods"] if m["kind"] == "phone")
    rules = [
        (r["event"], r["channel"], r["delay_minutes"], r["contact_method"])
        for r in body["notification_rules"]
    ]
    assert rules == [
        ("resolved", "sms", 0, phone_id),
        ("triggered", "sms", 0, phone_id),
        ("triggered", "voice", 5, phone_id),
    ]
    stored = NotificationRule.objects.filter(user__username="dana")
    assert sorted(stored.values_list("event", "channel", "delay_minutes")) == [
        ("resolved", "sms", 0),
        ("triggered", "sms", 0),
        ("triggered", "voice", 5),
    ]


def test_a_responder_without_a_phone_is_paged_by_email() -> None:
    admin = UserFactory(username="boss", is_staff=True)
    response = api_as(admin).post(
        "/api/v1/users/", {"username": "em", "email": "em@example.com"}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["phone"] == ""
    assert {(r["event"], r["channel"]) for r in body["notification_rules"]} == {
        ("triggered", "email"),
        ("resolved", "email"),
    }


def test_a_phone_verified_by_another_user_is_refused() -> None:
    admin = UserFactory(username="boss", is_staff=True, phone="+15005550001")
    response = api_as(admin).post(
        "/api/v1/users/",
        {"username": "copy", "email": "copy@example.com", "phone": "+15005550001"},
        format="json",
    )
    assert response.status_code == 400
    assert "already verified by another user" in response.json()["phone"][0]
    assert not User.objects.filter(username="copy").exists()


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


def test_only_admins_create_users_but_everyone_signed_in_reads() -> None:
    responder = UserFactory(username="r")
    client = api_as(responder)
    refused = client.post(
        "/api/v1/users/", {"username": "x", "email": "x@example.com"}, format="json"
    )
    assert refused.status_code == 403
    assert "admin" in refused.json()["detail"]
    listed = client.get("/api/v1/users/")
    assert listed.status_code == 200
    assert [u["username"] for u in listed.json()["results"]] == ["r"]
    assert APIClient().get("/api/v1/users/").status_code in (401, 403)


def test_a_team_admin_who_is_not_staff_creates_users() -> None:
    team_admin = UserFactory(username="lead")
    Membership.objects.create(team=TeamFactory(), user=team_admin, role=Membership.Role.ADMIN)
    response = api_as(team_admin).post(
        "/api/v1/users/", {"username": "x", "email": "x@example.com"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert User.objects.filter(username="x").exists()


def test_the_list_costs_the_same_queries_however_many_users(
    django_assert_max_num_queries: Any,
) -> None:
    reader = UserFactory(username="reader", phone="+15005550001")
    client = api_as(reader)
    with django_assert_max_num_queries(5):
        assert client.get("/api/v1/users/").status_code == 200
    for n in range(2, 8):
        UserFactory(username=f"u{n}", phone=f"+150055500{n:02d}")
    with django_assert_max_num_queries(5):
        listed = client.get("/api/v1/users/").json()["results"]
    assert len(listed) == 7
    assert all(len(u["notification_rules"]) == 3 and u["phone"] for u in listed)


def test_a_number_of_the_wrong_length_is_refused() -> None:
    admin = UserFactory(username="boss", is_staff=True)
    response = api_as(admin).post(
        "/api/v1/users/",
        {"username": "f", "email": "f@example.com", "phone": "+44 77"},
        format="json",
    )
    assert response.status_code == 400
    assert "wrong length" in response.json()["phone"][0]
