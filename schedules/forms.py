from __future__ import annotations

import re
import zoneinfo
from typing import Any

from django import forms

from accounts.models import User
from schedules.models import Layer, Override, Schedule

# The zones most teams pick; anything else in the IANA database can be typed in.
COMMON_TIME_ZONES = [
    "UTC",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Amsterdam",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Stockholm",
    "Europe/Warsaw",
    "Europe/Athens",
    "Europe/Helsinki",
    "Europe/Istanbul",
    "Europe/Moscow",
    "Africa/Johannesburg",
    "Africa/Lagos",
    "Africa/Cairo",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Tokyo",
    "Asia/Seoul",
    "Australia/Perth",
    "Australia/Sydney",
    "Pacific/Auckland",
    "America/Sao_Paulo",
    "America/Argentina/Buenos_Aires",
    "America/Halifax",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
]

WEEKDAYS = [
    (0, "Mon"),
    (1, "Tue"),
    (2, "Wed"),
    (3, "Thu"),
    (4, "Fri"),
    (5, "Sat"),
    (6, "Sun"),
]

DATETIME_LOCAL_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]


class ScheduleForm(forms.ModelForm):  # type: ignore[type-arg]
    """Name, team and time zone: a list of common zones, or any IANA name typed in."""

    zone_choice = forms.ChoiceField(
        label="Time zone",
        required=False,
        choices=[(z, z) for z in COMMON_TIME_ZONES] + [("", "Other (type it below)")],
    )
    zone_other = forms.CharField(
        label="Other time zone",
        required=False,
        max_length=64,
        help_text="Any IANA name, e.g. America/Toronto. Leave empty to use the list above.",
    )

    class Meta:
        model = Schedule
        fields = ["name", "team"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        zone = self.instance.time_zone if self.instance.pk else "UTC"
        if zone in COMMON_TIME_ZONES:
            self.initial.setdefault("zone_choice", zone)
        else:
            self.initial.setdefault("zone_choice", "")
            self.initial.setdefault("zone_other", zone)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        other = (data.get("zone_other") or "").strip()
        zone = other or data.get("zone_choice") or ""
        if not zone:
            self.add_error("zone_other", "Pick a time zone from the list or type one here.")
        elif zone not in zoneinfo.available_timezones():
            field = "zone_other" if other else "zone_choice"
            self.add_error(field, f"{zone!r} is not an IANA time zone (e.g. Europe/London).")
        else:
            self.instance.time_zone = zone
        return data


class UserOrderField(forms.CharField):
    """Usernames in rotation order, separated by commas, spaces or new lines."""

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        return [name for name in re.split(r"[\s,]+", text) if name]

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return ", ".join(str(v) for v in value)
        return value


class LayerForm(forms.ModelForm):  # type: ignore[type-arg]
    weekdays = forms.TypedMultipleChoiceField(
        label="Only on these days",
        choices=WEEKDAYS,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every day.",
    )
    order = UserOrderField(
        label="Users, in turn order",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Usernames separated by commas; the first one takes the first turn. "
        "A name may appear more than once.",
    )
    field_order = [
        "name",
        "order",
        "position",
        "start",
        "turn",
        "turn_hours",
        "handoff_time",
        "weekdays",
        "restrict_start",
        "restrict_end",
    ]

    class Meta:
        model = Layer
        fields = [
            "name",
            "position",
            "start",
            "turn",
            "turn_hours",
            "handoff_time",
            "restrict_start",
            "restrict_end",
        ]
        labels = {
            "turn_hours": "Hours per turn",
            "restrict_start": "Only from (local time)",
            "restrict_end": "Until (local time)",
        }
        help_texts = {
            "turn_hours": "Only for “Every N hours”.",
            "restrict_end": "Both empty: all day. An end before the start runs past midnight.",
        }
        widgets = {
            "start": forms.DateInput(attrs={"type": "date"}),
            "handoff_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "restrict_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "restrict_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial.setdefault("weekdays", list(self.instance.restrict_weekdays))
            self.initial.setdefault(
                "order", [m.user.get_username() for m in self.instance.members.all()]
            )
        self.users: list[User] = []

    def clean_order(self) -> list[str]:
        names: list[str] = self.cleaned_data["order"]
        found = {u.username: u for u in User.objects.filter(username__in=set(names))}
        unknown = [n for n in dict.fromkeys(names) if n not in found]
        if unknown:
            raise forms.ValidationError(f"No user named {', '.join(unknown)}.")
        self.users = [found[n] for n in names]
        return names

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("turn") == Layer.Turn.HOURS and not data.get("turn_hours"):
            self.add_error("turn_hours", "Say how many hours each turn lasts.")
        if data.get("turn") != Layer.Turn.HOURS:
            data["turn_hours"] = None
        if (data.get("restrict_start") is None) != (data.get("restrict_end") is None):
            self.add_error("restrict_end", "Give both times, or neither for all day.")
        elif data.get("restrict_start") is not None and data["restrict_start"] == data.get(
            "restrict_end"
        ):
            self.add_error("restrict_end", "The end must differ from the start.")
        self.instance.restrict_weekdays = sorted(set(data.get("weekdays") or []))
        return data


class OverrideForm(forms.ModelForm):  # type: ignore[type-arg]
    """Start and end are typed in the schedule's time zone: the view activates it."""

    start = forms.DateTimeField(
        input_formats=DATETIME_LOCAL_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    end = forms.DateTimeField(
        input_formats=DATETIME_LOCAL_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    class Meta:
        model = Override
        fields = ["user", "start", "end"]
        labels = {"user": "Who is on call instead"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        users = User.objects.filter(is_active=True).order_by("username")
        self.fields["user"].queryset = users  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and end <= start:
            self.add_error("end", "The end must be after the start.")
        return data
