"""Each message Klaxon sends (or tries to) is one Notification row: the attempt log.

The row is written before anything is sent, and a sender claims it with a conditional
UPDATE (queued -> sending), so a duplicated or retried task never sends twice."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse

from accounts.models import Channel


class Notification(models.Model):
    class Purpose(models.TextChoices):
        TRIGGERED = "triggered", "Incident triggered"
        RESOLVED = "resolved", "Incident resolved"
        TEST = "test", "Test"
        VERIFY = "verify", "Verification code"

    # The medium it goes by (SMS, voice call, email): the same choices as the rule's.
    Channel = Channel

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    incident = models.ForeignKey(
        "incidents.Incident",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    contact_method = models.ForeignKey(
        "accounts.ContactMethod",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notifications",
    )
    purpose = models.CharField(max_length=12, choices=Purpose.choices)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    # Where it went, as it was when queued (the contact method may change later).
    destination = models.CharField(max_length=254)
    subject = models.CharField(max_length=255, blank=True)
    body = models.TextField(blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    due_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    # Twilio's Message/Call SID, or the email Message-ID.
    provider_id = models.CharField(max_length=100, blank=True)
    # The provider's own word for the last status it reported (no-answer, undelivered...).
    provider_status = models.CharField(max_length=32, blank=True)
    error_code = models.CharField(max_length=16, blank=True)
    error = models.CharField(max_length=500, blank=True)
    # Recorded in the outbox instead of sent (no Twilio credentials).
    outbox = models.BooleanField(default=False)
    # What queued it, in words ("escalation step 1 of 2 (round 1 of 3)").
    reason = models.CharField(max_length=255, blank=True)
    # Unique when set: the same page (incident, step, user, rule) is queued once at most.
    dedup_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    # Email action links are single use: set by the first click that acted.
    link_used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["incident", "id"], name="notification_by_incident"),
            models.Index(fields=["user", "-id"], name="notification_by_user"),
            models.Index(fields=["provider_id"], name="notification_by_provider_id"),
            # The beat's sweep: queued rows whose send is overdue, and stuck sends.
            models.Index(
                fields=["due_at"],
                condition=models.Q(status__in=["queued", "sending"]),
                name="notification_pending",
            ),
            models.Index(
                fields=["outbox", "-id"],
                condition=models.Q(outbox=True),
                name="notification_outbox",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} to {self.destination} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in (self.Status.DELIVERED, self.Status.FAILED, self.Status.CANCELLED)

    def get_absolute_url(self) -> str:
        return reverse("notifications:outbox-detail", kwargs={"pk": self.pk})
