from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone


class AuditEntry(models.Model):
    """One change to the configuration: who did what to which object, and when, with the
    object as it was before and after (secrets masked). Written by ``audit.services.record``
    in the transaction of the change itself, so a change and its entry stand or fall
    together."""

    class ObjectType(models.TextChoices):
        INTEGRATION = "integration", "Integration"
        SCHEDULE = "schedule", "Schedule"
        LAYER = "layer", "Layer"
        OVERRIDE = "override", "Override"
        ESCALATION_POLICY = "escalation policy", "Escalation policy"
        TEAM = "team", "Team"
        MEMBERSHIP = "membership", "Membership"
        USER = "user", "User"

    at = models.DateTimeField(default=timezone.now)
    # The user may be deleted later; the name they had then stays in actor_name.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_name = models.CharField(max_length=150)
    action = models.CharField(max_length=40)
    object_type = models.CharField(max_length=32, choices=ObjectType.choices)
    object_id = models.BigIntegerField(null=True, blank=True)
    object_repr = models.CharField(max_length=200)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    # field -> [old, new]; nested lists of objects (policy steps) as "steps[2].users".
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [
            # The page: newest first, optionally one type or one actor, paged by (at, id).
            models.Index(fields=["-at", "-id"], name="audit_by_time"),
            models.Index(fields=["object_type", "-at", "-id"], name="audit_by_type"),
            models.Index(fields=["actor", "-at", "-id"], name="audit_by_actor"),
            # The history of one object, newest first.
            models.Index(
                fields=["object_type", "object_id", "-at", "-id"], name="audit_by_object"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.actor_name} {self.action} {self.object_type} {self.object_repr}"

    def get_absolute_url(self) -> str:
        return reverse("audit:detail", kwargs={"pk": self.pk})

    @property
    def changed_fields(self) -> list[tuple[str, Any, Any]]:
        """(field, old, new) in the stored order."""
        return [(field, pair[0], pair[1]) for field, pair in (self.changes or {}).items()]
