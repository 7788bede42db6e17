from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse


class Incident(models.Model):
    """Something is wrong and someone must look: opened by an alarm, closed by OK or a person."""

    class State(models.TextChoices):
        TRIGGERED = "triggered", "Triggered"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    integration = models.ForeignKey(
        "integrations.Integration", on_delete=models.CASCADE, related_name="incidents"
    )
    dedup_key = models.CharField(max_length=512)
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.TRIGGERED)
    alarm_count = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    # StateChangeTime of the newest alarm state applied to this key; older ones are stale.
    last_state_change_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    # Escalation state lives on the row, not only in the broker: the policy as it was when
    # the incident opened, where it is in it, when the next step is due, and a token that
    # a queued task must match (a new token makes every older task stale).
    escalation_snapshot = models.JSONField(default=dict, blank=True)
    escalation_step = models.PositiveSmallIntegerField(default=0)
    escalation_round = models.PositiveSmallIntegerField(default=0)
    next_escalation_at = models.DateTimeField(null=True, blank=True)
    escalation_token = models.CharField(max_length=32, blank=True)
    # Who the last escalation step paged ([{"id", "name"}]): the incident's assignees.
    escalation_targets = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["state", "-id"], name="incident_by_state"),
            models.Index(fields=["integration", "dedup_key", "-id"], name="incident_by_key"),
            # The list filtered by integration (or by team, through its integrations): the
            # tab counts become an index-only scan, each tab's page a range of it.
            models.Index(fields=["integration", "state", "-id"], name="incident_by_integration"),
            models.Index(
                fields=["next_escalation_at"],
                condition=models.Q(state="triggered", next_escalation_at__isnull=False),
                name="incident_escalation_due",
            ),
        ]
        constraints = [
            # The invariant behind "a repeated ALARM appends": at most one open incident
            # per (integration, key), enforced by the database against concurrent inserts.
            models.UniqueConstraint(
                fields=["integration", "dedup_key"],
                condition=~models.Q(state="resolved"),
                name="one_open_incident_per_key",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.state != self.State.RESOLVED

    def get_absolute_url(self) -> str:
        return reverse("incidents:detail", kwargs={"pk": self.pk})


class AlarmKeyState(models.Model):
    """The newest StateChangeTime seen for one (integration, alarm key), kept whether or not
    an incident is open: an OK that arrives before a late-delivered ALARM must still make
    that ALARM stale. Its row is also the lock that serialises messages for the key."""

    integration = models.ForeignKey(
        "integrations.Integration", on_delete=models.CASCADE, related_name="+"
    )
    dedup_key = models.CharField(max_length=512)
    last_state_change_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "dedup_key"], name="one_state_row_per_alarm_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.dedup_key} @ {self.last_state_change_at:%Y-%m-%d %H:%M:%S}"


class IncidentEvent(models.Model):
    """One line of an incident's timeline."""

    class Kind(models.TextChoices):
        TRIGGERED = "triggered", "Triggered"
        APPENDED = "appended", "Alarm appended"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"
        NOTE = "note", "Note"
        SOURCE_OK = "source_ok", "Source reported OK"
        ESCALATED = "escalated", "Escalation step"
        NOTIFIED = "notified", "Notification"

    class Via(models.TextChoices):
        """How a line came to be: the way a person acted (the dashboard, the API, an SMS
        reply, a phone keypress, an email link), the alarm source, or escalation. A
        page's own lines (sent, delivered, failed) carry the medium it went by, which
        has the same values as the ways of replying by it. Labels are the words a line
        shows after "via"."""

        WEB = "web", "the dashboard"
        API = "api", "the API"
        SMS = "sms", "SMS reply"
        VOICE = "voice", "phone keypress"
        EMAIL = "email", "email link"
        SOURCE = "source", "the alarm source"
        ESCALATION = "escalation", "escalation"
        AWS = "aws", "the AWS evidence search"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    at = models.DateTimeField()
    message = models.TextField(blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    via = models.CharField(max_length=16, choices=Via.choices, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.incident_id} {self.kind} at {self.at:%Y-%m-%d %H:%M:%S}"
