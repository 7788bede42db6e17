"""The schedule page's 14-day timeline, and the words for times and people the schedule
pages share. Layout only: who is on call comes from ``schedules.oncall``."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from schedules import oncall
from schedules.models import Override, Schedule

TIMELINE_DAYS = 14


def local_when(moment: datetime, zone: zoneinfo.ZoneInfo) -> str:
    """ "Mon 3 Mar 09:00" in ``zone``."""
    local = moment.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %H:%M}"


def local_span(start: datetime, end: datetime, zone: zoneinfo.ZoneInfo) -> str:
    return f"{local_when(start, zone)} – {local_when(end, zone)} {zone.key}"


def user_names(user_ids: Iterable[int], users: dict[int, Any]) -> str:
    return ", ".join(str(users[i]) if i in users else f"user #{i}" for i in user_ids)


def short_names(user_ids: Iterable[int], users: dict[int, Any]) -> str:
    """First names (or usernames): what fits in a narrow timeline block."""
    return ", ".join(
        (users[i].first_name or users[i].get_username()) if i in users else f"#{i}"
        for i in user_ids
    )


def users_by_id(user_ids: Iterable[int]) -> dict[int, Any]:
    ids = set(user_ids)
    return get_user_model().objects.in_bulk(ids) if ids else {}


@dataclass(frozen=True)
class Block:
    """One bar on the timeline, placed in percent of the 14-day window."""

    left: float
    width: float
    label: str
    title: str
    kind: str  # "shift", "gap" (nobody on call in the final row), "off", "override"
    url: str = ""


@dataclass(frozen=True)
class Row:
    label: str
    kind: str
    blocks: list[Block]


@dataclass(frozen=True)
class Gap:
    start: datetime
    end: datetime
    text: str


def _placer(
    start: datetime, end: datetime
) -> Callable[[datetime, datetime], tuple[float, float] | None]:
    total = (end - start).total_seconds()

    def place(a: datetime, b: datetime) -> tuple[float, float] | None:
        a, b = max(a, start), min(b, end)
        if b <= a:
            return None
        left = (a - start).total_seconds() / total * 100
        return round(left, 4), round((b - a).total_seconds() / total * 100, 4)

    return place


def _utc_param(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def schedule_timeline(
    schedule: Schedule,
    spec: oncall.ScheduleSpec,
    overrides: list[Override],
    zone: zoneinfo.ZoneInfo,
    today: date,
) -> dict[str, Any]:
    """The schedule page's drawing of the TIMELINE_DAYS days from ``today`` (local): a row
    per layer, the overrides and the final result as blocks placed in percent of the
    window, the day labels, the gaps (nobody on call) listed, and the final shifts as
    links to add an override. The template context, as a dict."""
    start = datetime.combine(today, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(today + timedelta(days=TIMELINE_DAYS), time(0), tzinfo=zone).astimezone(
        UTC
    )
    place = _placer(start, end)
    final = oncall.final_shifts(spec, start, end)
    per_layer = [(layer, oncall.layer_shifts(spec, layer, start, end)) for layer in spec.layers]
    users = users_by_id(
        i
        for shifts in [final, *(s for _, s in per_layer)]
        for shift in shifts
        for i in shift.user_ids
    )
    override_url = reverse("schedules:override-create", args=[schedule.pk])

    def blocks(shifts: list[oncall.Shift], *, final_row: bool) -> list[Block]:
        out = []
        for shift in shifts:
            spot = place(shift.start, shift.end)
            if spot is None or (not shift.user_ids and not final_row):
                continue
            names = user_names(shift.user_ids, users) if shift.user_ids else "No one on call"
            short = short_names(shift.user_ids, users) if shift.user_ids else "Nobody"
            kind = "shift" if shift.user_ids else ("gap" if final_row else "off")
            url = ""
            if final_row:
                query = urlencode({"start": _utc_param(shift.start), "end": _utc_param(shift.end)})
                url = f"{override_url}?{query}"
            out.append(
                Block(
                    *spot,
                    label=short,
                    title=f"{names}: {local_span(shift.start, shift.end, zone)}",
                    kind=kind,
                    url=url,
                )
            )
        return out

    rows = [
        Row(label=f"{layer.name}", kind="layer", blocks=blocks(shifts, final_row=False))
        for layer, shifts in per_layer
    ]
    override_blocks = []
    for override in overrides:
        spot = place(override.start, override.end)
        if spot is not None:
            name = str(override.user)
            short = override.user.first_name or override.user.get_username()
            span = local_span(override.start, override.end, zone)
            override_blocks.append(
                Block(
                    left=spot[0],
                    width=spot[1],
                    label=short,
                    title=f"{name}: {span}",
                    kind="override",
                )
            )
    rows.append(Row(label="Overrides", kind="overrides", blocks=override_blocks))
    rows.append(Row(label="Final", kind="final", blocks=blocks(final, final_row=True)))

    days = []
    for offset in range(TIMELINE_DAYS):
        day = today + timedelta(days=offset)
        a = datetime.combine(day, time(0), tzinfo=zone)
        b = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
        spot = place(a, b)
        if spot:
            label = f"{day:%a} {day.day}" + (f" {day:%b}" if offset == 0 or day.day == 1 else "")
            days.append(
                {"left": spot[0], "width": spot[1], "label": label, "weekend": day.weekday() >= 5}
            )

    gaps: list[Gap] = []
    for shift in final:
        if shift.user_ids:
            continue
        a, b = max(shift.start, start), min(shift.end, end)
        if gaps and gaps[-1].end == a:  # merge touching gaps into one line
            a = gaps.pop().start
        gaps.append(Gap(a, b, f"No one on call: {local_span(a, b, zone)}"))

    now_spot = place(timezone.now(), end)
    shifts_list = [
        {
            "names": user_names(s.user_ids, users) if s.user_ids else "",
            "span": local_span(max(s.start, start), min(s.end, end), zone),
            "url": f"{override_url}?"
            + urlencode({"start": _utc_param(s.start), "end": _utc_param(s.end)}),
        }
        for s in final
        if s.end > start and s.start < end
    ]
    return {
        "rows": rows,
        "days": days,
        "gaps": gaps,
        "now_left": now_spot[0] if now_spot and now_spot[0] > 0 else None,
        "final_shifts": shifts_list,
        "window": local_span(start, end, zone),
    }
