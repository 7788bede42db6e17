from __future__ import annotations

from django.db import models


class PruneRun(models.Model):
    """One table's pruning in one run: what was deleted, and how long it took."""

    class Table(models.TextChoices):
        INBOUND = "inbound", "Inbound Log"
        TIMELINE = "timeline", "Timelines of resolved incidents"
        NOTIFICATIONS = "notifications", "Notifications"

    table = models.CharField(max_length=16, choices=Table.choices)
    at = models.DateTimeField()
    cutoff = models.DateTimeField()
    deleted = models.PositiveBigIntegerField()
    seconds = models.FloatField()

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.table}: {self.deleted} rows before {self.cutoff:%Y-%m-%d}"
