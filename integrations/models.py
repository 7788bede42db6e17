from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.urls import reverse


def new_token() -> str:
    """192 bits from the OS CSPRNG, URL-safe."""
    return secrets.token_urlsafe(24)


def token_digest(token: str) -> str:
    # Lookups go by the SHA-256 of the token, so the index comparison an attacker can
    # time is over a value they cannot steer byte by byte.
    return hashlib.sha256(token.encode()).hexdigest()


class Integration(models.Model):
    """A source of alerts with its own unguessable inbound URL."""

    class Kind(models.TextChoices):
        AWS_SNS = "aws_sns", "Amazon SNS (CloudWatch alarms)"

    class Subscription(models.TextChoices):
        NONE = "none", "Waiting for a subscription"
        PENDING = "pending", "Pending confirmation"
        CONFIRMED = "confirmed", "Confirmed"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.AWS_SNS)
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    escalation_policy = models.ForeignKey(
        "escalation.EscalationPolicy",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="integrations",
    )
    enabled = models.BooleanField(default=True)
    token = models.CharField(max_length=64, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)

    # Amazon SNS
    subscription_status = models.CharField(
        max_length=16, choices=Subscription.choices, default=Subscription.NONE
    )
    topic_arn = models.CharField(
        max_length=512,
        blank=True,
        help_text="Pinned on the first confirmed subscription; other topics are rejected.",
    )
    subscription_arn = models.CharField(max_length=512, blank=True)
    insufficient_data_as_alarm = models.BooleanField(
        default=False, help_text="Treat INSUFFICIENT_DATA like ALARM (default: ignore it)."
    )
    security_mode = models.BooleanField(
        default=False,
        help_text="OK only notes the recovery on the timeline; a person must resolve.",
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: object, **kwargs: object) -> None:
        if not self.token:
            self.set_token(new_token())
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def set_token(self, token: str) -> None:
        self.token = token
        self.token_hash = token_digest(token)

    @property
    def inbound_path(self) -> str:
        return reverse("inbound", kwargs={"token": self.token})

    @property
    def url(self) -> str:
        return settings.KLAXON_BASE_URL + self.inbound_path

    def get_absolute_url(self) -> str:
        return reverse("integrations:detail", kwargs={"pk": self.pk})


class InboundMessage(models.Model):
    """One request to an inbound URL, accepted or rejected: the Inbound Log."""

    class Outcome(models.TextChoices):
        RECEIVED = "received", "Received"
        CREATED = "created", "Created incident"
        APPENDED = "appended", "Appended to incident"
        RESOLVED = "resolved", "Resolved incident"
        NOTED = "noted", "Noted on incident"
        STALE = "stale", "Stale (older than the last state)"
        IGNORED = "ignored", "Ignored"
        DUPLICATE = "duplicate", "Duplicate delivery"
        SUBSCRIPTION_PENDING = "subscription_pending", "Subscription pending"
        SUBSCRIPTION_CONFIRMED = "subscription_confirmed", "Subscription confirmed"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        REJECTED = "rejected", "Rejected"
        # Twilio webhooks (SMS replies, voice keypresses, delivery status callbacks).
        ACKNOWLEDGED = "acknowledged", "Acknowledged incident"
        ESCALATED = "escalated", "Escalated incident"
        ANSWERED = "answered", "Answered"
        STATUS_UPDATED = "status_updated", "Delivery status updated"

    class Source(models.TextChoices):
        SNS = "sns", "Amazon SNS"
        TWILIO = "twilio", "Twilio"

    source = models.CharField(max_length=8, choices=Source.choices, default=Source.SNS)
    integration = models.ForeignKey(
        Integration, null=True, on_delete=models.SET_NULL, related_name="inbound_messages"
    )
    received_at = models.DateTimeField(db_index=True)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    headers = models.JSONField(default=dict)
    body = models.TextField(blank=True)
    body_size = models.PositiveIntegerField(default=0)
    message_type = models.CharField(max_length=40, blank=True)
    message_id = models.CharField(max_length=100, blank=True)
    # Set only once a message passed verification; unique per integration, so a second
    # delivery of the same SNS MessageId cannot be applied twice, even concurrently.
    applied_message_id = models.CharField(max_length=100, null=True, blank=True)
    topic_arn = models.CharField(max_length=512, blank=True)
    subscribe_url = models.CharField(max_length=2048, blank=True)
    outcome = models.CharField(max_length=32, choices=Outcome.choices, default=Outcome.RECEIVED)
    reason = models.CharField(max_length=500, blank=True)
    incident = models.ForeignKey(
        "incidents.Incident",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="inbound_messages",
    )
    # The timeline line this request wrote, if any. The row points at the event (not the
    # reverse) so the inbound path can write the row once, last, with its outcome.
    event = models.OneToOneField(
        "incidents.IncidentEvent",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="inbound_message",
    )
    # Result of visiting the SubscribeURL (auto or by a click).
    confirm_status = models.PositiveSmallIntegerField(null=True, blank=True)
    confirm_result = models.CharField(max_length=600, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["integration", "-id"], name="inbound_by_integration"),
            models.Index(fields=["outcome", "-id"], name="inbound_by_outcome"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "applied_message_id"], name="apply_message_id_once"
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.message_type or 'request'} {self.outcome}"

    @property
    def can_be_confirmed(self) -> bool:
        """Only a SubscriptionConfirmation that passed verification may be confirmed: a
        rejected one (bad signature, wrong topic) must never pin its topic."""
        return (
            self.message_type == "SubscriptionConfirmation"
            and self.outcome != self.Outcome.REJECTED
            and bool(self.subscribe_url)
        )

    @property
    def outcome_text(self) -> str:
        label = self.get_outcome_display()
        return f"{label}: {self.reason}" if self.reason and self.outcome == "rejected" else label

    def get_absolute_url(self) -> str:
        return reverse("integrations:inbound-detail", kwargs={"pk": self.pk})
