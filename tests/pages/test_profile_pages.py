"""The profile page used the way a responder uses it: add a phone, get a code by SMS
(read from the outbox), verify it, shape the rules, send a test, see what was sent."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import ContactMethod, NotificationRule, User
from notifications.models import Notification
from tests.factories import IncidentFactory, UserFactory

pytestmark = pytest.mark.django_db

PROFILE = "/profile/"


def text(response: Any) -> str:
    return str(html.unescape(response.content.decode()))


def add_phone(client: Client, raw: str) -> Any:
    return client.post(reverse("profile:add-method", args=["phone"]), {"phone-value": raw})


def send_code(client: Client, method: ContactMethod, capture: Any) -> Any:
    with capture(execute=True):
        return client.post(reverse("profile:send-code", args=[method.pk]), follow=True)


def verify(client: Client, method: ContactMethod, code: str) -> Any:
    return client.post(reverse("profile:verify", args=[method.pk]), {"code": code}, follow=True)


def code_sent_to(method: ContactMethod) -> str:
    """The code from the last verification SMS: in outbox mode its body keeps it."""
    sms = Notification.objects.filter(contact_method=method, purpose="verify").latest("id")
    found = re.search(r"\b(\d{6})\b", sms.body)
    assert found, sms.body
    return found.group(1)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


@pytest.fixture
def pat(client: Client) -> User:
    """A signed-in responder with a verified phone, an email and the default rules."""
    user = UserFactory(username="pat", phone="+15005550001")
    client.force_login(user)
    return user


@pytest.fixture
def unverified_phone(signed_in: Client, user: User) -> ContactMethod:
    add_phone(signed_in, "+44 7700 900123")
    return user.contact_methods.get(kind="phone")


# ------------------------------------------------------------------ contact methods


def test_the_profile_needs_sign_in(client: Client) -> None:
    response = client.get(PROFILE)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_phone_is_stored_in_e164_and_starts_unverified(signed_in: Client, user: User) -> None:
    response = add_phone(signed_in, "+44 7700-900 123")
    assert response.status_code == 302
    method = user.contact_methods.get()
    assert (method.kind, method.value, method.is_verified) == ("phone", "+447700900123", False)
    page = text(signed_in.get(PROFILE))
    assert "+447700900123" in page and "Not verified" in page
    assert user.phone == ""  # not usable for paging until verified


def test_a_bad_phone_is_refused_with_the_reason_and_nothing_is_stored(
    signed_in: Client, user: User
) -> None:
    response = add_phone(signed_in, "12345")
    assert response.status_code == 200
    assert "'12345' is not a phone number with a country code, e.g. +44 7700 900123" in text(
        response
    )
    short = add_phone(signed_in, "+44 77")
    assert "has the wrong length for its country" in text(short)
    assert not ContactMethod.objects.exists()


def test_the_same_phone_twice_is_refused(signed_in: Client, user: User) -> None:
    add_phone(signed_in, "+1 500 555 0009")
    again = add_phone(signed_in, "+15005550009")
    assert "+15005550009 is already one of your contact methods" in text(again)
    assert user.contact_methods.count() == 1


def test_a_phone_verified_by_someone_else_cannot_be_added(signed_in: Client, user: User) -> None:
    UserFactory(username="owner", phone="+15005550001")
    response = add_phone(signed_in, "+1 500 555 0001")
    assert "+15005550001 is already verified by another user" in text(response)
    assert not user.contact_methods.exists()


def test_an_email_is_usable_at_once(signed_in: Client, user: User) -> None:
    response = signed_in.post(
        reverse("profile:add-method", args=["email"]), {"email-value": " me@example.org "}
    )
    assert response.status_code == 302
    assert user.contact_methods.get().value == "me@example.org"
    assert user.contact_methods.get().is_verified
    bad = signed_in.post(
        reverse("profile:add-method", args=["email"]), {"email-value": "not-an-address"}
    )
    assert "'not-an-address' is not an email address" in text(bad)


# --------------------------------------------------------------------- verification


def test_send_code_texts_a_code_and_the_right_code_verifies_with_default_rules(
    signed_in: Client,
    user: User,
    unverified_phone: ContactMethod,
    django_capture_on_commit_callbacks: Any,
    settings: Any,
) -> None:
    settings.TWILIO_OUTBOX_MODE = True
    response = send_code(signed_in, unverified_phone, django_capture_on_commit_callbacks)
    assert "A code is on its way to +447700900123" in text(response)
    sms = Notification.objects.get(contact_method=unverified_phone)
    assert (sms.purpose, sms.channel, sms.status, sms.outbox) == ("verify", "sms", "sent", True)
    assert sms.destination == "+447700900123"
    assert not user.notification_rules.exists()

    page = verify(signed_in, unverified_phone, code_sent_to(unverified_phone))

    assert "+447700900123 is verified." in text(page)
    assert "You now have the default rules" in text(page)
    unverified_phone.refresh_from_db()
    assert unverified_phone.is_verified
    rules = [
        (r.event, r.channel, r.delay_minutes, r.contact_method_id)
        for r in user.notification_rules.all()
    ]
    assert rules == [
        ("resolved", "sms", 0, unverified_phone.pk),
        ("triggered", "sms", 0, unverified_phone.pk),
        ("triggered", "voice", 5, unverified_phone.pk),
    ]
    assert User.objects.get(pk=user.pk).phone == "+447700900123"
    assert "Voice call to +447700900123 after 5 min" in text(page)


def test_wrong_codes_count_and_the_sixth_try_is_refused_even_when_right(
    signed_in: Client, unverified_phone: ContactMethod, django_capture_on_commit_callbacks: Any
) -> None:
    send_code(signed_in, unverified_phone, django_capture_on_commit_callbacks)
    code = code_sent_to(unverified_phone)
    for tries in range(1, 6):
        page = verify(signed_in, unverified_phone, wrong(code))
        assert "That code is not right" in text(page)
        unverified_phone.refresh_from_db()
        assert unverified_phone.verification_attempts == tries
    assert "0 tries left" in text(page)

    sixth = verify(signed_in, unverified_phone, code)

    assert "Too many wrong codes: send a new one." in text(sixth)
    unverified_phone.refresh_from_db()
    assert not unverified_phone.is_verified


def test_an_expired_code_is_refused(
    signed_in: Client, unverified_phone: ContactMethod, django_capture_on_commit_callbacks: Any
) -> None:
    send_code(signed_in, unverified_phone, django_capture_on_commit_callbacks)
    code = code_sent_to(unverified_phone)
    ContactMethod.objects.filter(pk=unverified_phone.pk).update(
        verification_expires_at=timezone.now() - timedelta(seconds=1)
    )
    page = verify(signed_in, unverified_phone, code)
    assert "That code has expired: send a new one." in text(page)
    unverified_phone.refresh_from_db()
    assert not unverified_phone.is_verified


def test_a_number_verified_meanwhile_by_another_user_cannot_be_verified(
    signed_in: Client, unverified_phone: ContactMethod, django_capture_on_commit_callbacks: Any
) -> None:
    send_code(signed_in, unverified_phone, django_capture_on_commit_callbacks)
    code = code_sent_to(unverified_phone)
    UserFactory(username="quick", phone="+447700900123")

    page = verify(signed_in, unverified_phone, code)

    assert "+447700900123 is already verified by another user." in text(page)
    unverified_phone.refresh_from_db()
    assert not unverified_phone.is_verified
    again = send_code(signed_in, unverified_phone, django_capture_on_commit_callbacks)
    assert "already verified by another user" in text(again)
    assert Notification.objects.filter(contact_method=unverified_phone).count() == 1


def test_a_new_code_can_be_sent_only_after_60_seconds(
    signed_in: Client, unverified_phone: ContactMethod, django_capture_on_commit_callbacks: Any
) -> None:
    send_code(signed_in, unverified_phone, django_capture_on_commit_callbacks)
    first = code_sent_to(unverified_phone)

    refused = send_code(signed_in, unverified_phone, django_capture_on_commit_callbacks)

    assert re.search(r"wait \d+ s before asking for another", text(refused))
    assert Notification.objects.filter(purpose="verify").count() == 1
    Notification.objects.update(created_at=timezone.now() - timedelta(seconds=61))
    send_code(signed_in, unverified_phone, django_capture_on_commit_callbacks)
    assert Notification.objects.filter(purpose="verify").count() == 2
    # The new code replaces the old one.
    second = code_sent_to(unverified_phone)
    if second != first:
        assert "not right" in text(verify(signed_in, unverified_phone, first))
    assert "is verified" in text(verify(signed_in, unverified_phone, second))


# --------------------------------------------------------------------------- rules


def test_rules_are_listed_per_event_in_delay_order_in_words(client: Client, pat: User) -> None:
    email = pat.contact_methods.get(kind="email")
    NotificationRule.objects.create(
        user=pat, event="triggered", contact_method=email, channel="email", delay_minutes=10
    )
    page = text(client.get(PROFILE))
    triggered, resolved = page.split("When an incident is triggered")[1].split(
        "When an incident is resolved"
    )
    assert re.findall(r"\w[\w ]* to \S+ (?:at once|after \d+ min)", triggered) == [
        "SMS to +15005550001 at once",
        "Voice call to +15005550001 after 5 min",
        "Email to pat@example.com after 10 min",
    ]
    assert "SMS to +15005550001 at once" in resolved.split("Recent notifications")[0]


def test_a_rule_is_added_and_deleted(client: Client, pat: User) -> None:
    email = pat.contact_methods.get(kind="email")
    response = client.post(
        reverse("profile:add-rule", args=["resolved"]),
        {
            "resolved-contact_method": email.pk,
            "resolved-channel": "email",
            "resolved-delay_minutes": "15",
        },
        follow=True,
    )
    assert "Added: incident resolved, Email to pat@example.com after 15 min." in text(response)
    rule = pat.notification_rules.get(event="resolved", channel="email")
    assert rule.delay_minutes == 15 and rule.contact_method == email

    deleted = client.post(reverse("profile:delete-rule", args=[rule.pk]), follow=True)

    assert "Deleted rule: incident resolved, Email to pat@example.com after 15 min." in text(
        deleted
    )
    assert not NotificationRule.objects.filter(pk=rule.pk).exists()


def test_a_channel_the_method_cannot_carry_is_refused_with_a_reason(
    client: Client, pat: User
) -> None:
    email = pat.contact_methods.get(kind="email")
    before = pat.notification_rules.count()
    response = client.post(
        reverse("profile:add-rule", args=["triggered"]),
        {
            "triggered-contact_method": email.pk,
            "triggered-channel": "voice",
            "triggered-delay_minutes": "0",
        },
    )
    assert response.status_code == 200
    assert "pat@example.com cannot carry Voice call; choose Email" in text(response)
    assert pat.notification_rules.count() == before


def test_a_delay_over_a_day_is_refused(client: Client, pat: User) -> None:
    phone = pat.contact_methods.get(kind="phone")
    before = pat.notification_rules.count()
    response = client.post(
        reverse("profile:add-rule", args=["triggered"]),
        {
            "triggered-contact_method": phone.pk,
            "triggered-channel": "sms",
            "triggered-delay_minutes": "1441",
        },
    )
    assert "less than or equal to 1440" in text(response)
    assert pat.notification_rules.count() == before


def test_an_unverified_phone_cannot_be_chosen_for_a_rule(
    signed_in: Client, user: User, unverified_phone: ContactMethod
) -> None:
    signed_in.post(reverse("profile:add-method", args=["email"]), {"email-value": "r@example.com"})
    response = signed_in.post(
        reverse("profile:add-rule", args=["triggered"]),
        {
            "triggered-contact_method": unverified_phone.pk,
            "triggered-channel": "sms",
            "triggered-delay_minutes": "0",
        },
    )
    assert "Select a valid choice" in text(response)
    assert not user.notification_rules.exists()


def test_no_triggered_rule_warns_that_you_will_not_be_paged(client: Client, pat: User) -> None:
    assert "You will not be paged: add a rule." not in text(client.get(PROFILE))
    for rule in pat.notification_rules.filter(event="triggered"):
        client.post(reverse("profile:delete-rule", args=[rule.pk]))
    page = text(client.get(PROFILE))
    assert "You will not be paged: add a rule." in page
    assert pat.notification_rules.filter(event="resolved").count() == 1


def test_without_a_verified_method_the_page_says_how_to_add_one(
    signed_in: Client, unverified_phone: ContactMethod
) -> None:
    page = text(signed_in.get(PROFILE))
    assert "You will not be paged: add a rule." in page
    assert "You have no verified contact method yet" in page
    assert 'action="/profile/rules/add/triggered/"' not in page


def test_deleting_a_method_deletes_its_rules_and_says_which(client: Client, pat: User) -> None:
    phone = pat.contact_methods.get(kind="phone")
    confirm = text(client.get(reverse("profile:delete-method", args=[phone.pk])))
    assert "Delete +15005550001?" in confirm
    assert "Voice call to +15005550001 after 5 min" in confirm

    done = client.post(reverse("profile:delete-method", args=[phone.pk]), follow=True)

    page = text(done)
    assert "Deleted +15005550001 and its rules:" in page
    assert "incident triggered: Voice call to +15005550001 after 5 min" in page
    assert "incident resolved: SMS to +15005550001 at once" in page
    assert not pat.contact_methods.filter(kind="phone").exists()
    assert not pat.notification_rules.exists()
    assert "You will not be paged: add a rule." in page


# ------------------------------------------------------------ other users' rows: 404


def test_another_users_methods_and_rules_are_not_found(client: Client, pat: User) -> None:
    other = UserFactory(username="other", phone="+15005550002")
    phone = other.contact_methods.get(kind="phone")
    ContactMethod.objects.filter(pk=phone.pk).update(verified_at=None)
    rule = other.notification_rules.first()
    assert rule is not None
    for response in (
        client.post(reverse("profile:send-code", args=[phone.pk])),
        client.post(reverse("profile:verify", args=[phone.pk]), {"code": "123456"}),
        client.post(reverse("profile:send-test", args=[phone.pk, "sms"])),
        client.get(reverse("profile:delete-method", args=[phone.pk])),
        client.post(reverse("profile:delete-method", args=[phone.pk])),
        client.post(reverse("profile:delete-rule", args=[rule.pk])),
    ):
        assert response.status_code == 404
    assert ContactMethod.objects.filter(pk=phone.pk).exists()
    assert NotificationRule.objects.filter(pk=rule.pk).exists()
    assert not Notification.objects.exists()
    # Nor can a rule of mine point at their method.
    stolen = client.post(
        reverse("profile:add-rule", args=["triggered"]),
        {
            "triggered-contact_method": other.contact_methods.get(kind="email").pk,
            "triggered-channel": "email",
            "triggered-delay_minutes": "0",
        },
    )
    assert "Select a valid choice" in text(stolen)
    assert not pat.notification_rules.filter(channel="email").exists()
    # And their methods are not on my page.
    assert "+15005550002" not in text(client.get(PROFILE))


# ------------------------------------------------------------------ tests and history


def test_send_a_test_records_it_in_the_outbox(
    client: Client, pat: User, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    settings.TWILIO_OUTBOX_MODE = True
    phone = pat.contact_methods.get(kind="phone")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("profile:send-test", args=[phone.pk, "sms"]), follow=True)
    page = text(response)
    assert "Test SMS to +15005550001 queued." in page
    assert f'<a href="{reverse("notifications:outbox")}">Outbox page</a>' in page
    sent = Notification.objects.get()
    assert (sent.purpose, sent.channel, sent.destination) == ("test", "sms", "+15005550001")
    assert (sent.status, sent.outbox) == ("sent", True)

    email = pat.contact_methods.get(kind="email")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("profile:send-test", args=[email.pk, "email"]))
    mail = Notification.objects.get(channel="email")
    assert (mail.purpose, mail.status, mail.destination) == ("test", "sent", "pat@example.com")


def test_a_test_needs_a_verified_method_and_a_channel_it_carries(
    signed_in: Client, unverified_phone: ContactMethod
) -> None:
    refused = signed_in.post(
        reverse("profile:send-test", args=[unverified_phone.pk, "sms"]), follow=True
    )
    assert "Verify +447700900123 first" in text(refused)
    wrong_channel = signed_in.post(
        reverse("profile:send-test", args=[unverified_phone.pk, "email"])
    )
    assert wrong_channel.status_code == 404
    assert not Notification.objects.exists()


def test_recent_notifications_show_failures_with_their_error_and_incident(
    client: Client, pat: User
) -> None:
    incident = IncidentFactory(title="Console sign-in failures")
    now = timezone.now()
    Notification.objects.create(
        user=pat, incident=incident, purpose="triggered", channel="voice",
        destination="+15005550001", status="failed", attempts=4, due_at=now,
        error="Twilio 21614: not a mobile number",
    )  # fmt: skip
    Notification.objects.create(
        user=pat, purpose="test", channel="sms", destination="+15005550001",
        status="sent", attempts=1, due_at=now, outbox=True,
    )  # fmt: skip
    Notification.objects.create(
        user=UserFactory(username="someone"), purpose="test", channel="sms",
        destination="+15005550099", status="failed", due_at=now, error="not yours",
    )  # fmt: skip

    page = text(client.get(PROFILE))

    recent = page.split("Recent notifications")[1]
    assert '<tr class="failed">' in recent
    assert "Twilio 21614: not a mobile number" in recent
    assert f'href="/incidents/{incident.pk}/"' in recent
    assert "Incident triggered #" in recent and "Voice call" in recent
    assert "+15005550099" not in recent and "not yours" not in recent


def test_the_profile_page_costs_a_fixed_number_of_queries(
    client: Client, pat: User, django_assert_max_num_queries: Any
) -> None:
    with django_assert_max_num_queries(5):
        small = client.get(PROFILE)
    assert small.status_code == 200
    phones = [f"+1500555{n:04d}" for n in range(10, 15)]
    for number in phones:
        method = ContactMethod.objects.create(
            user=pat, kind="phone", value=number, verified_at=timezone.now()
        )
        for delay in (0, 3):
            NotificationRule.objects.create(
                user=pat, contact_method=method, channel="sms", delay_minutes=delay
            )
        Notification.objects.create(
            user=pat, contact_method=method, incident=IncidentFactory(), purpose="triggered",
            channel="sms", destination=number, due_at=timezone.now(),
        )  # fmt: skip
    ContactMethod.objects.create(user=pat, kind="phone", value="+15005550020")

    with django_assert_max_num_queries(5):
        big = client.get(PROFILE)

    page = text(big)
    assert all(number in page for number in phones)
    assert page.count("SMS to +15005550012 after 3 min") == 1
