"""accounts.contacts, the one place contact methods and rules are written: what it
accepts, what it refuses and why, and the default rules a new responder gets."""

from __future__ import annotations

import re

import pytest

from accounts import contacts
from accounts.contacts import ContactError
from accounts.models import ContactMethod, NotificationRule, User
from notifications.models import Notification
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PHONE = ContactMethod.Kind.PHONE
EMAIL = ContactMethod.Kind.EMAIL


def rules_of(user: User) -> list[tuple[str, str, int, str]]:
    return [
        (r.event, r.channel, r.delay_minutes, r.contact_method.value)
        for r in user.notification_rules.select_related("contact_method")
    ]


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+44 7700 900123", "+447700900123"),
        ("+1 (500) 555-0001", "+15005550001"),
        ("  +33 6 12 34 56 78 ", "+33612345678"),
    ],
)
def test_phone_numbers_are_normalised_to_e164(raw: str, e164: str) -> None:
    assert contacts.contact_value_normalise(kind=PHONE, raw=raw) == e164


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("07700 900123", "is not a phone number with a country code, e.g. +44 7700 900123"),
        ("call me", "is not a phone number with a country code"),
        ("+44 77", "has the wrong length for its country"),
    ],
)
def test_bad_phone_numbers_say_what_is_wrong(raw: str, reason: str) -> None:
    with pytest.raises(ContactError, match=re.escape(reason)):
        contacts.contact_value_normalise(kind=PHONE, raw=raw)


def test_emails_are_usable_at_once_and_phones_only_once_verified() -> None:
    user = UserFactory(username="kim")
    email = contacts.contact_method_add(user=user, kind=EMAIL, raw="kim@example.com")
    phone = contacts.contact_method_add(user=user, kind=PHONE, raw="+44 7700 900123")
    assert email.is_verified and not phone.is_verified
    assert user.phone == ""


def test_a_verified_phone_belongs_to_one_user() -> None:
    UserFactory(username="first", phone="+15005550001")
    second = UserFactory(username="second")
    for verified in (True, False):
        with pytest.raises(ContactError, match="already verified by another user"):
            contacts.contact_method_add(
                user=second, kind=PHONE, raw="+1 500 555 0001", verified=verified
            )
    assert not second.contact_methods.exists()


def test_an_unverified_number_may_be_pending_for_two_users() -> None:
    a, b = UserFactory(username="a"), UserFactory(username="b")
    contacts.contact_method_add(user=a, kind=PHONE, raw="+447700900123")
    contacts.contact_method_add(user=b, kind=PHONE, raw="+447700900123")
    assert ContactMethod.objects.filter(value="+447700900123").count() == 2


def test_default_rules_sms_now_voice_after_5_min_and_sms_on_resolve() -> None:
    user = UserFactory(username="lee")
    contacts.contact_method_add(user=user, kind=EMAIL, raw="lee@example.com")
    contacts.contact_method_add(user=user, kind=PHONE, raw="+15005550001", verified=True)
    contacts.notification_rule_add_defaults(user=user)
    assert rules_of(user) == [
        ("resolved", "sms", 0, "+15005550001"),
        ("triggered", "sms", 0, "+15005550001"),
        ("triggered", "voice", 5, "+15005550001"),
    ]
    assert (
        contacts.notification_rule_add_defaults(user=user) == []
    )  # existing rules are left alone
    assert user.notification_rules.count() == 3


def test_default_rules_fall_back_to_email_and_skip_unverified_phones() -> None:
    user = UserFactory(username="mo")
    contacts.contact_method_add(user=user, kind=PHONE, raw="+447700900123")
    contacts.contact_method_add(user=user, kind=EMAIL, raw="mo@example.com")
    contacts.notification_rule_add_defaults(user=user)
    assert rules_of(user) == [
        ("resolved", "email", 0, "mo@example.com"),
        ("triggered", "email", 0, "mo@example.com"),
    ]


def test_create_responder_vouches_for_phone_and_email() -> None:
    user = contacts.responder_create(
        username="dana", email="dana@example.com", phone="+44 7700 900123", first_name="Dana"
    )
    assert not user.has_usable_password()
    assert user.first_name == "Dana"
    assert {(m.kind, m.value, m.is_verified) for m in user.contact_methods.all()} == {
        ("email", "dana@example.com", True),
        ("phone", "+447700900123", True),
    }
    assert [r[:3] for r in rules_of(user)] == [
        ("resolved", "sms", 0),
        ("triggered", "sms", 0),
        ("triggered", "voice", 5),
    ]


def test_create_responder_leaves_nothing_behind_when_the_phone_is_taken() -> None:
    UserFactory(username="owner", phone="+15005550001")
    with pytest.raises(ContactError, match="already verified by another user"):
        contacts.responder_create(username="late", email="late@example.com", phone="+15005550001")
    assert not User.objects.filter(username="late").exists()
    assert not ContactMethod.objects.filter(value="late@example.com").exists()


def test_add_rule_refuses_what_cannot_work() -> None:
    user = UserFactory(username="ann", phone="+15005550001")
    other = UserFactory(username="ben", phone="+15005550002")
    email = user.contact_methods.get(kind="email")
    phone = user.contact_methods.get(kind="phone")
    with pytest.raises(ContactError, match="cannot carry SMS; choose Email"):
        contacts.notification_rule_add(
            user=user, event="triggered", contact_method=email, channel="sms", delay_minutes=0
        )
    with pytest.raises(ContactError, match="cannot carry Email; choose SMS or Voice call"):
        contacts.notification_rule_add(
            user=user, event="triggered", contact_method=phone, channel="email", delay_minutes=0
        )
    with pytest.raises(ContactError, match="belongs to someone else"):
        contacts.notification_rule_add(
            user=user,
            event="triggered",
            contact_method=other.contact_methods.first(),
            channel="email",
            delay_minutes=0,
        )
    for delay in (-1, 1441):
        with pytest.raises(ContactError, match="between 0 and 1440"):
            contacts.notification_rule_add(
                user=user,
                event="triggered",
                contact_method=phone,
                channel="sms",
                delay_minutes=delay,
            )
    assert user.notification_rules.count() == 3
    rule = contacts.notification_rule_add(
        user=user, event="triggered", contact_method=email, channel="email", delay_minutes=1440
    )
    assert str(rule) == "Email to ann@example.com after 1440 min"


def test_deleting_a_method_takes_its_rules_and_names_them() -> None:
    user = UserFactory(username="cy", phone="+15005550001")
    phone = user.contact_methods.get(kind="phone")
    gone = contacts.contact_method_delete(method=phone)
    assert gone == [
        "incident resolved: SMS to +15005550001 at once",
        "incident triggered: SMS to +15005550001 at once",
        "incident triggered: Voice call to +15005550001 after 5 min",
    ]
    assert not NotificationRule.objects.filter(user=user).exists()
    assert user.contact_methods.get().kind == "email"


def test_a_code_is_checked_before_one_was_sent_and_may_carry_spaces() -> None:
    user = UserFactory(username="di")
    method = contacts.contact_method_add(user=user, kind=PHONE, raw="+447700900123")
    assert contacts.contact_method_verify(method=method, code="123456").message.startswith(
        "No code was sent"
    )
    code = contacts.contact_method_start_verification(method=method)
    result = contacts.contact_method_verify(method=method, code=f" {code[:3]} {code[3:]} ")
    assert result.ok
    method.refresh_from_db()
    assert method.is_verified and method.verification_code_hash == ""


def test_send_code_refuses_emails_and_verified_phones() -> None:
    user = UserFactory(username="eli", phone="+15005550001")
    for method in user.contact_methods.all():
        with pytest.raises(ContactError):
            contacts.contact_method_send_code(method=method)
    assert not Notification.objects.exists()


def test_the_resend_limit_is_per_number_not_per_user() -> None:
    a, b = UserFactory(username="a"), UserFactory(username="b")
    mine = contacts.contact_method_add(user=a, kind=PHONE, raw="+447700900123")
    theirs = contacts.contact_method_add(user=b, kind=PHONE, raw="+447700900123")
    contacts.contact_method_send_code(method=mine)
    with pytest.raises(ContactError, match=r"wait \d+ s"):
        contacts.contact_method_send_code(method=theirs)
    assert Notification.objects.filter(purpose="verify").count() == 1
