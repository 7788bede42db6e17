"""Does the imported schedule put the same people on call as the source does?

For each planned schedule we pick ``SAMPLES`` instants over the next ``DAYS`` days
(deterministic: every shift boundary the source reports and every boundary Klaxon's
answer has, then evenly spread instants to make up the number; when boundaries alone
exceed it, an even selection of them), ask Klaxon (``who_is_on_call`` on the converted
spec) and the source (Opsgenie's on-calls endpoint at that instant, or OnCall's final
shifts) and count agreements. People are compared as sets of source user ids.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from importers.client import ImportSourceError
from importers.plan import ImportPlan, PlannedSchedule
from schedules.oncall import final_shifts, who_is_on_call

SAMPLES = 200
DAYS = 30
SHOWN_DISAGREEMENTS = 5


class SourceAnswers(Protocol):
    """The source's own on-call answers for a schedule, by source ids."""

    def boundaries(self, schedule_id: str, start: datetime, end: datetime) -> list[datetime]:
        """Instants in [start, end) where the source says its answer changes (may be [])."""
        ...

    def on_call(self, schedule_id: str, at: datetime) -> frozenset[str]:
        """The source user ids on call at ``at``."""
        ...


@dataclass(frozen=True)
class Disagreement:
    at: datetime
    klaxon: tuple[str, ...]
    source: tuple[str, ...]


@dataclass(frozen=True)
class ScheduleCheck:
    schedule_source_id: str
    name: str
    agreeing: int
    total: int
    disagreements: tuple[Disagreement, ...]  # the first few
    error: str = ""  # why the schedule could not be checked

    @property
    def agrees(self) -> bool:
        return not self.error and self.agreeing == self.total


def sample_times(
    start: datetime, end: datetime, boundaries: Iterable[datetime], count: int = SAMPLES
) -> list[datetime]:
    """``count`` sorted instants in [start, end): the boundaries, then even fill."""
    inside = sorted({b for b in boundaries if start <= b < end})
    if len(inside) >= count:
        step = len(inside) / count
        return [inside[int(i * step)] for i in range(count)]
    spread = count - len(inside)
    chosen = set(inside) | {start + (end - start) * (i + 0.5) / spread for i in range(spread)}
    while len(chosen) < count:  # an even instant fell on a boundary: split the widest gap
        points = [start, *sorted(chosen), end]
        lower, upper = max(zip(points, points[1:], strict=False), key=lambda p: p[1] - p[0])
        chosen.add(lower + (upper - lower) / 2)
    return sorted(chosen)


def check_schedule(
    schedule: PlannedSchedule,
    user_ids: Mapping[str, int],
    source: SourceAnswers,
    *,
    now: datetime,
    days: int = DAYS,
    count: int = SAMPLES,
) -> ScheduleCheck:
    start = now.astimezone(UTC)
    end = start + timedelta(days=days)
    by_int = {v: k for k, v in user_ids.items()}
    try:
        spec = schedule.spec(user_ids)
        ours = final_shifts(spec, start, end)
        theirs = source.boundaries(schedule.source_id, start, end)
        times = sample_times(start, end, [s.start for s in ours] + theirs, count)
        agreeing = 0
        disagreements: list[Disagreement] = []
        for at in times:
            klaxon = frozenset(by_int[u] for u in who_is_on_call(spec, at).user_ids)
            answer = source.on_call(schedule.source_id, at)
            if klaxon == answer:
                agreeing += 1
            elif len(disagreements) < SHOWN_DISAGREEMENTS:
                disagreements.append(
                    Disagreement(at, tuple(sorted(klaxon)), tuple(sorted(answer)))
                )
    except (ImportSourceError, ValueError, KeyError) as exc:
        return ScheduleCheck(schedule.source_id, schedule.name, 0, count, (), str(exc))
    return ScheduleCheck(
        schedule.source_id, schedule.name, agreeing, len(times), tuple(disagreements)
    )


def check_plan(plan: ImportPlan, source: SourceAnswers, *, now: datetime) -> list[ScheduleCheck]:
    ids = plan.user_ids()
    return [check_schedule(s, ids, source, now=now) for s in plan.schedules]


def describe_checks(checks: Sequence[ScheduleCheck], plan: ImportPlan) -> str:
    """The summary lines: agreement per schedule and the first disagreements."""
    names = {u.source_id: u.username for u in plan.users}

    def people(ids: tuple[str, ...]) -> str:
        return ", ".join(names.get(i, i) for i in ids) or "nobody"

    lines = [f"On-call check ({SAMPLES} instants over the next {DAYS} days):"]
    for check in checks:
        if check.error:
            lines.append(f"  {check.name}: not checked ({check.error})")
            continue
        verdict = "agrees" if check.agrees else "DIFFERS"
        lines.append(f"  {check.name}: {check.agreeing}/{check.total} agree ({verdict})")
        for d in check.disagreements:
            lines.append(
                f"    at {d.at:%Y-%m-%d %H:%M} UTC Klaxon says {people(d.klaxon)}, "
                f"the source says {people(d.source)}"
            )
    return "\n".join(lines)


class OpsgenieAnswers:
    """Opsgenie's who-is-on-call endpoint, one request per instant (flat usernames)."""

    def __init__(self, ask: Callable[[str, datetime], list[str]], plan: ImportPlan) -> None:
        self.ask = ask
        self.ids = {u.username.lower(): u.source_id for u in plan.users}

    def boundaries(self, schedule_id: str, start: datetime, end: datetime) -> list[datetime]:
        return []  # the on-calls endpoint answers one instant at a time

    def on_call(self, schedule_id: str, at: datetime) -> frozenset[str]:
        names = self.ask(schedule_id, at)
        return frozenset(self.ids.get(n.lower(), f"unknown:{n}") for n in names)


class OnCallAnswers:
    """Grafana OnCall's final shifts, read once per schedule and looked up locally."""

    def __init__(self, final_shifts_of: Callable[[str, datetime, datetime], list[Any]]) -> None:
        self.final_shifts_of = final_shifts_of
        self.cache: dict[str, list[tuple[datetime, datetime, str]]] = {}

    def _shifts(self, schedule_id: str, start: datetime, end: datetime) -> list[Any]:
        if schedule_id not in self.cache:
            self.cache[schedule_id] = [
                (_utc(s["shift_start"]), _utc(s["shift_end"]), str(s["user_pk"]))
                for s in self.final_shifts_of(schedule_id, start, end)
            ]
        return self.cache[schedule_id]

    def boundaries(self, schedule_id: str, start: datetime, end: datetime) -> list[datetime]:
        return [t for s in self._shifts(schedule_id, start, end) for t in s[:2]]

    def on_call(self, schedule_id: str, at: datetime) -> frozenset[str]:
        shifts = self.cache.get(schedule_id)
        if shifts is None:
            raise ImportSourceError("final shifts were not read before asking")
        return frozenset(user for lower, upper, user in shifts if lower <= at < upper)


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def opsgenie_answers(client: Any, plan: ImportPlan) -> OpsgenieAnswers:
    """Answers from an ``importers.opsgenie_api.OpsgenieClient``."""
    return OpsgenieAnswers(client.on_call_usernames, plan)


def oncall_answers(client: Any) -> OnCallAnswers:
    """Answers from an ``importers.oncall_api.OnCallClient`` (dates cover the window)."""

    def read(schedule_id: str, start: datetime, end: datetime) -> list[Any]:
        last = (end + timedelta(days=1)).date()
        return list(client.final_shifts(schedule_id, start.date(), last))

    return OnCallAnswers(read)


def recorded_oncall_answers(export: Mapping[str, Any]) -> OnCallAnswers:
    """Answers from final shifts saved in an OnCall export file (each schedule's
    ``final_shifts``: the endpoint's ``results``); a schedule without them cannot be
    checked."""
    saved = {str(s.get("id")): s.get("final_shifts") for s in export.get("schedules") or []}

    def read(schedule_id: str, start: datetime, end: datetime) -> list[Any]:
        shifts = saved.get(schedule_id)
        if not isinstance(shifts, list):
            raise ImportSourceError("the export has no final_shifts for it")
        return shifts

    return OnCallAnswers(read)
