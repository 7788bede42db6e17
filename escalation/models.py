"""Escalation policies: who is paged, in what order, and how long each step waits.

The tables keep the names they had when policies lived in ``schedules/`` (the move was
state-only: ``escalation/migrations/0001_policies_move_here.py``)."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models


class EscalationPolicy(models.Model):
    """Ordered steps saying who is paged, and when, until someone acknowledges."""

    name = models.CharField(max_length=100)
    team = models.ForeignKey(
        "accounts.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="escalation_policies",
    )
    repeat = models.PositiveSmallIntegerField(
        default=0,
        validators=[MaxValueValidator(9)],
        help_text="How many more times to run the steps if nobody acknowledges (0-9).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "schedules_escalationpolicy"
        ordering = ["name"]
        verbose_name_plural = "escalation policies"

    def __str__(self) -> str:
        return self.name


class EscalationStep(models.Model):
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    delay_minutes = models.PositiveIntegerField(
        default=5, help_text="Minutes to wait for an acknowledgement before the next step."
    )
    # The many-to-many tables take their names from db_table: schedules_escalationstep_*.
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True)
    schedules = models.ManyToManyField("schedules.Schedule", blank=True)
    teams = models.ManyToManyField("accounts.Team", blank=True)

    class Meta:
        db_table = "schedules_escalationstep"
        ordering = ["policy", "position"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "position"], name="one_step_per_position")
        ]

    def __str__(self) -> str:
        return f"{self.policy} step {self.position + 1}"
