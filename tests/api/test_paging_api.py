"""The paging API as a script uses it: /api/v1/me/contact-methods/ and
/api/v1/me/notification-rules/ (what the profile page does) and /api/v1/notifications/
(the Outbox), with token auth and JSON."""

from __future__ import annotations

import re
from typing import Any

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import ContactMethod, NotificationRule, User
from notifications.models import Notification
from tests.factories import IncidentFactory, UserFactory
from tests.openapi import schema_with_warnings

pytestmark = pytest.mark.django_db

METHODS = "/api/v1/me/contact-methods/"
RULES = "/api/v1/me/notification-rules/"
NOTIFICATIONS = "/api/v1/notifications/"


def api_as(user: User) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def pat() -> User:
    """A responder with a verified phone, an email and the default rules."""
    return UserFactory(username="pat", phone="+15005550001")


@pytest.fixture
def api(pat: User) -> APIClient:
    return api_as(pat)


@pytest.fixture
def newcomer() -> User:
    """Signed up with nothing: no contact methods, no rules."""
    return UserFactory(username="newcomer")


def method_of(user: User, kind: str) -> ContactMethod:
    """The user's first verified method of this kind."""
    method = user.contact_methods.filter(kind=kind).exclude(verified_at=None).first()
    assert method is not None
    return method


def code_in(body: str) -> str:
    found = re.search(r"\b(\d{6})\b", body)
    assert found, body
    return found.group(1)


# ------------------------------------------------------------------------------- auth


@pytest.mark.parametrize(
    ("verb", "path"),
    [
        ("get", METHODS),
        ("post", METHODS),
        ("get", METHODS + "{phone}/"),
        ("delete", METHODS + "{phone}/"),
        ("post", METHODS + "{phone}/send-code/"),
        ("post", METHODS + "{phone}/verify/"),
        ("post", METHODS + "{phone}/test/"),
        ("get", RULES),
        ("post", RULES),
        ("get", NOTIFICATIONS),
        ("get", NOTIFICATIONS + "{notification}/"),
    ],
)
def test_anonymous_requests_are_refused(pat: User, verb: str, path: str) -> None:
    phone = method_of(pat, "phone")
    row = Notification.objects.create(
        user=pat, contact_method=phone, purpose="test", channel="sms",
        destination=phone.value, due_at=phone.created_at,
    )  # fmt: skip
    url = path.format(phone=phone.pk, notification=row.pk)

    response = getattr(APIClient(), verb)(url, {"channel": "sms", "code": "1"}, format="json")

    assert response.status_code == 401
    assert ContactMethod.objects.filter(pk=phone.pk).exists()
    assert Notification.objects.count() == 1


# -------------------------------------------------------------------- contact methods


def test_the_list_shows_only_your_own_methods(pat: User, api: APIClient) -> None:
    UserFactory(username="other", phone="+15005550006")

    response = api.get(METHODS)

    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(m["kind"], m["value"], m["verified"]) for m in rows] == [
        ("email", "pat@example.com", True),
        ("phone", "+15005550001", True),
    ]
    assert set(rows[0]) == {"id", "kind", "value", "verified", "verified_at", "created_at"}
    assert rows[1]["verified_at"] is not None


def test_another_users_method_is_a_404_whatever_you_do_with_it(
    api: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    other = UserFactory(username="other")
    theirs = ContactMethod.objects.create(user=other, kind="phone", value="+447700900123")
    base = f"{METHODS}{theirs.pk}/"

    with django_capture_on_commit_callbacks(execute=True):
        answers = [
            api.get(base),
            api.post(base + "send-code/"),
            api.post(base + "verify/", {"code": "123456"}, format="json"),
            api.post(base + "test/", {"channel": "sms"}, format="json"),
            api.delete(base),
        ]

    assert [a.status_code for a in answers] == [404] * 5
    assert ContactMethod.objects.filter(pk=theirs.pk, verified_at=None).exists()
    assert not Notification.objects.exists()
    assert api.get(f"{METHODS}{2**70}/").status_code == 404
    assert api.get(f"{METHODS}abc/").status_code == 404


def test_adding_a_phone_normalises_it_and_it_starts_unverified(
    newcomer: User,
) -> None:
    response = api_as(newcomer).post(
        METHODS, {"kind": "phone", "value": "+44 7700-900 123"}, format="json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["kind"], body["value"], body["verified"]) == ("phone", "+447700900123", False)
    assert body["verified_at"] is None
    method = ContactMethod.objects.get(pk=body["id"])
    assert (method.user, method.value, method.is_verified) == (newcomer, "+447700900123", False)
    assert newcomer.phone == ""  # not usable for paging until verified


def test_an_email_is_usable_at_once(newcomer: User) -> None:
    response = api_as(newcomer).post(
        METHODS, {"kind": "email", "value": " me@example.org "}, format="json"
    )

    assert response.status_code == 201, response.content
    assert (response.json()["value"], response.json()["verified"]) == ("me@example.org", True)


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("phone", "12345", "'12345' is not a phone number with a country code"),
        ("phone", "+44 77", "has the wrong length for its country"),
        ("phone", "+1 500 555 0001", "+15005550001 is already verified by another user"),
        ("email", "not-an-address", "is not an email address"),
    ],
)
def test_a_bad_value_is_refused_with_the_reason(
    pat: User, newcomer: User, kind: str, value: str, message: str
) -> None:
    response = api_as(newcomer).post(METHODS, {"kind": kind, "value": value}, format="json")

    assert response.status_code == 400
    assert message in response.json()["value"][0]
    assert not newcomer.contact_methods.exists()


def test_the_same_phone_twice_and_an_unknown_kind_are_refused(newcomer: User) -> None:
    client = api_as(newcomer)
    assert client.post(METHODS, {"kind": "phone", "value": "+15005550009"}).status_code == 201

    again = client.post(METHODS, {"kind": "phone", "value": "+1 500 555 0009"}, format="json")
    pager = client.post(METHODS, {"kind": "pager", "value": "123"}, format="json")

    assert again.status_code == 400
    assert again.json() == {"value": ["+15005550009 is already one of your contact methods"]}
    assert pager.status_code == 400 and "kind" in pager.json()
    assert newcomer.contact_methods.count() == 1


def test_deleting_a_method_deletes_its_rules(pat: User, api: APIClient) -> None:
    phone = method_of(pat, "phone")
    assert NotificationRule.objects.filter(contact_method=phone).count() == 3

    response = api.delete(f"{METHODS}{phone.pk}/")

    assert response.status_code == 204
    assert not ContactMethod.objects.filter(pk=phone.pk).exists()
    assert not NotificationRule.objects.filter(user=pat).exists()
    assert method_of(pat, "email")  # the other method stays


# ----------------------------------------------------------------------- verification


def test_send_code_then_verify_with_the_code_from_the_outbox(
    newcomer: User, django_capture_on_commit_callbacks: Any
) -> None:
    client = api_as(newcomer)
    added = client.post(METHODS, {"kind": "phone", "value": "+1 500 555 0009"}, format="json")
    method_id = added.json()["id"]

    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(f"{METHODS}{method_id}/send-code/")

    assert sent.status_code == 202, sent.content
    assert "A code is on its way to +15005550009" in sent.json()["detail"]
    assert "Outbox mode" in sent.json()["detail"]
    sms = Notification.objects.get(pk=sent.json()["notification"])
    assert (sms.purpose, sms.channel, sms.destination) == ("verify", "sms", "+15005550009")
    assert (sms.status, sms.outbox) == ("sent", True)
    # The code as a script would read it: from the outbox, through the API.
    detail = client.get(f"{NOTIFICATIONS}{sms.pk}/")
    code = code_in(detail.json()["body"])

    verified = client.post(f"{METHODS}{method_id}/verify/", {"code": code}, format="json")

    assert verified.status_code == 200, verified.content
    assert verified.json()["verified"] is True
    assert "+15005550009 is verified." in verified.json()["detail"]
    assert "You now have the default rules" in verified.json()["detail"]
    assert client.get(f"{METHODS}{method_id}/").json()["verified"] is True
    rules = client.get(RULES).json()["results"]
    assert [r["description"] for r in rules] == [
        "SMS to +15005550009 at once",
        "SMS to +15005550009 at once",
        "Voice call to +15005550009 after 5 min",
    ]
    assert [r["event"] for r in rules] == ["resolved", "triggered", "triggered"]


def test_a_verification_code_is_shown_to_its_own_user_only(
    pat: User, newcomer: User, django_capture_on_commit_callbacks: Any
) -> None:
    method = ContactMethod.objects.create(user=newcomer, kind="phone", value="+15005550009")
    with django_capture_on_commit_callbacks(execute=True):
        sent = api_as(newcomer).post(f"{METHODS}{method.pk}/send-code/")
    url = f"{NOTIFICATIONS}{sent.json()['notification']}/"
    code = code_in(api_as(newcomer).get(url).json()["body"])

    seen_by_pat = api_as(pat).get(url)

    assert seen_by_pat.status_code == 200
    assert code not in seen_by_pat.json()["body"]
    assert "******" in seen_by_pat.json()["body"]


def test_a_wrong_code_is_refused_and_counted(newcomer: User) -> None:
    client = api_as(newcomer)
    method = ContactMethod.objects.create(user=newcomer, kind="phone", value="+15005550009")
    sent = client.post(f"{METHODS}{method.pk}/send-code/")
    code = code_in(Notification.objects.get(pk=sent.json()["notification"]).body)
    wrong = f"{(int(code) + 1) % 10**6:06d}"

    response = client.post(f"{METHODS}{method.pk}/verify/", {"code": wrong}, format="json")
    missing = client.post(f"{METHODS}{method.pk}/verify/", {}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "verified": False,
        "detail": "That code is not right. Check the SMS and try again.",
    }
    assert missing.status_code == 400 and "code" in missing.json()
    method.refresh_from_db()
    assert (method.is_verified, method.verification_attempts) == (False, 1)
    assert not NotificationRule.objects.filter(user=newcomer).exists()


def test_verify_before_any_code_was_sent_says_so(newcomer: User) -> None:
    method = ContactMethod.objects.create(user=newcomer, kind="phone", value="+15005550009")

    response = api_as(newcomer).post(
        f"{METHODS}{method.pk}/verify/", {"code": "123456"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["detail"] == "No code was sent to this number yet: send one first."


def test_send_code_is_refused_within_a_minute_and_for_a_verified_phone(
    pat: User, newcomer: User
) -> None:
    client = api_as(newcomer)
    method = ContactMethod.objects.create(user=newcomer, kind="phone", value="+15005550009")
    assert client.post(f"{METHODS}{method.pk}/send-code/").status_code == 202

    again = client.post(f"{METHODS}{method.pk}/send-code/")
    verified = api_as(pat).post(f"{METHODS}{method_of(pat, 'phone').pk}/send-code/")
    email = api_as(pat).post(f"{METHODS}{method_of(pat, 'email').pk}/send-code/")

    assert again.status_code == 400
    assert re.fullmatch(
        r"A code was sent to \+15005550009 \d+ s ago: wait \d+ s before asking for another\.",
        again.json()["detail"],
    )
    assert verified.status_code == 400
    assert verified.json() == {"detail": "+15005550001 is already verified."}
    assert email.status_code == 400 and "is not a phone number" in email.json()["detail"]
    assert Notification.objects.filter(purpose="verify").count() == 1


# ------------------------------------------------------------------------------ tests


def test_a_test_call_is_queued_and_sent_to_the_outbox(
    pat: User, api: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    phone = method_of(pat, "phone")

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"{METHODS}{phone.pk}/test/", {"channel": "voice"}, format="json")

    assert response.status_code == 202, response.content
    assert response.json()["detail"].startswith("Test voice call to +15005550001 queued.")
    row = Notification.objects.get(pk=response.json()["notification"])
    assert (row.user, row.contact_method, row.purpose, row.channel) == (
        pat,
        phone,
        "test",
        "voice",
    )
    assert (row.status, row.outbox) == ("sent", True)


def test_a_test_to_an_unverified_method_or_a_wrong_channel_is_refused(
    pat: User, api: APIClient
) -> None:
    unverified = ContactMethod.objects.create(user=pat, kind="phone", value="+15005550009")
    email = method_of(pat, "email")

    refused = api.post(f"{METHODS}{unverified.pk}/test/", {"channel": "sms"}, format="json")
    by_sms = api.post(f"{METHODS}{email.pk}/test/", {"channel": "sms"}, format="json")
    nonsense = api.post(f"{METHODS}{email.pk}/test/", {"channel": "fax"}, format="json")

    assert refused.status_code == 400
    assert refused.json() == {
        "detail": "Verify +15005550009 first: tests go to verified methods only."
    }
    assert by_sms.status_code == 400
    assert by_sms.json() == {"channel": ["pat@example.com cannot carry SMS; choose Email."]}
    assert nonsense.status_code == 400 and "channel" in nonsense.json()
    assert not Notification.objects.exists()


# ------------------------------------------------------------------------------ rules


def test_add_filter_and_delete_a_rule(pat: User, api: APIClient) -> None:
    email = method_of(pat, "email")

    added = api.post(
        RULES,
        {
            "event": "triggered",
            "contact_method": email.pk,
            "channel": "email",
            "delay_minutes": 10,
        },
        format="json",
    )

    assert added.status_code == 201, added.content
    body = added.json()
    assert body == {
        "id": body["id"],
        "event": "triggered",
        "contact_method": email.pk,
        "channel": "email",
        "delay_minutes": 10,
        "description": "Email to pat@example.com after 10 min",
    }
    triggered = api.get(RULES, {"event": "triggered"}).json()["results"]
    assert [(r["channel"], r["delay_minutes"]) for r in triggered] == [
        ("sms", 0),
        ("voice", 5),
        ("email", 10),
    ]
    resolved = api.get(RULES, {"event": "resolved"}).json()["results"]
    assert [r["channel"] for r in resolved] == ["sms"]
    assert api.get(RULES, {"event": "exploded"}).status_code == 400

    deleted = api.delete(f"{RULES}{body['id']}/")

    assert deleted.status_code == 204
    assert not NotificationRule.objects.filter(pk=body["id"]).exists()
    assert NotificationRule.objects.filter(user=pat).count() == 3


def test_a_rule_by_a_channel_the_method_cannot_carry_is_refused(pat: User, api: APIClient) -> None:
    email = method_of(pat, "email")

    response = api.post(
        RULES,
        {"event": "triggered", "contact_method": email.pk, "channel": "voice"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "channel": ["pat@example.com cannot carry Voice call; choose Email"]
    }
    assert NotificationRule.objects.filter(user=pat).count() == 3


def test_a_rule_on_someone_elses_or_an_unverified_method_is_refused(
    pat: User, api: APIClient
) -> None:
    other = UserFactory(username="other", phone="+15005550006")
    theirs = method_of(other, "phone")
    mine = ContactMethod.objects.create(user=pat, kind="phone", value="+15005550009")

    on_theirs = api.post(RULES, {"contact_method": theirs.pk, "channel": "sms"}, format="json")
    on_unverified = api.post(RULES, {"contact_method": mine.pk, "channel": "sms"}, format="json")
    too_late = api.post(
        RULES,
        {"contact_method": method_of(pat, "phone").pk, "channel": "sms", "delay_minutes": 1441},
        format="json",
    )

    assert on_theirs.status_code == 400
    assert on_theirs.json() == {
        "contact_method": [f"You have no contact method with id {theirs.pk}."]
    }
    assert on_unverified.status_code == 400
    assert on_unverified.json() == {
        "contact_method": ["Verify +15005550009 first: rules use verified contact methods only."]
    }
    assert too_late.status_code == 400 and "delay_minutes" in too_late.json()
    assert NotificationRule.objects.filter(user=pat).count() == 3
    assert NotificationRule.objects.filter(user=other).count() == 3


def test_another_users_rule_is_a_404(api: APIClient) -> None:
    other = UserFactory(username="other", phone="+15005550006")
    rule = NotificationRule.objects.filter(user=other).first()
    assert rule is not None

    assert api.get(f"{RULES}{rule.pk}/").status_code == 404
    assert api.delete(f"{RULES}{rule.pk}/").status_code == 404
    assert NotificationRule.objects.filter(pk=rule.pk).exists()
    assert all(r["id"] != rule.pk for r in api.get(RULES).json()["results"])


# ---------------------------------------------------------------------- notifications


def make_notifications(users: list[User], per_user: int) -> list[Notification]:
    incident = IncidentFactory()
    rows = []
    for user in users:
        method = user.contact_methods.get(kind="phone")
        for i in range(per_user):
            rows.append(
                Notification(
                    incident=incident if i % 2 == 0 else None,
                    user=user,
                    contact_method=method,
                    purpose="triggered" if i % 2 == 0 else "test",
                    channel="sms" if i % 3 else "voice",
                    destination=method.value,
                    status="sent" if i % 2 == 0 else "failed",
                    body=f"message {i} to {user.username}",
                    due_at=method.created_at,
                )
            )
    return Notification.objects.bulk_create(rows)


def test_notifications_are_listed_newest_first_for_everyone(pat: User, api: APIClient) -> None:
    other = UserFactory(username="other", phone="+15005550006")
    rows = make_notifications([pat, other], 3)

    response = api.get(NOTIFICATIONS)

    assert response.status_code == 200
    listed = response.json()["results"]
    assert [n["id"] for n in listed] == sorted((r.pk for r in rows), reverse=True)
    first = listed[0]
    assert first["user"] == {"id": other.pk, "username": "other"}
    assert set(first) == {
        "id", "incident", "user", "contact_method", "purpose", "channel", "destination",
        "status", "attempts", "provider_id", "provider_status", "error_code", "error",
        "outbox", "due_at", "sent_at", "created_at",
    }  # fmt: skip
    assert "body" not in first
    detail = api.get(f"{NOTIFICATIONS}{rows[0].pk}/").json()
    assert detail["body"] == "message 0 to pat"
    assert detail["user"] == {"id": pat.pk, "username": "pat"}


def test_notification_filters(pat: User, api: APIClient) -> None:
    other = UserFactory(username="other", phone="+15005550006")
    rows = make_notifications([pat, other], 4)
    incident_id = rows[0].incident_id

    def ids(**params: Any) -> set[int]:
        response = api.get(NOTIFICATIONS, params)
        assert response.status_code == 200, response.content
        return {n["id"] for n in response.json()["results"]}

    assert ids(incident=incident_id) == {r.pk for r in rows if r.incident_id == incident_id}
    assert ids(user=other.pk) == {r.pk for r in rows if r.user_id == other.pk}
    assert ids(status="failed") == {r.pk for r in rows if r.status == "failed"}
    assert ids(channel="voice") == {r.pk for r in rows if r.channel == "voice"}
    assert ids(purpose="test", user=pat.pk) == {
        r.pk for r in rows if r.purpose == "test" and r.user_id == pat.pk
    }
    assert len(ids(purpose="test")) == 4 and len(ids()) == 8
    bad = api.get(NOTIFICATIONS, {"status": "lost", "user": "me", "incident": "²"})
    assert bad.status_code == 400
    assert set(bad.json()) == {"status", "user", "incident"}
    # Filters narrow the list, never a lookup.
    assert api.get(f"{NOTIFICATIONS}{rows[0].pk}/", {"user": other.pk}).status_code == 200


@pytest.mark.parametrize("per_user", [1, 12])
def test_the_notification_list_costs_the_same_queries_however_many_rows(
    pat: User, api: APIClient, django_assert_max_num_queries: Any, per_user: int
) -> None:
    users: list[User] = [pat, *(UserFactory(phone=f"+1500555001{i}") for i in range(3))]
    make_notifications(users, per_user)

    # The token and its user, the count, the page (users joined).
    with django_assert_max_num_queries(3):
        response = api.get(NOTIFICATIONS)

    assert response.status_code == 200
    assert len(response.json()["results"]) == len(users) * per_user
    assert {n["user"]["username"] for n in response.json()["results"]} == {
        u.username for u in users
    }


# ---------------------------------------------------------------------------- schema


def test_the_schema_documents_the_paging_api_without_warnings_from_it() -> None:
    schema, warnings = schema_with_warnings()

    paths = schema["paths"]
    for path in (
        "/api/v1/me/contact-methods/",
        "/api/v1/me/contact-methods/{id}/send-code/",
        "/api/v1/me/contact-methods/{id}/verify/",
        "/api/v1/me/contact-methods/{id}/test/",
        "/api/v1/me/notification-rules/{id}/",
        "/api/v1/notifications/{id}/",
    ):
        assert path in paths
    parameters = {p["name"] for p in paths["/api/v1/notifications/"]["get"]["parameters"]}
    assert {"incident", "user", "status", "channel", "purpose"} <= parameters
    ours = ("profile_api.py", "notifications/api.py", "MyContactMethod", "MyNotificationRule",
            "NotificationViewSet", 'named "kind"', 'named "channel"', 'named "status"',
            'named "event"', 'named "purpose"')  # fmt: skip
    assert [w for w in warnings if any(o in w for o in ours)] == []
