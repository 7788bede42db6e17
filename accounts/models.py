from __future__ import annotations

import secrets
from collections.abc import Callable
from functools import partial

from django.contrib.auth.models import AbstractUser
from django.db import models

# 192 random bits, URL-safe: the secret in a calendar feed's URL (users' and schedules').
# A partial of the standard library rather than a function of ours, so the migrations
# that name it as a default import nothing of Klaxon's.
new_secret: Callable[[], str] = partial(secrets.token_urlsafe, 24)


class Channel(models.TextChoices):
    """A delivery medium: how a message reaches a person (a notification rule's, and a
    Notification's). Not how a person acted on an incident: that is IncidentEvent.Via."""

    SMS = "sms", "SMS"
    VOICE = "voice", "Voice call"
    EMAIL = "email", "Email"

    @property
    def words(self) -> str:
        """The medium inside a sentence: "SMS", "voice call", "email"."""
        label = str(self.label)
        return label if label.isupper() else label.lower()


class User(AbstractUser):
    """A Klaxon user: an administrator or a responder who can be paged."""

    ical_token = models.CharField(max_length=64, unique=True, default=new_secret, editable=False)

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def phone(self) -> str:
        """The first verified phone number, for display ("" when there is none)."""
        for method in self.contact_methods.all():
            if method.kind == ContactMethod.Kind.PHONE and method.is_verified:
                return method.value
        return ""


class ContactMethod(models.Model):
    """Somewhere a user can be reached: a phone number (SMS, voice) or an email address.

    A phone number is usable once verified by a code sent to it by SMS (or when an admin
    created it through the users API). Email addresses are usable at once."""

    class Kind(models.TextChoices):
        PHONE = "phone", "Phone"
        EMAIL = "email", "Email"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="contact_methods")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    # E.164 for phones (+447700900123), the address for email.
    value = models.CharField(max_length=254)
    verified_at = models.DateTimeField(null=True, blank=True)
    # A pending verification: the SHA-256 of the code sent, its expiry and failed tries.
    verification_code_hash = models.CharField(max_length=64, blank=True)
    verification_expires_at = models.DateTimeField(null=True, blank=True)
    verification_attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "kind", "value"], name="one_contact_method_per_value"
            ),
            # An SMS reply is matched to its user by the sending number: a verified
            # number belongs to one user only.
            models.UniqueConstraint(
                fields=["kind", "value"],
                condition=models.Q(kind="phone", verified_at__isnull=False),
                name="verified_phone_belongs_to_one_user",
            ),
        ]

    def __str__(self) -> str:
        return self.value

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None

    @property
    def channels(self) -> list[str]:
        """The channels this method can carry."""
        if self.kind == self.Kind.PHONE:
            return [Channel.SMS, Channel.VOICE]
        return [Channel.EMAIL]


class NotificationRule(models.Model):
    """ "When an incident <event>s, notify me by <channel> at <method> after <delay>".

    A user's rules for one event run in delay order; "triggered" rules apply when an
    escalation step targets the user, "resolved" rules when an incident they were paged
    for is resolved."""

    class Event(models.TextChoices):
        TRIGGERED = "triggered", "Incident triggered"
        RESOLVED = "resolved", "Incident resolved"

    Channel = Channel

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notification_rules")
    event = models.CharField(max_length=12, choices=Event.choices, default=Event.TRIGGERED)
    contact_method = models.ForeignKey(
        ContactMethod, on_delete=models.CASCADE, related_name="rules"
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    delay_minutes = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["event", "delay_minutes", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(delay_minutes__lte=1440), name="rule_delay_at_most_a_day"
            )
        ]

    def __str__(self) -> str:
        when = "at once" if not self.delay_minutes else f"after {self.delay_minutes} min"
        return f"{self.get_channel_display()} to {self.contact_method.value} {when}"


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    members: models.ManyToManyField[User, Membership] = models.ManyToManyField(
        User, through="Membership", related_name="teams"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        RESPONDER = "responder", "Responder"
        VIEWER = "viewer", "Viewer"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.RESPONDER)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="one_membership_per_team")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"
