"""Who is on call: the schedule mathematics, as pure functions over small dataclasses.

This module is the single source of truth for on-call answers. It imports nothing from
Django; ``schedules.selectors`` turns database rows into the specs below.

Rules (see also ``schedules.models``):

* A layer's first turn starts on its ``start`` date at ``handoff_time``, local time in
  the schedule's zone. Daily and weekly turns advance by calendar days in local time, so
  a 09:00 handoff stays 09:00 local across daylight-saving changes (the spanning turn is
  23 or 25 hours long). "hours" turns advance by N real hours from that first start.
* Turn k belongs to ``user_ids[k % len(user_ids)]``; nobody is on call in a layer before
  its first turn.
* Restrictions: the layer only has someone inside its windows. A window opens on each
  allowed local weekday (all days when the list is empty) at ``restrict_start``
  (midnight when unset) and closes at ``restrict_end`` (the next midnight when unset);
  an end at or before the start closes on the next day, and the window belongs to the
  weekday it opened on.
* The highest layer (by ``position``; on a tie, the earlier one in ``layers``) that has
  someone wins. Overrides win over every layer; overlapping overrides put all their
  users on call, ordered by override start.
* "The answer" is the pair (user ids, source). A change of either is a change: it is
  where ``final_shifts`` starts a new segment and what ``until``/``since`` point at.

Extensions (each defaults to the behaviour above; the importers need them to express
Opsgenie and Grafana OnCall schedules exactly):

* ``turn_length``: a daily or weekly turn lasts that many days or weeks.
* ``user_ids`` may hold ``NOBODY`` (0; database ids start at 1): nobody is on call in
  that turn (a gap in the rotation).
* ``windows``: the restriction as several weekly windows (e.g. Monday 09:00 to Friday
  17:00, Saturday 10:00 to 14:00) instead of one set of weekdays with one time window.
  A window runs from ``start`` on ``start_day`` to the next ``end`` on ``end_day``; the
  same day and time at both ends is the whole week. Not combined with ``restrict_*``.
* ``begin``/``end``: the layer only has someone from ``begin`` and before ``end``
  (instants); turns are still counted from ``start``.
* ``time_zone`` on a layer: its turns and windows follow that zone, not the schedule's.
* ``ties="together"`` on the schedule: all layers at the winning position that have
  someone are on call together (users in layer order, sources joined by " + "), instead
  of the first listed only.
* An override for ``NOBODY`` puts nobody on call; an override naming ``layers``
  only replaces those layers' users, and only where those layers have someone (its
  source is "override"); overrides without ``layers`` win over everything as above.

Local times that do not exist (spring-forward gaps) are read with the offset in force
before the change; repeated local times (fall-back) mean their first occurrence.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAILY = "daily"
WEEKLY = "weekly"
HOURS = "hours"
TURNS = (DAILY, WEEKLY, HOURS)
OVERRIDE_SOURCE = "override"
TIES_FIRST = "first"
TIES_TOGETHER = "together"
TIES = (TIES_FIRST, TIES_TOGETHER)
NOBODY = 0  # a user id that is nobody: a gap in a rotation, an override for no one

# How far past the last scheduled event ``who_is_on_call`` looks for the next change
# before it says "never". Only reached by rotations that provably change but very
# rarely (e.g. one user listed hundreds of times); ordinary schedules answer in days.
SEARCH_HORIZON = timedelta(days=800)
_FIRST_WINDOW = timedelta(days=2)
# How far back `since` looks; an answer unchanged for longer reports since=None.
SINCE_HORIZON = timedelta(days=400)
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class WeeklyWindow:
    """From ``start`` on ``start_day`` to the next ``end`` on ``end_day`` (0 = Monday)."""

    start_day: int
    start: time
    end_day: int
    end: time


@dataclass(frozen=True)
class LayerSpec:
    name: str
    position: int
    start: date
    turn: str
    turn_hours: int | None
    handoff_time: time
    user_ids: tuple[int, ...]
    restrict_weekdays: tuple[int, ...] = ()
    restrict_start: time | None = None
    restrict_end: time | None = None
    turn_length: int = 1
    windows: tuple[WeeklyWindow, ...] = ()
    begin: datetime | None = None
    end: datetime | None = None
    time_zone: str | None = None


@dataclass(frozen=True)
class OverrideSpec:
    user_id: int
    start: datetime
    end: datetime
    layers: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScheduleSpec:
    time_zone: str
    layers: tuple[LayerSpec, ...]
    overrides: tuple[OverrideSpec, ...] = ()
    ties: str = TIES_FIRST


@dataclass(frozen=True)
class OnCall:
    user_ids: tuple[int, ...]
    since: datetime | None
    until: datetime | None
    source: str  # "override", the layer name, or "" when nobody


@dataclass(frozen=True)
class Shift:
    start: datetime
    end: datetime
    user_ids: tuple[int, ...]
    source: str


Answer = tuple[tuple[int, ...], str]
_NOBODY: Answer = ((), "")


def _as_utc(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime (with a UTC offset)")
    return value.astimezone(UTC)


def _local_to_utc(day: date, at: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, at.replace(tzinfo=None), tzinfo=tz).astimezone(UTC)


class _Rotation:
    """One layer compiled for arithmetic: turn boundaries and restriction windows."""

    def __init__(self, layer: LayerSpec, tz: ZoneInfo) -> None:
        if layer.turn not in TURNS:
            raise ValueError(f"unknown turn {layer.turn!r}; expected one of {TURNS}")
        if layer.turn == HOURS and (layer.turn_hours is None or layer.turn_hours < 1):
            raise ValueError("an 'hours' turn needs turn_hours >= 1")
        if layer.turn_length < 1 or (layer.turn == HOURS and layer.turn_length != 1):
            raise ValueError("turn_length is a whole number of days or weeks (>= 1)")
        restricted_by_day = bool(layer.restrict_weekdays) or layer.restrict_start is not None
        if layer.windows and (restricted_by_day or layer.restrict_end is not None):
            raise ValueError("a layer is restricted by windows or by weekdays/times, not both")
        self.layer = layer
        self.tz = ZoneInfo(layer.time_zone) if layer.time_zone else tz
        self.first = _local_to_utc(layer.start, layer.handoff_time, self.tz)
        self.begin = _as_utc(layer.begin, "layer begin") if layer.begin else None
        self.end = _as_utc(layer.end, "layer end") if layer.end else None
        # Before this instant the layer has nobody: its first turn or its begin.
        self.opens = max(self.first, self.begin) if self.begin else self.first
        self.step_days = (7 if layer.turn == WEEKLY else 1) * layer.turn_length
        self.step_hours = timedelta(hours=layer.turn_hours or 1)
        self.weekdays = set(layer.restrict_weekdays) or set(range(7))
        open_, close = layer.restrict_start, layer.restrict_end
        all_day = (open_ is None and close is None) or (open_ is not None and open_ == close)
        self.unrestricted = all_day and len(self.weekdays) == 7 and not layer.windows
        people = set(layer.user_ids)
        self.staffed = bool(people - {NOBODY})
        self.single_user = len(people) == 1 and self.staffed

    def boundary(self, k: int) -> datetime:
        """Start of turn k (turn 0 is the first)."""
        if self.layer.turn == HOURS:
            return self.first + k * self.step_hours
        day = self.layer.start + timedelta(days=k * self.step_days)
        return _local_to_utc(day, self.layer.handoff_time, self.tz)

    def turn_index(self, at: datetime) -> int:
        """The k whose turn contains ``at``."""
        if self.layer.turn == HOURS:
            return (at - self.first) // self.step_hours
        days = (at.astimezone(self.tz).date() - self.layer.start).days
        k = days // self.step_days
        # The local-date guess is off by at most one turn around the handoff time.
        while self.boundary(k) > at:
            k -= 1
        while self.boundary(k + 1) <= at:
            k += 1
        return k

    def turns(self, start: datetime, end: datetime) -> Iterator[tuple[int, datetime, datetime]]:
        """(k, from, to) for every turn k >= 0 overlapping [start, end), clipped to it."""
        k = max(self.turn_index(start), 0)
        lower = self.boundary(k)
        while lower < end:
            upper = self.boundary(k + 1)
            if upper > start:
                yield k, max(lower, start), min(upper, end)
            k, lower = k + 1, upper

    def windows(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """Disjoint, sorted UTC intervals in which the restriction lets the layer work."""
        if self.layer.windows:
            return _merged(self._weekly_windows(start, end))
        layer = self.layer
        open_at = layer.restrict_start or time(0)
        close_at = layer.restrict_end or time(0)
        # A window closes on its opening day only if it closes later that day.
        closes_same_day = layer.restrict_end is not None and close_at > open_at
        found: list[tuple[datetime, datetime]] = []
        day = start.astimezone(self.tz).date() - timedelta(days=1)
        last = end.astimezone(self.tz).date() + timedelta(days=1)
        while day <= last:
            if day.weekday() in self.weekdays:
                lower = _local_to_utc(day, open_at, self.tz)
                close_day = day if closes_same_day else day + timedelta(days=1)
                upper = _local_to_utc(close_day, close_at, self.tz)
                if upper > start and lower < end and upper > lower:
                    found.append((lower, upper))
            day += timedelta(days=1)
        return _merged(found)

    def _weekly_windows(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        found: list[tuple[datetime, datetime]] = []
        # A window opens at most a week before it closes: start looking 8 days back.
        day = start.astimezone(self.tz).date() - timedelta(days=8)
        last = end.astimezone(self.tz).date() + timedelta(days=1)
        while day <= last:
            for window in self.layer.windows:
                if day.weekday() != window.start_day:
                    continue
                ahead = (window.end_day - window.start_day) % 7
                if ahead == 0 and window.end <= window.start:
                    ahead = 7
                lower = _local_to_utc(day, window.start, self.tz)
                upper = _local_to_utc(day + timedelta(days=ahead), window.end, self.tz)
                if upper > start and lower < end and upper > lower:
                    found.append((lower, upper))
            day += timedelta(days=1)
        return found

    def shifts(self, start: datetime, end: datetime) -> list[Shift]:
        users = self.layer.user_ids
        if self.begin is not None:
            start = max(start, self.begin)
        if self.end is not None:
            end = min(end, self.end)
        if not self.staffed or start >= end:
            return []
        turns = [
            Shift(lower, upper, (user,), self.layer.name)
            for k, lower, upper in self.turns(start, end)
            if (user := users[k % len(users)]) != NOBODY
        ]
        if self.unrestricted:
            return turns
        return _intersect(turns, self.windows(start, end))


def _merged(intervals: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Sorted, overlapping or touching intervals joined."""
    result: list[tuple[datetime, datetime]] = []
    for lower, upper in sorted(intervals):
        if result and lower <= result[-1][1]:
            result[-1] = (result[-1][0], max(result[-1][1], upper))
        else:
            result.append((lower, upper))
    return result


def _intersect(turns: list[Shift], windows: list[tuple[datetime, datetime]]) -> list[Shift]:
    result: list[Shift] = []
    i = j = 0
    while i < len(turns) and j < len(windows):
        turn, (w_start, w_end) = turns[i], windows[j]
        lower, upper = max(turn.start, w_start), min(turn.end, w_end)
        if lower < upper:
            result.append(Shift(lower, upper, turn.user_ids, turn.source))
        if turn.end <= w_end:
            i += 1
        else:
            j += 1
    return result


def _dedupe(user_ids: Iterable[int]) -> tuple[int, ...]:
    return tuple(dict.fromkeys(u for u in user_ids if u != NOBODY))


def _replace_in_layer(shifts: list[Shift], overrides: Sequence[OverrideSpec]) -> list[Shift]:
    """A layer's shifts with the overrides naming it put in place, where it has someone."""
    if not overrides:
        return shifts
    result: list[Shift] = []
    for shift in shifts:
        cuts = {shift.start, shift.end}
        for o in overrides:
            if o.start < shift.end and o.end > shift.start:
                cuts.update((max(o.start, shift.start), min(o.end, shift.end)))
        ordered = sorted(cuts)
        for lower, upper in zip(ordered, ordered[1:], strict=False):
            covering = [o for o in overrides if o.start <= lower < o.end]
            if not covering:
                result.append(Shift(lower, upper, shift.user_ids, shift.source))
            elif users := _dedupe(o.user_id for o in covering):
                result.append(Shift(lower, upper, users, OVERRIDE_SOURCE))
    return result


class _Compiled:
    """A schedule prepared once for several questions."""

    def __init__(self, schedule: ScheduleSpec) -> None:
        if schedule.ties not in TIES:
            raise ValueError(f"unknown ties {schedule.ties!r}; expected one of {TIES}")
        self.tz = ZoneInfo(schedule.time_zone)
        self.together = schedule.ties == TIES_TOGETHER
        ranked = sorted(enumerate(schedule.layers), key=lambda pair: (-pair[1].position, pair[0]))
        self.rotations = [_Rotation(layer, self.tz) for _, layer in ranked]
        names = {layer.name for layer in schedule.layers}
        overrides: list[OverrideSpec] = []
        for o in schedule.overrides:
            for name in set(o.layers) - names:
                raise ValueError(f"an override names layer {name!r}, not in this schedule")
            start, end = _as_utc(o.start, "override start"), _as_utc(o.end, "override end")
            overrides.append(OverrideSpec(o.user_id, start, end, o.layers))
        kept = sorted((o for o in overrides if o.end > o.start), key=lambda o: o.start)
        self.all_overrides = kept
        self.overrides = [o for o in kept if not o.layers]
        self.scoped = {
            r.layer.name: [o for o in kept if r.layer.name in o.layers] for r in self.rotations
        }

    def staffed(self) -> list[_Rotation]:
        return [r for r in self.rotations if r.staffed]

    def earliest_event(self) -> datetime | None:
        """Before this instant nobody is on call (None: nobody ever is)."""
        starts = [r.opens for r in self.staffed()] + [o.start for o in self.all_overrides]
        return min(starts, default=None)

    def settles_at(self) -> tuple[datetime | None, bool]:
        """(T, constant): after T the answer never changes if ``constant``.

        T is the last override end, layer end or first turn, whichever is later. From
        then on the answer is constant only when the best-ranked layer still running
        (and, with ties together, every layer sharing its position) works around the
        clock for a single user; anything else makes it change again (a window closes,
        a turn passes on).
        """
        staffed = self.staffed()
        events = [r.opens for r in staffed] + [r.end for r in staffed if r.end is not None]
        events += [o.end for o in self.all_overrides]
        last = max(events, default=None)
        running = [r for r in staffed if r.end is None]
        if not running:
            return last, True
        top = running[0]
        peers = [r for r in running if r.layer.position == top.layer.position]
        deciding = peers if self.together else [top]
        return last, all(r.unrestricted and r.single_user for r in deciding)

    def segments(self, start: datetime, end: datetime) -> list[Shift]:
        if start >= end:
            return []
        per_layer = [
            (r.layer.position, _replace_in_layer(r.shifts(start, end), self.scoped[r.layer.name]))
            for r in self.rotations
        ]
        overrides = [o for o in self.overrides if o.end > start and o.start < end]
        points = {start, end}
        for _, shifts in per_layer:
            for shift in shifts:
                points.update((shift.start, shift.end))
        for o in overrides:
            points.update((max(o.start, start), min(o.end, end)))
        ordered = sorted(points)
        lookup = [(position, [s.start for s in shifts], shifts) for position, shifts in per_layer]

        result: list[Shift] = []
        for lower, upper in zip(ordered, ordered[1:], strict=False):
            users, source = _answer_at(lower, overrides, lookup, self.together)
            if result and result[-1].user_ids == users and result[-1].source == source:
                result[-1] = Shift(result[-1].start, upper, users, source)
            else:
                result.append(Shift(lower, upper, users, source))
        return result


def _answer_at(
    at: datetime,
    overrides: Sequence[OverrideSpec],
    layers: Sequence[tuple[int, list[datetime], list[Shift]]],
    together: bool,
) -> Answer:
    covering = [o for o in overrides if o.start <= at < o.end]
    if covering:
        return _dedupe(o.user_id for o in covering), OVERRIDE_SOURCE
    winner: int | None = None
    users: list[int] = []
    sources: list[str] = []
    for position, starts, shifts in layers:
        if winner is not None and position != winner:
            break
        i = bisect.bisect_right(starts, at) - 1
        if i >= 0 and at < shifts[i].end:
            winner = position
            users.extend(shifts[i].user_ids)
            sources.append(shifts[i].source)
            if not together:
                break
    if winner is None:
        return _NOBODY
    return _dedupe(users), " + ".join(dict.fromkeys(sources))


def who_is_on_call(schedule: ScheduleSpec, at: datetime) -> OnCall:
    """Who is on call at ``at`` (aware), since when and until the answer next changes.

    ``since`` is None when nobody has been on call since forever; ``until`` is None when
    the answer never changes again (within ``SEARCH_HORIZON`` past the last event).
    """
    at = _as_utc(at, "at")
    plan = _Compiled(schedule)
    current = plan.segments(at, at + _TICK)[0]
    return OnCall(
        user_ids=current.user_ids,
        since=_since(plan, at),
        until=_until(plan, at),
        source=current.source,
    )


def _until(plan: _Compiled, at: datetime) -> datetime | None:
    last, constant = plan.settles_at()
    if last is None:
        return None
    limit = max(at, last) + (timedelta(days=1) if constant else SEARCH_HORIZON)
    window = _FIRST_WINDOW
    while True:
        segments = plan.segments(at, at + window)
        if len(segments) > 1:
            return segments[1].start
        if at + window >= limit:
            return None
        window *= 2


def _since(plan: _Compiled, at: datetime) -> datetime | None:
    earliest = plan.earliest_event()
    if earliest is None:
        return None
    # Look back at most SINCE_HORIZON: "on call since more than a year" is answer enough,
    # and a long search over a constant rotation costs seconds.
    floor = max(earliest - timedelta(days=1), at - SINCE_HORIZON)
    window = _FIRST_WINDOW
    while True:
        segments = plan.segments(at - window, at + _TICK)
        if len(segments) > 1:
            return segments[-1].start
        if at - window < floor:
            return None
        window *= 2


def final_shifts(schedule: ScheduleSpec, start: datetime, end: datetime) -> list[Shift]:
    """The final answer over [start, end) as contiguous segments, one per answer.

    Adjacent segments always differ (in users or source); gaps have ``user_ids == ()``.
    The first and last segments are clipped to the window; an empty window gives [].
    """
    start, end = _as_utc(start, "start"), _as_utc(end, "end")
    return _Compiled(schedule).segments(start, end)


def layer_shifts(
    schedule: ScheduleSpec, layer: LayerSpec, start: datetime, end: datetime
) -> list[Shift]:
    """One layer's own turns (restrictions applied) within [start, end), clipped to it."""
    start, end = _as_utc(start, "start"), _as_utc(end, "end")
    return _Rotation(layer, ZoneInfo(schedule.time_zone)).shifts(start, end)
