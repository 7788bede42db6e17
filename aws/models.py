"""What the AWS security pack stores: an integration's read-only AWS credentials
(encrypted) and the CloudTrail records attached to incidents as evidence."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class AwsCredentials(models.Model):
    """Read-only AWS credentials an aws_sns integration uses to fetch evidence.

    ``secret`` is a Fernet token (aws/crypto.py) of a JSON object: the access key id
    and secret access key, or the role ARN and external id. Nothing in it is ever shown
    again; ``hint`` is what the page may show (the key id's last four characters, or
    the role ARN, which is not a secret)."""

    class Kind(models.TextChoices):
        KEYS = "keys", "Access key"
        ROLE = "role", "IAM role to assume"

    integration = models.OneToOneField(
        "integrations.Integration", on_delete=models.CASCADE, related_name="aws_credentials"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    region = models.CharField(max_length=32)
    hint = models.CharField(max_length=2048)
    secret = models.TextField()
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # The last "test credentials": when, whether it worked, and what AWS said.
    tested_at = models.DateTimeField(null=True, blank=True)
    test_ok = models.BooleanField(null=True, blank=True)
    test_result = models.CharField(max_length=1000, blank=True)

    class Meta:
        verbose_name_plural = "AWS credentials"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for integration {self.integration_id}: {self.hint}"

    @property
    def summary(self) -> str:
        """What the page and the audit log say about them (never the secret)."""
        if self.kind == self.Kind.KEYS:
            return f"access key ending in {self.hint}, region {self.region}"
        return f"role {self.hint}, region {self.region}"


class CloudTrailEvidence(models.Model):
    """One CloudTrail record attached to an incident: who did what, from where.

    Shown through ``aws.evidence.cloudtrail_evidence`` and ``templates/aws/_evidence.html``
    whatever brought it: a metric-filter alarm's FilterLogEvents search, or (later) an
    EventBridge event."""

    class Source(models.TextChoices):
        METRIC_FILTER = "metric_filter", "Metric filter search"
        EVENTBRIDGE = "eventbridge", "EventBridge event"

    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.CASCADE, related_name="cloudtrail_evidence"
    )
    source = models.CharField(max_length=16, choices=Source.choices)
    event_id = models.CharField(max_length=128)
    event_time = models.DateTimeField(null=True, blank=True)
    record = models.JSONField()
    log_group = models.CharField(max_length=512, blank=True)
    filter_name = models.CharField(max_length=512, blank=True)
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["event_time", "id"]
        verbose_name_plural = "CloudTrail evidence"
        constraints = [
            # A redelivered task, or two paths finding the same event, attach it once.
            models.UniqueConstraint(fields=["incident", "event_id"], name="evidence_once")
        ]

    def __str__(self) -> str:
        return f"incident {self.incident_id}: CloudTrail event {self.event_id}"
