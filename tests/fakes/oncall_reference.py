"""Grafana OnCall's final schedule, computed from recorded shifts the way OnCall's engine
does it: each shift becomes calendar events (one recurring event per rolling group, its
first date found by stepping to the next day/week/hour, its interval multiplied by the
number of groups; daily rotations on chosen days walk the chosen days one by one), the
events are expanded with dateutil's RRULE engine, then resolved: overrides first, then
the highest level with someone, all events of that level together. It shares no code
with the importer: the importer's conversion into Klaxon layers is checked against it.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil import rrule

CODES = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
FREQS = {"hourly": rrule.HOURLY, "daily": rrule.DAILY, "weekly": rrule.WEEKLY}
WEEKDAYS = [rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR, rrule.SA, rrule.SU]


@dataclass(frozen=True)
class Event:
    start: datetime  # UTC
    end: datetime
    users: tuple[str, ...]
    level: int
    override: bool


def _local(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.replace(tzinfo=zone).astimezone(UTC)


def _rule(shift: dict[str, Any], dtstart: datetime, interval: int, **changes: Any) -> rrule.rrule:
    days = [WEEKDAYS[CODES.index(d)] for d in shift.get("by_day") or []]
    args: dict[str, Any] = {
        "freq": FREQS[shift["frequency"]],
        "dtstart": dtstart,
        "interval": interval,
        "wkst": WEEKDAYS[CODES.index(shift.get("week_start") or "SU")],
        "byweekday": days or None,
        "until": datetime.fromisoformat(shift["until"]) if shift.get("until") else None,
    }
    args.update(changes)
    return rrule.rrule(**args)


def _first_day(shift: dict[str, Any], start: datetime) -> datetime:
    days = [CODES.index(d) for d in shift.get("by_day") or []]
    if not days or start.weekday() in days:
        return start
    week_start = CODES.index(shift.get("week_start") or "SU")
    ordered = [(week_start + i) % 7 for i in range(7)]
    wanted = next(d for d in ordered if d in days)
    return start + timedelta(days=(wanted - start.weekday()) % 7)


def _next_start(shift: dict[str, Any], current: datetime) -> Any:
    """Where the next rolling group starts (OnCall's "get next rotation date")."""
    interval = shift.get("interval") or 1
    base = _rule(shift, current, interval)
    if shift["frequency"] == "hourly":
        return base.after(current + timedelta(hours=1), inc=True)
    if shift["frequency"] == "daily":
        return base.after(current + timedelta(days=1), inc=True)
    week_start = CODES.index(shift.get("week_start") or "SU")
    ahead = 7 - current.weekday() + week_start
    if ahead > 7:
        ahead %= 7
    earliest = current + timedelta(days=ahead + 7 * (interval - 1))
    found = base.after(earliest, inc=True)  # the first occurrence in that week, if any
    if found is not None and found.date() <= (earliest + timedelta(days=6)).date():
        return found
    return earliest


def _after(rule: rrule.rrule, moment: datetime) -> datetime:
    found = rule.after(moment, inc=True)
    assert found is not None, "the rule has no occurrence after that"
    return found


def _groups(shift: dict[str, Any]) -> list[tuple[str, ...]]:
    groups = [tuple(g) for g in shift.get("rolling_users") or []]
    offset = shift.get("start_rotation_from_user_index") or 0
    return groups[offset:] + groups[:offset] if groups else groups


def _occurrences(rule: rrule.rrule, before: datetime, after: datetime) -> list[datetime]:
    return list(rule.between(before, after, inc=True))


def shift_events(shift: dict[str, Any], zone: ZoneInfo, until: datetime) -> list[Event]:
    """The shift's events starting before ``until`` (naive local bound)."""
    start = datetime.fromisoformat(shift["start"])
    duration = timedelta(seconds=shift["duration"])
    level = shift.get("level") or 0
    cap = _local(datetime.fromisoformat(shift["until"]), zone) if shift.get("until") else None
    window = (start - timedelta(days=14), until)

    def event(moment: datetime, users: tuple[str, ...], override: bool = False) -> Event:
        end = _local(moment + duration, zone)
        return Event(_local(moment, zone), min(end, cap) if cap else end, users, level, override)

    if shift["type"] in ("single_event", "override") or not shift.get("frequency"):
        return [event(start, tuple(shift.get("users") or []), shift["type"] == "override")]
    if shift["type"] == "recurrent_event":
        rule = _rule(shift, start, shift.get("interval") or 1)
        return [event(m, tuple(shift["users"])) for m in _occurrences(rule, *window)]
    groups = _groups(shift)
    if shift["frequency"] == "daily" and shift.get("by_day"):
        return _daily_chosen_days(shift, groups, start, event, window)
    rotation_start = datetime.fromisoformat(shift.get("rotation_start") or shift["start"])
    current: datetime | None = _first_day(shift, start)
    if rotation_start != start and shift["frequency"] in ("hourly", "daily"):
        current = _rule(shift, start, shift.get("interval") or 1).after(rotation_start, inc=True)
    events: list[Event] = []
    created = 0
    for users in itertools.cycle(groups):  # until every group has a first turn to repeat
        if current is None or created == len(groups):
            break
        if current >= rotation_start:
            created += 1
            rule = _rule(shift, current, (shift.get("interval") or 1) * len(groups))
            events += [event(m, users) for m in _occurrences(rule, *window)]
        current = _next_start(shift, current)
    return events


def _daily_chosen_days(
    shift: dict[str, Any], groups: list[tuple[str, ...]], start: datetime, event: Any, window: Any
) -> list[Event]:
    interval = shift.get("interval") or 1
    current = _first_day(shift, start)
    rotation_start = datetime.fromisoformat(shift.get("rotation_start") or shift["start"])
    if rotation_start > current:
        current = _after(_rule(shift, current, 1), rotation_start)
    first = last = current
    seen: list[tuple[int, int, int]] = []
    starts: list[datetime] = []
    done = False
    for group in itertools.cycle(range(len(groups))):
        for i in range(interval):
            last = current
            key = (group, current.weekday(), i)
            if key in seen:
                done = True
                break
            seen.append(key)
            starts.append(current)
            current = _after(_rule(shift, current, 1), current + timedelta(days=1))
        if done:
            break
    weeks = (last - first).days // 7 or 1
    events: list[Event] = []
    for (group, day, _), begin in zip(seen, starts, strict=True):
        rule = _rule(shift, begin, weeks, freq=rrule.WEEKLY, byweekday=[WEEKDAYS[day]])
        events += [event(m, groups[group]) for m in _occurrences(rule, *window)]
    return events


_VEVENT = re.compile(r"BEGIN:VEVENT(.*?)END:VEVENT", re.S)


def _ical_moment(head: str, value: str) -> tuple[datetime, ZoneInfo]:
    zone = ZoneInfo(head.split("TZID=")[1]) if "TZID=" in head else ZoneInfo("UTC")
    return datetime.strptime(value.rstrip("Z"), "%Y%m%dT%H%M%S"), zone


def ical_events(text: str, names: dict[str, str], until: datetime) -> list[Event]:
    """Events of an iCal calendar; SUMMARY ``[Ln] name name`` sets level and users."""
    events: list[Event] = []
    for block in _VEVENT.findall(text):
        fields = dict(re.findall(r"^([A-Z-]+(?:;[^:\r\n]*)?):(.*?)\r?$", block, re.M))
        props = {key.split(";")[0]: (key, value) for key, value in fields.items()}
        summary = props["SUMMARY"][1]
        level = int(m.group(1)) if (m := re.match(r"\[L(\d+)\]", summary)) else 0
        users = tuple(names[n] for n in re.sub(r"^\[L\d+\]", "", summary).split() if n in names)

        begin, zone = _ical_moment(*props["DTSTART"])
        stop, stop_zone = _ical_moment(*props["DTEND"])
        length = _local(stop, stop_zone) - _local(begin, zone)
        if "RRULE" in props:
            rule = rrule.rrulestr(props["RRULE"][1], dtstart=begin)
            starts = rule.between(begin - timedelta(days=1), until, inc=True)
        else:
            starts = [begin]
        for start in starts:
            first = _local(start, zone)
            events.append(Event(first, first + length, users, level, False))
    return events


def resolve(events: list[Event], at: datetime) -> set[str]:
    """Who is on call at ``at``: overrides, else the highest level with someone."""
    covering = [e for e in events if e.start <= at < e.end and e.users]
    overrides = [e for e in covering if e.override]
    if overrides:
        return {u for e in overrides for u in e.users}
    if not covering:
        return set()
    top = max(e.level for e in covering)
    return {u for e in covering if e.level == top for u in e.users}


def final_shifts(
    events: list[Event], start: datetime, end: datetime
) -> list[tuple[datetime, datetime, str]]:
    """(start, end, user) for each stretch a user is on call within [start, end)."""
    cuts = sorted({start, end} | {t for e in events for t in (e.start, e.end) if start < t < end})
    open_since: dict[str, datetime] = {}
    result: list[tuple[datetime, datetime, str]] = []
    for lower in cuts[:-1]:
        now = resolve(events, lower)
        for user in list(open_since):
            if user not in now:
                result.append((open_since.pop(user), lower, user))
        for user in now:
            open_since.setdefault(user, lower)
    result += [(since, end, user) for user, since in open_since.items()]
    return sorted(result)


def schedule_events(
    schedule: dict[str, Any], names: dict[str, str], until: datetime
) -> list[Event]:
    """All events of a recorded schedule (``names``: username -> user id, for iCal)."""
    zone = ZoneInfo(schedule.get("time_zone") or "UTC")
    events: list[Event] = []
    for shift in schedule.get("on_call_shifts") or []:
        shift_zone = ZoneInfo(shift["time_zone"]) if shift.get("time_zone") else zone
        events += shift_events(
            shift, shift_zone, until.astimezone(shift_zone).replace(tzinfo=None)
        )
    if schedule.get("ical_primary"):
        events += ical_events(schedule["ical_primary"], names, until.replace(tzinfo=None))
    return events
