"""Grafana OnCall export (``importers.oncall_api``) -> ImportPlan. Pure: no I/O.

Semantics followed (OnCall documentation: "OnCall shifts HTTP API", "Schedule HTTP API",
"Create on-call schedules"; and how OnCall's engine turns shifts into calendar events):

* Final schedule: overrides win; then the highest ``level`` (priority) that has someone;
  shifts at the same level that overlap are all on call. So ``level`` is the layer
  position and the schedule's ties are "together"; overrides are schedule-wide.
* A shift is an event of ``duration`` seconds starting at ``start`` (wall clock in the
  shift's ``time_zone``, else the schedule's), repeating by ``frequency`` (hourly, daily,
  weekly, monthly) every ``interval``, on ``by_day`` days, until ``until``.
* ``recurrent_event``: all ``users`` on every occurrence (plain iCal recurrence).
  ``rolling_users``: the user groups take the occurrences in turn, one group per
  ``interval`` of ``frequency`` (starting from ``start_rotation_from_user_index``); for
  weekly rotations the turn runs from ``week_start`` to ``week_start``; for daily
  rotations with ``by_day`` each group takes ``interval`` of the chosen days in a row.
  A group of several users puts them all on call: each member position becomes its own
  layer (ties together), with a gap where a group is shorter.
* A rotation edited after it started has a later ``rotation_start``: daily and hourly
  rotations restart with the first group at the first occurrence from then; weekly ones
  keep counting weeks from ``start`` and have nobody before ``rotation_start``.
* iCal-backed schedules: each VEVENT's SUMMARY names its users (``[L2]`` in front sets
  level 2) and its RRULE is read like a ``recurrent_event``. UNTIL ends the layer at that
  instant.

A pattern is expressible when each turn is filled (duration = the period) or the
occurrences form a daily or weekly window pattern (interval 1); anything else (monthly,
every other day for 8 hours, month days, COUNT, moved occurrences) is Unmapped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from importers.convert import Notes, each, klaxon_kind, local_instant, unique_name, zone
from importers.plan import (
    GRAFANA_ONCALL,
    ImportPlan,
    PlannedIntegration,
    PlannedLayer,
    PlannedMembership,
    PlannedOverride,
    PlannedPolicy,
    PlannedRule,
    PlannedSchedule,
    PlannedStep,
    PlannedTeam,
    PlannedUser,
)
from schedules.oncall import TIES_TOGETHER, WeeklyWindow

DAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
MAX_TURN_HOURS = 24 * 28
MAX_REPEAT = 9
ONCALL_REPEATS = 5  # "repeat escalation (5 times max)"
MONDAY = date(2001, 1, 1)  # a Monday, to do weekday arithmetic on
USER_ROLES = {"admin": "admin", "editor": "responder", "viewer": "viewer"}
RULE_CHANNELS = {
    "notify_by_sms": "sms",
    "notify_by_phone_call": "voice",
    "notify_by_email": "email",
}
# OnCall integration type -> (Klaxon kind, why, when it is not the obvious match).
INTEGRATION_KINDS = {
    "alertmanager": ("alertmanager", ""),
    "grafana_alerting": ("alertmanager", "Grafana alerting sends Alertmanager's webhook format"),
    "grafana": ("alertmanager", "Grafana alerting sends Alertmanager's webhook format"),
    "amazon_sns": ("aws_sns", ""),
    "webhook": ("webhook", ""),
    "formatted_webhook": ("webhook", "its title/message fields need a Klaxon template"),
}
NOT_INTEGRATIONS = {
    "inbound_email": "email integration: Klaxon has no inbound email",
    "direct_paging": "direct paging: Klaxon pages people from the incident page itself",
    "maintenance": "OnCall's maintenance integration: use Klaxon's maintenance windows",
}
STEP_NOTES = {
    "notify_person_next_each_time": "round robin (one person per alert): Klaxon pages them all",
    "notify_user_group": "Slack user group: page a Klaxon team instead",
    "trigger_webhook": "webhook step: Klaxon's outgoing webhooks fire on incident events",
    "trigger_action": "webhook step: Klaxon's outgoing webhooks fire on incident events",
    "resolve": "resolve step: Klaxon does not resolve incidents by itself",
    "notify_whole_channel": "Slack channel: Klaxon has no Slack channel step",
    "notify_if_time_from_to": "time condition: Klaxon steps always run",
    "notify_if_num_alerts_in_window": "alert-count condition: Klaxon steps always run",
    "declare_incident": "declare incident: no Klaxon equivalent",
}


def oncall_plan(export: Mapping[str, Any]) -> ImportPlan:
    """The plan for a Grafana OnCall export; what cannot be mapped is in ``unmapped``."""
    notes = Notes()
    raw_rules = export.get("personal_notification_rules") or []
    users = each(export.get("users"), "user", lambda raw: _user(raw, raw_rules, notes), notes)
    known = {u.source_id: u for u in users}
    teams = each(export.get("teams"), "team", lambda raw: _team(raw, export, known), notes)
    team_ids = {t.source_id for t in teams}
    schedules = each(
        export.get("schedules"), "schedule", lambda raw: _schedule(raw, known, notes), notes
    )
    scheduled = {s.source_id for s in schedules}
    steps = export.get("escalation_policies") or []
    policies = each(
        export.get("escalation_chains"),
        "escalation chain",
        lambda raw: _policy(raw, steps, set(known), scheduled, team_ids, notes),
        notes,
    )
    chains = {p.source_id for p in policies}
    integrations = each(
        export.get("integrations"),
        "integration",
        lambda raw: _integration(raw, team_ids, chains, notes),
        notes,
    )
    return ImportPlan(
        source=GRAFANA_ONCALL,
        teams=tuple(teams),
        users=tuple(users),
        schedules=tuple(schedules),
        policies=tuple(policies),
        integrations=tuple(integrations),
        unmapped=tuple(notes.items),
    )


# ----------------------------------------------------------------------- users, teams


def _user(raw: dict[str, Any], rules: list[dict[str, Any]], notes: Notes) -> PlannedUser:
    uid, username = str(raw["id"]), str(raw["username"])
    email = str(raw.get("email") or "")
    mine = sorted(
        (r for r in rules if str(r.get("user_id")) == uid), key=lambda r: r.get("position", 0)
    )
    if any(r.get("important") for r in mine):
        notes.add(
            "notification rules", username,
            "important rules were not imported: Klaxon has one rule list per user",
        )  # fmt: skip
    planned: list[PlannedRule] = []
    waited = 0
    for rule in (r for r in mine if not r.get("important")):
        kind = str(rule.get("type"))
        if kind == "wait":
            waited += int(rule.get("duration") or 0)
        elif kind in RULE_CHANNELS:
            channel = RULE_CHANNELS[kind]
            contact = email if channel == "email" else None
            planned.append(PlannedRule("triggered", channel, math.ceil(waited / 60), contact))
        else:
            notes.add(
                "notification rule", f"{username} {kind}", "Klaxon pages by SMS, voice and email"
            )
    if any(r.channel in ("sms", "voice") for r in planned):
        notes.add(
            "phone number", username,
            "OnCall's API does not give phone numbers: add it in Klaxon for the SMS and "
            "voice rules to work",
        )  # fmt: skip
    return PlannedUser(
        source=GRAFANA_ONCALL,
        source_id=uid,
        username=username,
        email=email,
        full_name="",
        role=USER_ROLES.get(str(raw.get("role", "")).lower(), "responder"),
        time_zone=raw.get("timezone"),
        phones=(),
        emails=(),
        rules=tuple(planned),
    )


def _team(
    raw: dict[str, Any], export: Mapping[str, Any], known: Mapping[str, PlannedUser]
) -> PlannedTeam:
    tid = str(raw["id"])
    members = tuple(
        PlannedMembership(user_source_id=str(u["id"]), role=known[str(u["id"])].role)
        for u in export.get("users") or []
        if isinstance(u, dict) and tid in [str(t) for t in u.get("teams") or []]
        and str(u.get("id")) in known
    )  # fmt: skip
    return PlannedTeam(
        source=GRAFANA_ONCALL,
        source_id=tid,
        name=str(raw["name"]),
        description="",
        members=members,
    )


# --------------------------------------------------------------------- recurrences


@dataclass(frozen=True)
class Recurrence:
    """One OnCall shift (or iCal event) in plain terms, users by source id."""

    source_id: str
    name: str
    level: int
    tz_name: str
    start: datetime  # naive: wall clock in tz_name
    duration: timedelta
    frequency: str | None  # "hourly" | "daily" | "weekly" | "monthly" | None
    interval: int
    by_day: tuple[int, ...]  # 0 = Monday
    week_start: int
    until: datetime | None  # naive wall clock
    rotation_start: datetime  # naive wall clock
    groups: tuple[tuple[str, ...], ...]  # who is on call in turn k: groups[k % len]
    rolling: bool
    unsupported: str = ""  # why this cannot be expressed, found while reading it


class Inexpressible(Exception):
    """A recurrence Klaxon's layers cannot express; the message says why."""


def recurrence_layers(rec: Recurrence, schedule_tz: str, taken: set[str]) -> list[PlannedLayer]:
    """Layers equal to ``rec`` (raises Inexpressible, saying why, when there are none)."""
    if rec.unsupported:
        raise Inexpressible(rec.unsupported)
    tz = zone(rec.tz_name)
    if tz is None:
        raise Inexpressible(f"time zone {rec.tz_name!r} is not an IANA zone")
    if rec.duration <= timedelta(0):
        raise Inexpressible("its duration is not positive")
    if not any(rec.groups):
        raise Inexpressible("nobody is in it")
    if rec.frequency is None:
        return _single(rec, tz, schedule_tz, taken)
    if rec.frequency not in ("hourly", "daily", "weekly"):
        raise Inexpressible(f"{rec.frequency} rotations: Klaxon turns are days, weeks or hours")
    if rec.interval < 1:
        raise Inexpressible("its interval is not a positive number")
    if rec.rolling and rec.frequency == "daily" and rec.by_day:
        return _daily_on_days(rec, tz, schedule_tz, taken)
    if rec.by_day and rec.frequency in ("daily", "weekly"):
        return _weekly_windows(rec, tz, schedule_tz, taken)
    if rec.by_day:
        raise Inexpressible("hourly repeats limited to days of the week")
    return _periodic(rec, tz, schedule_tz, taken)


def _end(rec: Recurrence, tz: Any) -> datetime | None:
    return local_instant(rec.until.date(), rec.until.time(), tz) if rec.until else None


def _instant(moment: datetime, tz: Any) -> datetime:
    return local_instant(moment.date(), moment.time(), tz).astimezone(UTC)


def _member_layers(
    rec: Recurrence,
    schedule_tz: str,
    taken: set[str],
    turns: tuple[tuple[str, ...], ...],
    suffix: str = "",
    **fields: Any,
) -> list[PlannedLayer]:
    """One layer per member position of the groups taking ``turns`` in order."""
    layers: list[PlannedLayer] = []
    for i in range(max(len(group) for group in turns)):
        slots = tuple(group[i] if i < len(group) else None for group in turns)
        if not any(slots):
            continue
        base = rec.name + suffix + (f" #{i + 1}" if i else "")
        layers.append(
            PlannedLayer(
                source_id=f"{rec.source_id}{suffix}/{i}",
                name=unique_name(base, taken),
                position=rec.level,
                user_source_ids=slots,
                time_zone=None if rec.tz_name == schedule_tz else rec.tz_name,
                **fields,
            )
        )
    return layers


def _single(rec: Recurrence, tz: Any, schedule_tz: str, taken: set[str]) -> list[PlannedLayer]:
    begin = _instant(rec.start, tz)
    stop = _instant(rec.start + rec.duration, tz)
    end = _end(rec, tz)
    if end is not None:
        stop = min(stop, end.astimezone(UTC))
    return _member_layers(
        rec, schedule_tz, taken, (rec.groups[0],),
        start=rec.start.date(), turn="daily", turn_hours=None, turn_length=1,
        handoff_time=rec.start.time(), begin=begin, end=stop,
    )  # fmt: skip


def _window(day: int, at: time, length: timedelta) -> WeeklyWindow:
    closes = datetime.combine(MONDAY + timedelta(days=day), at) + length
    return WeeklyWindow(day, at, closes.weekday(), closes.time())


def _periodic(rec: Recurrence, tz: Any, schedule_tz: str, taken: set[str]) -> list[PlannedLayer]:
    """No ``by_day``: an occurrence at the start of every turn of ``interval`` units."""
    interval, at = rec.interval, rec.start.time()
    unit = {"hourly": timedelta(hours=1), "daily": timedelta(days=1)}.get(
        str(rec.frequency), timedelta(days=7)
    )
    period = unit * interval
    start, begin = rec.start, None
    if rec.rolling and rec.rotation_start > rec.start:
        if rec.frequency == "weekly":
            begin = _instant(rec.rotation_start, tz)
        elif rec.frequency == "daily":
            start += period * math.ceil((rec.rotation_start - rec.start) / period)
        else:  # hourly turns are real hours
            gap = _instant(rec.rotation_start, tz) - _instant(rec.start, tz)
            first = _instant(rec.start, tz) + period * math.ceil(gap / period)
            start = first.astimezone(tz).replace(tzinfo=None)
    restriction: dict[str, Any] = {}
    if rec.duration != period:
        if interval != 1 or rec.duration > period or rec.frequency == "hourly":
            raise Inexpressible(
                f"on call for {rec.duration} at the start of every {interval} "
                f"{rec.frequency} turn: a Klaxon turn has someone for all of it or in "
                "daily/weekly windows"
            )
        if rec.frequency == "daily":
            closes = (datetime.combine(MONDAY, at) + rec.duration).time()
            restriction = {"restrict_start": at, "restrict_end": closes}
        else:
            restriction = {"windows": (_window(start.weekday(), at, rec.duration),)}
    if rec.frequency == "hourly":
        if interval > MAX_TURN_HOURS:
            raise Inexpressible(f"{interval}-hour turns: Klaxon's longest is 4 weeks")
        turn: dict[str, Any] = {"turn": "hours", "turn_hours": interval, "turn_length": 1}
    else:
        kind = "daily" if rec.frequency == "daily" else "weekly"
        turn = {"turn": kind, "turn_hours": None, "turn_length": interval}
    return _member_layers(
        rec, schedule_tz, taken, rec.groups,
        start=start.date(), handoff_time=start.time(), begin=begin, end=_end(rec, tz),
        **turn, **restriction,
    )  # fmt: skip


def _first_chosen_day(moment: datetime, days: tuple[int, ...], week_start: int) -> datetime:
    """OnCall moves a start that is not a chosen day to the first chosen day of the week
    (counted from ``week_start``), even when that is next week."""
    if moment.weekday() in days:
        return moment
    order = [(week_start + i) % 7 for i in range(7)]
    wanted = next(d for d in order if d in days)
    return moment + timedelta(days=(wanted - moment.weekday()) % 7)


def _weekly_windows(
    rec: Recurrence, tz: Any, schedule_tz: str, taken: set[str]
) -> list[PlannedLayer]:
    """Occurrences on chosen days each week: weekly turns from ``week_start``."""
    if rec.interval != 1:
        raise Inexpressible(
            f"on chosen days, every {rec.interval} {rec.frequency} periods: Klaxon's "
            "windows repeat every week"
        )
    if rec.duration > timedelta(days=7):
        raise Inexpressible("occurrences longer than a week overlap each other")
    at, days = rec.start.time(), tuple(sorted(set(rec.by_day)))
    windows = tuple(_window(d, at, rec.duration) for d in days)
    first = _first_chosen_day(rec.start, days, rec.week_start) if rec.rolling else rec.start
    if len(rec.groups) > 1:
        for d in days:
            to_handoff = (rec.week_start - d) % 7
            if to_handoff and rec.duration > timedelta(days=to_handoff):
                raise Inexpressible(
                    f"the {DAY_CODES[d]} occurrence runs past the weekly handoff on "
                    f"{DAY_CODES[rec.week_start]}: two groups would overlap"
                )
    week0 = first.date() - timedelta(days=(first.weekday() - rec.week_start) % 7)
    begin_at = max(first, rec.rotation_start) if rec.rolling else first
    weekly = rec.frequency == "weekly"
    return _member_layers(
        rec, schedule_tz, taken, rec.groups if weekly else (rec.groups[0],),
        start=week0, turn="weekly", turn_hours=None, turn_length=1, handoff_time=at,
        windows=windows, begin=_instant(begin_at, tz), end=_end(rec, tz),
    )  # fmt: skip


def _daily_on_days(
    rec: Recurrence, tz: Any, schedule_tz: str, taken: set[str]
) -> list[PlannedLayer]:
    """Daily rolling on chosen days: the groups take ``interval`` chosen days each, in
    turn. Each chosen weekday becomes weekly layers whose user list repeats after
    ``period`` weeks (when the day and the group line up again)."""
    days, at = tuple(sorted(set(rec.by_day))), rec.start.time()
    if rec.duration > timedelta(days=7):
        raise Inexpressible("occurrences longer than a week overlap each other")
    first = _first_chosen_day(rec.start, days, rec.week_start)
    if rec.rotation_start > rec.start:
        if rec.interval != 1:
            raise Inexpressible("restarted after editing with an interval over 1 day")
        moment = max(first, rec.rotation_start)
        candidate = datetime.combine(moment.date(), at)
        while candidate < moment or candidate.weekday() not in days:
            candidate += timedelta(days=1)
        first = candidate
    count, groups = len(days), len(rec.groups)
    period = groups * rec.interval // math.gcd(count, groups * rec.interval)
    layers: list[PlannedLayer] = []
    for day in days:
        ahead = (day - first.weekday()) % 7
        before = sum(1 for d in days if (d - first.weekday()) % 7 < ahead)
        turns = tuple(
            rec.groups[((before + m * count) // rec.interval) % groups] for m in range(period)
        )
        layers += _member_layers(
            rec, schedule_tz, taken, turns, suffix=f" {DAY_CODES[day]}",
            start=first.date() + timedelta(days=ahead), turn="weekly", turn_hours=None,
            turn_length=1, handoff_time=at, windows=(_window(day, at, rec.duration),),
            end=_end(rec, tz),
        )  # fmt: skip
    return layers


# ------------------------------------------------------------------------ schedules


def _naive(text: object) -> datetime:
    """OnCall's ``yyyy-MM-ddTHH:mm:ss`` wall-clock times (an offset, if any, dropped)."""
    return datetime.fromisoformat(str(text)).replace(tzinfo=None)


def _shift_recurrence(
    shift: dict[str, Any], schedule_tz: str, known: Mapping[str, PlannedUser], notes: Notes
) -> Recurrence:
    name = str(shift.get("name") or shift["id"])
    kind = shift["type"]
    unknown: list[str] = []

    def users(ids: Any) -> tuple[str, ...]:
        unknown.extend(str(u) for u in ids or [] if str(u) not in known)
        return tuple(str(u) for u in ids or [] if str(u) in known)

    if kind == "rolling_users":
        groups = tuple(users(g) for g in shift.get("rolling_users") or [])
        offset = int(shift.get("start_rotation_from_user_index") or 0)
        if groups:
            offset %= len(groups)
            groups = groups[offset:] + groups[:offset]
    else:
        groups = (users(shift.get("users")),)
    if unknown:
        notes.add("shift user", f"{name} {', '.join(unknown)}", "unknown user; left out")
    unsupported = ""
    if shift.get("by_month") or shift.get("by_monthday"):
        unsupported = "months or month days: Klaxon turns repeat by days, weeks or hours"
    start = _naive(shift["start"])
    frequency = shift.get("frequency") if kind in ("rolling_users", "recurrent_event") else None
    week_start = shift.get("week_start") or "SU"
    return Recurrence(
        source_id=str(shift["id"]),
        name=name,
        level=int(shift.get("level") or 0),
        tz_name=str(shift.get("time_zone") or schedule_tz),
        start=start,
        duration=timedelta(seconds=int(shift["duration"])),
        frequency=frequency,
        interval=int(shift.get("interval") or 1),
        by_day=tuple(DAY_CODES.index(d) for d in shift.get("by_day") or []),
        week_start=DAY_CODES.index(week_start),
        until=_naive(shift["until"]) if shift.get("until") else None,
        rotation_start=_naive(shift["rotation_start"]) if shift.get("rotation_start") else start,
        groups=groups,
        rolling=kind == "rolling_users",
        unsupported=unsupported,
    )


def _schedule(
    raw: dict[str, Any], known: Mapping[str, PlannedUser], notes: Notes
) -> PlannedSchedule | None:
    sid, name, kind = str(raw["id"]), str(raw["name"]), raw.get("type")
    tz_name = str(raw.get("time_zone") or "UTC")
    if zone(tz_name) is None:
        notes.add("schedule", name, f"time zone {tz_name!r} is not an IANA zone")
        return None
    recurrences: list[Recurrence] = []
    overrides: list[PlannedOverride] = []
    for shift in raw.get("on_call_shifts") or []:
        where = f"{name}/{shift.get('name') or shift.get('id')}"
        try:
            if shift["type"] == "override":
                overrides += _override_shift(shift, tz_name, known)
            else:
                recurrences.append(_shift_recurrence(shift, tz_name, known, notes))
        except (KeyError, TypeError, ValueError) as exc:
            notes.add("shift", where, f"malformed ({exc!r})")
    if kind == "ical" and not raw.get("ical_primary"):
        reason = raw.get("ical_error") or "the calendar was not read"
        notes.add("schedule", name, f"iCal-backed and its calendar cannot be read: {reason}")
        return None
    if raw.get("ical_primary"):
        recurrences += ical_recurrences(str(raw["ical_primary"]), tz_name, known, name, notes)
    if raw.get("ical_overrides"):
        for rec in ical_recurrences(str(raw["ical_overrides"]), tz_name, known, name, notes):
            overrides += _override_events(rec, name, notes)
    taken: set[str] = set()
    layers: list[PlannedLayer] = []
    for rec in recurrences:
        try:
            layers += recurrence_layers(rec, tz_name, taken)
        except Inexpressible as exc:
            notes.add("shift", f"{name}/{rec.name}", str(exc))
    return PlannedSchedule(
        source=GRAFANA_ONCALL,
        source_id=sid,
        name=name,
        team_source_id=str(raw["team_id"]) if raw.get("team_id") else None,
        time_zone=tz_name,
        ties=TIES_TOGETHER,
        layers=tuple(layers),
        overrides=tuple(overrides),
    )


def _override_shift(
    shift: dict[str, Any], schedule_tz: str, known: Mapping[str, PlannedUser]
) -> list[PlannedOverride]:
    tz = zone(shift.get("time_zone") or schedule_tz)
    if tz is None:
        raise ValueError(f"time zone {shift.get('time_zone')!r}")
    start = _naive(shift["start"])
    end = start + timedelta(seconds=int(shift["duration"]))
    return [
        PlannedOverride(
            source_id=f"{shift['id']}/{user}",
            user_source_id=str(user),
            start=_instant(start, tz),
            end=_instant(end, tz),
        )
        for user in shift.get("users") or []
        if str(user) in known
    ]


def _override_events(rec: Recurrence, schedule: str, notes: Notes) -> list[PlannedOverride]:
    if rec.frequency is not None or rec.unsupported:
        notes.add("override", f"{schedule}/{rec.name}", "a repeating override event")
        return []
    tz = zone(rec.tz_name)
    assert tz is not None
    return [
        PlannedOverride(
            source_id=f"{rec.source_id}/{user}",
            user_source_id=user,
            start=_instant(rec.start, tz),
            end=_instant(rec.start + rec.duration, tz),
        )
        for user in rec.groups[0]
    ]


# ----------------------------------------------------------------------------- iCal

_LEVEL = re.compile(r"^\s*\[L(\d+)\]\s*")


def _unfold(text: str) -> list[str]:
    lines: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if line[:1] in (" ", "\t") and lines:
            lines[-1] += line[1:]
        elif line:
            lines.append(line)
    return lines


def _ical_time(params: dict[str, str], value: str, default_tz: str) -> tuple[datetime, str]:
    """(naive wall clock, zone) of a DATE-TIME or DATE value."""
    if params.get("VALUE") == "DATE" or len(value) == 8:
        return datetime.strptime(value[:8], "%Y%m%d"), params.get("TZID", default_tz)
    moment = datetime.strptime(value[:15], "%Y%m%dT%H%M%S")
    if value.endswith("Z"):
        return moment, "UTC"
    return moment, params.get("TZID", default_tz)


def _ical_duration(value: str) -> timedelta:
    match = re.fullmatch(r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?", value)
    if not match:
        raise ValueError(f"duration {value!r}")
    weeks, days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)


def _in_zone(moment: datetime, from_tz: str, to_tz: str) -> datetime:
    source, target = zone(from_tz), zone(to_tz)
    if source is None or target is None:
        raise ValueError(f"time zone {from_tz!r} or {to_tz!r}")
    return (
        local_instant(moment.date(), moment.time(), source).astimezone(target).replace(tzinfo=None)
    )


def ical_recurrences(
    text: str, default_tz: str, known: Mapping[str, PlannedUser], schedule: str, notes: Notes
) -> list[Recurrence]:
    """The VEVENTs of an iCal calendar as recurrences (users named by their SUMMARY)."""
    by_name = {u.username.lower(): u.source_id for u in known.values()}
    by_name |= {u.email.lower(): u.source_id for u in known.values() if u.email}
    events: list[dict[str, tuple[dict[str, str], str]]] = []
    current: dict[str, tuple[dict[str, str], str]] | None = None
    for line in _unfold(text):
        head, _, value = line.partition(":")
        name, *raw_params = head.split(";")
        params = dict(p.split("=", 1) for p in raw_params if "=" in p)
        if line == "BEGIN:VEVENT":
            current = {}
        elif line == "END:VEVENT" and current is not None:
            events.append(current)
            current = None
        elif current is not None:
            current[name.upper()] = (params, value)
    result: list[Recurrence] = []
    for event in events:
        uid = event.get("UID", ({}, "?"))[1]
        where = f"{schedule}/{uid}"
        try:
            result.append(_ical_event(event, default_tz, by_name, where, notes))
        except (KeyError, ValueError) as exc:
            notes.add("iCal event", where, f"cannot be read ({exc})")
    return result


def _ical_event(
    event: dict[str, tuple[dict[str, str], str]],
    default_tz: str,
    by_name: Mapping[str, str],
    where: str,
    notes: Notes,
) -> Recurrence:
    summary = event.get("SUMMARY", ({}, ""))[1]
    level_match = _LEVEL.match(summary)
    level = int(level_match.group(1)) if level_match else 0
    names = [n for n in re.split(r"[\s,]+", _LEVEL.sub("", summary)) if n]
    users = tuple(by_name[n.lower()] for n in names if n.lower() in by_name)
    if len(users) < len(names):
        notes.add("iCal event", where, f"{summary!r} names someone who is not an OnCall user")
    start, tz_name = _ical_time(*event["DTSTART"], default_tz)
    if "DTEND" in event:
        end, end_tz = _ical_time(*event["DTEND"], default_tz)
        duration = _in_zone(end, end_tz, tz_name) - start
    else:
        duration = (
            _ical_duration(event["DURATION"][1]) if "DURATION" in event else timedelta(days=1)
        )
    unsupported = ""
    for moved in ("RECURRENCE-ID", "EXDATE", "RDATE", "EXRULE"):
        if moved in event:
            unsupported = f"{moved}: moved or cancelled occurrences cannot be expressed"
    rule = (
        dict(p.split("=", 1) for p in event["RRULE"][1].split(";") if "=" in p)
        if "RRULE" in event
        else {}
    )
    for part in set(rule) - {"FREQ", "INTERVAL", "BYDAY", "UNTIL", "WKST"}:
        unsupported = f"RRULE {part}: Klaxon turns repeat by days, weeks or hours only"
    days = [d for d in rule.get("BYDAY", "").split(",") if d]
    if any(d not in DAY_CODES for d in days):
        unsupported = f"BYDAY={rule['BYDAY']}: only plain weekdays can be expressed"
    until = None
    if "UNTIL" in rule:
        moment, until_tz = _ical_time({}, rule["UNTIL"], tz_name)
        until = _in_zone(moment, until_tz, tz_name)
    frequency = rule.get("FREQ", "").lower() or None
    return Recurrence(
        source_id=where,
        name=", ".join(names) or "event",
        level=level,
        tz_name=tz_name,
        start=start,
        duration=duration,
        frequency=frequency,
        interval=int(rule.get("INTERVAL", 1)),
        by_day=tuple(DAY_CODES.index(d) for d in days if d in DAY_CODES),
        week_start=DAY_CODES.index(rule.get("WKST", "MO")),
        until=until,
        rotation_start=start,
        groups=(users,),
        rolling=False,
        unsupported=unsupported,
    )


# -------------------------------------------------------- policies and integrations


def _policy(
    raw: dict[str, Any],
    steps: list[dict[str, Any]],
    users: set[str],
    schedules: set[str],
    teams: set[str],
    notes: Notes,
) -> PlannedPolicy:
    cid, name = str(raw["id"]), str(raw["name"])
    mine = sorted(
        (s for s in steps if str(s.get("escalation_chain_id")) == cid),
        key=lambda s: s.get("position", 0),
    )
    planned: list[PlannedStep] = []
    current = PlannedStep(delay_minutes=0)
    started = False
    repeat = 0
    for step in mine:
        kind = str(step.get("type"))
        label = f"{name} #{step.get('position')} {kind}"
        if kind == "wait":
            waited = current.delay_minutes + math.ceil(int(step.get("duration") or 0) / 60)
            current = replace(current, delay_minutes=waited)
            continue
        if kind == "repeat_escalation":
            repeat = ONCALL_REPEATS
            continue
        if current.delay_minutes:  # the wait closes a step (before any page: an empty one)
            planned.append(current)
            current = PlannedStep(delay_minutes=0)
        started = True
        if kind == "notify_persons":
            found = [str(u) for u in step.get("persons_to_notify") or [] if str(u) in users]
            current = replace(current, user_source_ids=current.user_source_ids + tuple(found))
        elif kind == "notify_on_call_from_schedule":
            target = str(step.get("notify_on_call_from_schedule"))
            if target in schedules:
                current = replace(
                    current, schedule_source_ids=current.schedule_source_ids + (target,)
                )
            else:
                notes.add("escalation step", label, "its schedule was not imported")
        elif kind == "notify_team_members":
            target = str(step.get("notify_to_team_members") or step.get("team_to_notify"))
            if target in teams:
                current = replace(current, team_source_ids=current.team_source_ids + (target,))
            else:
                notes.add("escalation step", label, "its team was not imported")
        else:
            notes.add("escalation step", label, STEP_NOTES.get(kind, f"{kind}: no Klaxon step"))
    if started or current.delay_minutes:
        planned.append(current)
    return PlannedPolicy(
        source=GRAFANA_ONCALL,
        source_id=cid,
        name=name,
        team_source_id=str(raw["team_id"]) if str(raw.get("team_id")) in teams else None,
        steps=tuple(planned),
        repeat=min(repeat, MAX_REPEAT),
    )


def _integration(
    raw: dict[str, Any], teams: set[str], chains: set[str], notes: Notes
) -> PlannedIntegration | None:
    name, kind = str(raw["name"]), str(raw.get("type", ""))
    if kind in NOT_INTEGRATIONS:
        notes.add("integration", name, NOT_INTEGRATIONS[kind])
        return None
    if (raw.get("heartbeat") or {}).get("link"):
        notes.add(
            "heartbeat", name,
            "OnCall's API gives the heartbeat's URL but not its timeout: create it in Klaxon",
        )  # fmt: skip
    mapped, note = klaxon_kind(kind, INTEGRATION_KINDS)
    route = raw.get("default_route") or {}
    chain = str(route.get("escalation_chain_id"))
    return PlannedIntegration(
        source=GRAFANA_ONCALL,
        source_id=str(raw["id"]),
        name=name,
        kind=mapped,
        source_kind=kind,
        team_source_id=str(raw["team_id"]) if str(raw.get("team_id")) in teams else None,
        policy_source_id=chain if chain in chains else None,
        enabled=not raw.get("maintenance_mode"),
        old_url=str(raw.get("link") or ""),
        note=note,
    )
