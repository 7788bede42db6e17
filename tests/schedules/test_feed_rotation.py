"""iCal feed URLs can be rotated: a person their own feed (profile page, API), an admin a
schedule's feed (schedule page, API). The old URL answers 404 at once, the new one
works, and the audit log records the rotation without a usable URL."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from accounts.models import Membership, User
from audit.models import AuditEntry
from schedules.models import Schedule
from tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def member(username: str, role: str) -> User:
    user: User = UserFactory(username=username, password=None)
    Membership.objects.create(team=TeamFactory(), user=user, role=role)
    return user


def browser(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api(user: User) -> Client:
    key = Token.objects.create(user=user).key
    return Client(headers={"Authorization": f"Token {key}"}, enforce_csrf_checks=True)


def feed(path: str) -> int:
    return Client().get(path).status_code


def test_a_person_rotates_their_own_feed_from_the_profile_page() -> None:
    vera = member("vera", Membership.Role.VIEWER)
    old = f"/ical/users/{vera.ical_token}.ics"
    client = browser(vera)
    assert old in client.get("/profile/").content.decode()

    response = client.post("/profile/calendar/rotate/", follow=True)

    vera.refresh_from_db()
    new = f"/ical/users/{vera.ical_token}.ics"
    page = response.content.decode()
    assert "Your calendar feed has a new URL; the old one stopped working." in page
    assert new in page and old not in page
    assert (feed(old), feed(new)) == (404, 200)


def test_an_admin_rotates_a_schedules_feed_from_its_page() -> None:
    schedule = Schedule.objects.create(name="Primary")
    old = f"/ical/schedules/{schedule.ical_token}.ics"
    client = browser(member("ada", Membership.Role.ADMIN))

    response = client.post(f"/schedules/{schedule.pk}/rotate-feed/", follow=True)

    schedule.refresh_from_db()
    new = f"/ical/schedules/{schedule.ical_token}.ics"
    assert "The calendar feed has a new URL" in response.content.decode()
    assert new in response.content.decode()
    assert (feed(old), feed(new)) == (404, 200)


def test_a_responder_cannot_rotate_a_schedules_feed_and_sees_no_button() -> None:
    schedule = Schedule.objects.create(name="Primary")
    token = schedule.ical_token
    client = browser(member("rita", Membership.Role.RESPONDER))

    assert "rotate-feed" not in client.get(f"/schedules/{schedule.pk}/").content.decode()
    assert client.post(f"/schedules/{schedule.pk}/rotate-feed/").status_code == 403
    schedule.refresh_from_db()
    assert schedule.ical_token == token


def test_the_api_rotates_a_schedules_feed_for_admins_only() -> None:
    schedule = Schedule.objects.create(name="Primary")
    old = f"/ical/schedules/{schedule.ical_token}.ics"
    url = f"/api/v1/schedules/{schedule.pk}/rotate-feed/"

    refused = api(member("rita", Membership.Role.RESPONDER)).post(url)
    response = api(member("ada", Membership.Role.ADMIN)).post(url)

    assert refused.status_code == 403
    assert response.status_code == 200
    schedule.refresh_from_db()
    assert response.json()["ical_url"].endswith(f"/ical/schedules/{schedule.ical_token}.ics")
    assert (feed(old), feed(f"/ical/schedules/{schedule.ical_token}.ics")) == (404, 200)


def test_the_api_rotates_the_callers_own_feed_whatever_their_role() -> None:
    vera = member("vera", Membership.Role.VIEWER)
    client = api(vera)
    before = client.get("/api/v1/schedules/my-calendar/").json()["url"]

    response = client.post("/api/v1/schedules/my-calendar/rotate/")

    assert response.status_code == 200
    after = client.get("/api/v1/schedules/my-calendar/").json()["url"]
    assert response.json() == {"url": after} and after != before
    path = before.split("://", 1)[1].split("/", 1)[1]
    assert feed("/" + path) == 404


def test_rotations_are_audited_without_a_usable_url() -> None:
    ada = member("ada", Membership.Role.ADMIN)
    schedule = Schedule.objects.create(name="Primary")
    old_schedule, old_user = schedule.ical_token, ada.ical_token

    browser(ada).post(f"/schedules/{schedule.pk}/rotate-feed/")
    browser(ada).post("/profile/calendar/rotate/")

    schedule.refresh_from_db()
    ada.refresh_from_db()
    entries = list(AuditEntry.objects.order_by("id"))
    assert [(e.action, e.object_type, e.object_id) for e in entries] == [
        ("rotated calendar URL", "schedule", schedule.pk),
        ("rotated calendar URL", "user", ada.pk),
    ]
    assert entries[0].changes == {
        "calendar_url": [f"…{old_schedule[-4:]}", f"…{schedule.ical_token[-4:]}"]
    }
    assert entries[1].actor == ada
    stored = json.dumps([[e.before, e.after] for e in entries])
    for token in (old_schedule, schedule.ical_token, old_user, ada.ical_token):
        assert token not in stored


def test_the_audit_page_offers_user_entries(client: Any) -> None:
    ada = member("ada", Membership.Role.ADMIN)
    browser(ada).post("/profile/calendar/rotate/")
    page = browser(ada).get("/audit/?type=user").content.decode()
    assert "rotated calendar URL" in page
