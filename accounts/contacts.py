"""Writes to contact methods and notification rules: add, verify, default rules.

Views, the users API, the demo seed and tests all go through here."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import ContactMethod, NotificationRule, User
from accounts.phones import InvalidPhone, to_e164

if TYPE_CHECKING:
    from notifications.models import Notification

Channel = NotificationRule.Channel
Event = NotificationRule.Event

# At most one verification SMS per number in this many seconds: a code costs money and
# a stuck "Send code" button must not flood someone's phone.
RESEND_SECONDS = 60


class ContactError(ValueError):
    """A contact method or rule that cannot be saved; the message says why."""


def contact_value_normalise(*, kind: str, raw: str) -> str:
    """The stored form of a phone number (E.164) or email address, or ContactError."""
    if kind == ContactMethod.Kind.PHONE:
        try:
            return to_e164(raw)
        except InvalidPhone as exc:
            raise ContactError(str(exc)) from None
    if kind == ContactMethod.Kind.EMAIL:
        value = raw.strip()
        try:
            validate_email(value)
        except ValidationError:
            raise ContactError(f"{raw!r} is not an email address") from None
        return value
    raise ContactError(f"unknown contact method kind {kind!r}")


def contact_method_add(
    *, user: User, kind: str, raw: str, verified: bool = False
) -> ContactMethod:
    """Add a phone number or email address. Email addresses are usable at once; a phone
    number only once verified (``verified=True`` is for admins vouching for it)."""
    value = contact_value_normalise(kind=kind, raw=raw)
    if kind == ContactMethod.Kind.EMAIL:
        verified = True
    if ContactMethod.objects.filter(user=user, kind=kind, value=value).exists():
        raise ContactError(f"{value} is already one of your contact methods")
    # Refused even unverified: it could never be verified (an SMS reply is matched to
    # one user by its number), and sending it codes would pester its owner.
    if kind == ContactMethod.Kind.PHONE and _phone_taken(value, user):
        raise ContactError(f"{value} is already verified by another user")
    try:
        with transaction.atomic():
            return ContactMethod.objects.create(
                user=user, kind=kind, value=value, verified_at=timezone.now() if verified else None
            )
    except IntegrityError:
        raise ContactError(f"{value} is already in use") from None


def _phone_taken(value: str, user: User) -> bool:
    return (
        ContactMethod.objects.filter(kind=ContactMethod.Kind.PHONE, value=value)
        .exclude(verified_at=None)
        .exclude(user=user)
        .exists()
    )


def notification_rule_add_defaults(*, user: User) -> list[NotificationRule]:
    """Give a user without rules the defaults, from their verified methods: SMS at once
    and a voice call after 5 minutes to the first phone, email at once when there is no
    phone; on resolve, an SMS (or email). Existing rules are left alone."""
    if user.notification_rules.exists():
        return []
    methods = [m for m in user.contact_methods.order_by("id") if m.is_verified]
    phone = next((m for m in methods if m.kind == ContactMethod.Kind.PHONE), None)
    email = next((m for m in methods if m.kind == ContactMethod.Kind.EMAIL), None)
    rules: list[NotificationRule] = []
    if phone is not None:
        rules += [
            NotificationRule(user=user, event=Event.TRIGGERED, contact_method=phone,
                             channel=Channel.SMS, delay_minutes=0),
            NotificationRule(user=user, event=Event.TRIGGERED, contact_method=phone,
                             channel=Channel.VOICE, delay_minutes=5),
            NotificationRule(user=user, event=Event.RESOLVED, contact_method=phone,
                             channel=Channel.SMS, delay_minutes=0),
        ]  # fmt: skip
    elif email is not None:
        rules += [
            NotificationRule(user=user, event=Event.TRIGGERED, contact_method=email,
                             channel=Channel.EMAIL, delay_minutes=0),
            NotificationRule(user=user, event=Event.RESOLVED, contact_method=email,
                             channel=Channel.EMAIL, delay_minutes=0),
        ]  # fmt: skip
    return NotificationRule.objects.bulk_create(rules)


def responder_create(*, username: str, email: str, phone: str = "", **names: str) -> User:
    """A user an admin vouches for: email and phone usable at once, default rules, no
    usable password (they sign in after a password reset)."""
    with transaction.atomic():
        user = User(username=username, email=email, **names)
        user.set_unusable_password()
        user.save()
        if email:
            contact_method_add(user=user, kind=ContactMethod.Kind.EMAIL, raw=email, verified=True)
        if phone:
            contact_method_add(user=user, kind=ContactMethod.Kind.PHONE, raw=phone, verified=True)
        notification_rule_add_defaults(user=user)
    return user


def contact_method_delete(*, method: ContactMethod) -> list[str]:
    """Delete a contact method and, with it (CASCADE), the rules that use it; returns
    those rules in words ("SMS to +15005550001 at once") so the user is told."""
    with transaction.atomic():
        gone = [
            f"{rule.get_event_display().lower()}: {rule}"
            for rule in method.rules.select_related("contact_method").order_by(
                "event", "delay_minutes", "id"
            )
        ]
        method.delete()
    return gone


def notification_rule_add(
    *, user: User, event: str, contact_method: ContactMethod, channel: str, delay_minutes: int
) -> NotificationRule:
    if contact_method.user_id != user.pk:
        raise ContactError("that contact method belongs to someone else")
    if channel not in contact_method.channels:
        raise ContactError(
            f"{contact_method.value} cannot carry {Channel(channel).label}; "
            f"choose {' or '.join(Channel(c).label for c in contact_method.channels)}"
        )
    if not 0 <= delay_minutes <= 1440:
        raise ContactError("the delay must be between 0 and 1440 minutes")
    return NotificationRule.objects.create(
        user=user,
        event=event,
        contact_method=contact_method,
        channel=channel,
        delay_minutes=delay_minutes,
    )


# --- Phone verification -----------------------------------------------------------------


def contact_method_send_code(*, method: ContactMethod) -> Notification:
    """Make a new code for an unverified phone number and queue it by SMS; ContactError
    when the number cannot be verified or a code went to it under RESEND_SECONDS ago."""
    from notifications.models import Notification
    from notifications.services import notification_send_verification_code

    if method.kind != ContactMethod.Kind.PHONE:
        raise ContactError(f"{method.value} is not a phone number: there is nothing to verify.")
    if method.is_verified:
        raise ContactError(f"{method.value} is already verified.")
    if _phone_taken(method.value, method.user):
        raise ContactError(f"{method.value} is already verified by another user.")
    with transaction.atomic():
        # Lock every row with this number so two clicks (or two users) cannot both pass
        # the rate limit below; it is per number, not per row.
        list(
            ContactMethod.objects.select_for_update().filter(
                kind=ContactMethod.Kind.PHONE, value=method.value
            )
        )
        last = (
            Notification.objects.filter(
                purpose=Notification.Purpose.VERIFY, destination=method.value
            )
            .order_by("-created_at")
            .values_list("created_at", flat=True)
            .first()
        )
        now = timezone.now()
        if last is not None and now - last < timedelta(seconds=RESEND_SECONDS):
            ago = int((now - last).total_seconds())
            wait = max(1, RESEND_SECONDS - ago)
            raise ContactError(
                f"A code was sent to {method.value} {ago} s ago: wait {wait} s before "
                "asking for another."
            )
        code = contact_method_start_verification(method=method)
        return notification_send_verification_code(method=method, code=code)


def _code_digest(method: ContactMethod, code: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"{method.pk}:{code}".encode(), hashlib.sha256).hexdigest()


def contact_method_start_verification(*, method: ContactMethod) -> str:
    """Make a new 6-digit code for a phone number (the previous one stops working) and
    return it; the caller sends it
    (``notifications.services.notification_send_verification_code``)."""
    code = f"{secrets.randbelow(10**6):06d}"
    method.verification_code_hash = _code_digest(method, code)
    method.verification_expires_at = timezone.now() + timedelta(
        minutes=settings.VERIFY_CODE_MINUTES
    )
    method.verification_attempts = 0
    method.save(
        update_fields=[
            "verification_code_hash",
            "verification_expires_at",
            "verification_attempts",
        ]
    )
    return code


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    message: str


def contact_method_verify(*, method: ContactMethod, code: str) -> VerifyResult:
    """Check a code typed by the user; each wrong try counts, and after
    VERIFY_CODE_MAX_TRIES or past the expiry a new code must be sent."""
    if method.is_verified:
        return VerifyResult(True, f"{method.value} is already verified.")
    with transaction.atomic():
        method = ContactMethod.objects.select_for_update().get(pk=method.pk)
        if not method.verification_code_hash or method.verification_expires_at is None:
            return VerifyResult(False, "No code was sent to this number yet: send one first.")
        if method.verification_expires_at < timezone.now():
            return VerifyResult(False, "That code has expired: send a new one.")
        if method.verification_attempts >= settings.VERIFY_CODE_MAX_TRIES:
            return VerifyResult(False, "Too many wrong codes: send a new one.")
        expected = method.verification_code_hash
        if not hmac.compare_digest(expected, _code_digest(method, "".join(code.split()))):
            ContactMethod.objects.filter(pk=method.pk).update(
                verification_attempts=F("verification_attempts") + 1
            )
            return VerifyResult(False, "That code is not right. Check the SMS and try again.")
        taken = VerifyResult(False, f"{method.value} is already verified by another user.")
        if _phone_taken(method.value, method.user):
            return taken
        method.verified_at = timezone.now()
        method.verification_code_hash = ""
        method.verification_expires_at = None
        try:
            # A savepoint: another user verifying the same number at the same moment
            # trips the database constraint; the outer transaction must survive it.
            with transaction.atomic():
                method.save(
                    update_fields=[
                        "verified_at",
                        "verification_code_hash",
                        "verification_expires_at",
                    ]
                )
        except IntegrityError:
            return taken
    notification_rule_add_defaults(user=method.user)
    return VerifyResult(True, f"{method.value} is verified.")
