from __future__ import annotations

import zoneinfo
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from accounts.models import new_secret


def validate_weekdays(value: object) -> None:
    if not isinstance(value, list) or not all(isinstance(d, int) and 0 <= d <= 6 for d in value):
        raise ValidationError("Weekdays are a list of numbers 0 (Monday) to 6 (Sunday).")


# Rotation arithmetic looks days to years around these dates; far-off ones (year 1 or
# 9999) would overflow it, and no real schedule needs them.
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100


def validate_schedule_date(value: date | datetime) -> None:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValidationError(f"Choose a date between {EARLIEST_YEAR} and {LATEST_YEAR}.")


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone (e.g. Europe/London).")


class Schedule(models.Model):
    """An on-call schedule: layers of rotations plus overrides, in one time zone."""

    name = models.CharField(max_length=100)
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="schedules"
    )
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    ical_token = models.CharField(max_length=64, unique=True, default=new_secret, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """The schedule's time zone; UTC when its name is unknown (a row written around
        validation, or a zone since removed from tzdata, must not break a page)."""
        try:
            return zoneinfo.ZoneInfo(self.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return zoneinfo.ZoneInfo("UTC")


class Layer(models.Model):
    """One rotation: users take turns of a fixed length, handing off at a local time."""

    class Turn(models.TextChoices):
        DAILY = "daily", "Daily"
        WEEKLY = "weekly", "Weekly"
        HOURS = "hours", "Every N hours"

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="layers")
    name = models.CharField(max_length=100)
    position = models.PositiveSmallIntegerField(
        default=0, help_text="Higher layers win where they have someone on call."
    )
    start = models.DateField(
        help_text="First day of the rotation, in the schedule's time zone.",
        validators=[validate_schedule_date],
    )
    turn = models.CharField(max_length=8, choices=Turn.choices, default=Turn.WEEKLY)
    turn_hours = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(24 * 28)]
    )
    handoff_time = models.TimeField(help_text="Local time of day when the turn passes on.")
    # Optional restriction: the layer only has someone on call on these weekdays
    # (0 = Monday; empty = every day) between these local times (both empty = all day;
    # an end before the start wraps past midnight).
    restrict_weekdays = models.JSONField(default=list, blank=True, validators=[validate_weekdays])
    restrict_start = models.TimeField(null=True, blank=True)
    restrict_end = models.TimeField(null=True, blank=True)
    users: models.ManyToManyField[Any, LayerMember] = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="LayerMember"
    )

    class Meta:
        ordering = ["schedule", "-position"]

    def __str__(self) -> str:
        return f"{self.schedule}: {self.name}"


class LayerMember(models.Model):
    layer = models.ForeignKey(Layer, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["layer", "position"]
        constraints = [
            models.UniqueConstraint(fields=["layer", "position"], name="one_user_per_turn_slot")
        ]


class Override(models.Model):
    """Puts a user on call for a period; wins over every layer."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="overrides")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    start = models.DateTimeField(validators=[validate_schedule_date])
    end = models.DateTimeField(validators=[validate_schedule_date])

    class Meta:
        ordering = ["start"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="override_ends_after_start"
            )
        ]
