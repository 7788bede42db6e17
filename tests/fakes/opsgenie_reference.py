"""Who Opsgenie says is on call, computed straight from recorded schedule data the way
Opsgenie's documentation describes it ("Manage on-call schedules and rotations",
"Schedule Override API"). The fake server answers ``/on-calls`` with this; it shares no
code with the importer, so the importer's conversion is checked against it.

* Every enabled rotation contributes its current participant (all rotations at once).
* A rotation's turn k runs from startDate + k x length days/weeks (wall clock in the
  schedule's zone) or + k x length hours (real time); participants go round in order.
* A time restriction lets the rotation work only inside its daily or weekly ranges.
* An override covering the instant: without rotations it replaces everyone; with
  rotations it replaces those rotations' participant while they have one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _minute_in_week(moment: datetime) -> int:
    return moment.weekday() * 1440 + moment.hour * 60 + moment.minute


def _restricted_out(restriction: dict[str, Any] | None, local: datetime) -> bool:
    """True when the restriction keeps the rotation off duty at this local moment."""
    if not restriction:
        return False
    if restriction["type"] == "time-of-day":
        r = restriction.get("restriction") or restriction["restrictions"][0]
        begin = r["startHour"] * 60 + r["startMin"]
        stop = r["endHour"] * 60 + r["endMin"]
        now = local.hour * 60 + local.minute
        if begin == stop:
            return False
        if begin < stop:
            return not begin <= now < stop
        return bool(stop <= now < begin)
    now = _minute_in_week(local)
    for r in restriction["restrictions"]:
        begin = WEEKDAYS.index(r["startDay"]) * 1440 + r["startHour"] * 60 + r["startMin"]
        stop = WEEKDAYS.index(r["endDay"]) * 1440 + r["endHour"] * 60 + r["endMin"]
        span = (stop - begin) % (7 * 1440) or 7 * 1440
        if (now - begin) % (7 * 1440) < span:
            return False
    return True


def _turn(rotation: dict[str, Any], zone: ZoneInfo, at: datetime) -> int:
    first = _parse(rotation["startDate"])
    length = rotation.get("length") or 1
    if rotation["type"] == "hourly":
        return int((at - first).total_seconds() // (3600 * length))
    local_first, local_at = first.astimezone(zone), at.astimezone(zone)
    whole_days = (local_at.date() - local_first.date()).days
    if local_at.time() < local_first.time():
        whole_days -= 1
    return whole_days // (length * (7 if rotation["type"] == "weekly" else 1))


def rotation_participant(
    rotation: dict[str, Any], zone: ZoneInfo, at: datetime
) -> dict[str, Any] | None:
    """The participant on duty in this rotation at ``at``, if any."""
    if rotation.get("enabled") is False or at < _parse(rotation["startDate"]):
        return None
    if rotation.get("endDate") and at >= _parse(rotation["endDate"]):
        return None
    if _restricted_out(rotation.get("timeRestriction"), at.astimezone(zone)):
        return None
    participants = rotation["participants"]
    chosen: dict[str, Any] = participants[_turn(rotation, zone, at) % len(participants)]
    return None if chosen["type"] == "none" else chosen


def on_call_usernames(schedule: dict[str, Any], at: datetime) -> list[str]:
    zone = ZoneInfo(schedule["timezone"])
    covering = [
        o
        for o in schedule.get("overrides", [])
        if _parse(o["startDate"]) <= at < _parse(o["endDate"])
    ]
    everywhere = [o for o in covering if not o.get("rotations")]
    if everywhere:
        chosen = [o["user"].get("username") for o in everywhere]
        return sorted({n for n in chosen if n})
    names: set[str] = set()
    for rotation in schedule["rotations"]:
        participant = rotation_participant(rotation, zone, at)
        if participant is None:
            continue
        replacing = [o for o in covering if rotation["id"] in {r["id"] for r in o["rotations"]}]
        if replacing:
            names |= {o["user"]["username"] for o in replacing if o["user"].get("username")}
        elif participant["type"] == "user":
            names.add(participant["username"])
    return sorted(names)
