"""The numbers behind the Reports page: response times, alert volume, noisiest alarms.

Everything counts incidents *created* in the window. Means and counts are aggregated by
the database; medians too on PostgreSQL (``percentile_cont``). SQLite has no percentile
function, so there the medians come from one query over the window's rows, and only up
to ``MEDIAN_ROW_CAP`` incidents: above that the page says "n/a" rather than pull
hundreds of thousands of rows into the web process.

The page's query count does not depend on the number of integrations, teams or days,
and a computed report is reused for a few minutes (``report_get``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.db.models import (
    Aggregate,
    Avg,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Max,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from incidents.models import Incident

WINDOW_DAYS = (7, 30, 90)
DEFAULT_WINDOW_DAYS = 30
# Above this many incidents in the window, SQLite medians are not computed (see above).
MEDIAN_ROW_CAP = 50_000
NOISIEST_LIMIT = 10
# How long a computed report is reused (settings.REPORTS_CACHE_SECONDS; 0: never).
REPORTS_CACHE_SECONDS = 300
NO_TEAM = "No team"

UTC = dt.UTC


@dataclass(frozen=True)
class Window:
    """The last ``days`` UTC calendar days, today included: [start, end)."""

    days: int
    start: dt.datetime  # midnight UTC of the first day
    end: dt.datetime  # midnight UTC after today, so all of today counts

    @property
    def first_day(self) -> dt.date:
        return self.start.date()

    @property
    def last_day(self) -> dt.date:
        return (self.end - dt.timedelta(days=1)).date()

    def each_day(self) -> list[dt.date]:
        return [self.first_day + dt.timedelta(days=n) for n in range(self.days)]


@dataclass(frozen=True)
class ResponseTimes:
    """Time to acknowledge and to resolve for one integration or team."""

    key: int | None  # integration or team id; None is "No team"
    name: str
    incidents: int
    acknowledged: int
    mean_tta: dt.timedelta | None
    median_tta: dt.timedelta | None
    resolved: int
    mean_ttr: dt.timedelta | None
    median_ttr: dt.timedelta | None


@dataclass(frozen=True)
class DayVolume:
    day: dt.date
    incidents: int
    alarms: int  # the alarm_count of the incidents opened that day: first ALARM + repeats


@dataclass(frozen=True)
class NoisyAlarm:
    integration_id: int
    integration_name: str
    dedup_key: str
    title: str  # the title of the newest incident for the key in the window
    latest_incident_id: int
    incidents: int
    alarms: int


@dataclass(frozen=True)
class Report:
    window: Window
    computed_at: dt.datetime
    by_integration: list[ResponseTimes]
    by_team: list[ResponseTimes]
    medians_available: bool
    volume: list[DayVolume]
    noisiest_by_incidents: list[NoisyAlarm]
    noisiest_by_alarms: list[NoisyAlarm]

    @property
    def total_incidents(self) -> int:
        return sum(day.incidents for day in self.volume)

    @property
    def total_alarms(self) -> int:
        return sum(day.alarms for day in self.volume)


class _Median(Aggregate):
    """PostgreSQL's interpolated median: the mean of the two middle values for an even
    count, as ``_median`` below computes on SQLite. NULLs are skipped."""

    function = "PERCENTILE_CONT"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()


_TTA = ExpressionWrapper(F("acknowledged_at") - F("created_at"), output_field=DurationField())
_TTR = ExpressionWrapper(F("resolved_at") - F("created_at"), output_field=DurationField())


def parse_window_days(raw: str | None) -> int:
    """7, 30 or 90 from ``?days=``; anything else is the default, 30."""
    text = (raw or "").strip()
    if text.isascii() and text.isdigit() and int(text) in WINDOW_DAYS:
        return int(text)
    return DEFAULT_WINDOW_DAYS


def report_window(*, days: int, now: dt.datetime | None = None) -> Window:
    today = (now or timezone.now()).astimezone(UTC).date()
    start = dt.datetime.combine(today - dt.timedelta(days=days - 1), dt.time.min, tzinfo=UTC)
    end = dt.datetime.combine(today + dt.timedelta(days=1), dt.time.min, tzinfo=UTC)
    return Window(days=days, start=start, end=end)


def incidents_in_window(*, window: Window) -> QuerySet[Incident]:
    return Incident.objects.filter(created_at__gte=window.start, created_at__lt=window.end)


def _median(values: list[dt.timedelta]) -> dt.timedelta | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def _uses_percentile(queryset: QuerySet[Any]) -> bool:
    return connections[queryset.db].vendor == "postgresql"


def _grouped_times(queryset: QuerySet[Incident], *, key: str, name: str) -> list[dict[str, Any]]:
    aggregates: dict[str, Any] = {
        "incidents": Count("id"),
        "acknowledged": Count("acknowledged_at"),
        "mean_tta": Avg(_TTA),
        "resolved": Count("resolved_at"),
        "mean_ttr": Avg(_TTR),
    }
    if _uses_percentile(queryset):
        aggregates["median_tta"] = _Median(_TTA)
        aggregates["median_ttr"] = _Median(_TTR)
    return list(queryset.values(key, name).annotate(**aggregates).order_by())


Medians = dict[Any, dict[str, dt.timedelta | None]]


def _python_medians(queryset: QuerySet[Incident]) -> tuple[Medians, Medians]:
    """Medians per integration and per team from one query over the window's rows."""
    durations: dict[tuple[int, Any, str], list[dt.timedelta]] = defaultdict(list)
    rows = queryset.filter(
        Q(acknowledged_at__isnull=False) | Q(resolved_at__isnull=False)
    ).order_by().values_list("integration_id", "integration__team_id", "created_at",
                             "acknowledged_at", "resolved_at")  # fmt: skip
    for integration_id, team_id, created, acknowledged, resolved in rows:
        for grouping, key in enumerate((integration_id, team_id)):
            if acknowledged is not None:
                durations[grouping, key, "median_tta"].append(acknowledged - created)
            if resolved is not None:
                durations[grouping, key, "median_ttr"].append(resolved - created)
    medians: tuple[Medians, Medians] = (defaultdict(dict), defaultdict(dict))
    for (grouping, key, field), values in durations.items():
        medians[grouping][key][field] = _median(values)
    return medians


def _as_response_times(
    rows: Iterable[dict[str, Any]],
    *,
    key: str,
    name: str,
    medians: Medians | None,
) -> list[ResponseTimes]:
    result = []
    for row in rows:
        group_medians = medians.get(row[key], {}) if medians is not None else row
        result.append(
            ResponseTimes(
                key=row[key],
                name=row[name] if row[key] is not None else NO_TEAM,
                incidents=row["incidents"],
                acknowledged=row["acknowledged"],
                mean_tta=row["mean_tta"],
                median_tta=group_medians.get("median_tta"),
                resolved=row["resolved"],
                mean_ttr=row["mean_ttr"],
                median_ttr=group_medians.get("median_ttr"),
            )
        )
    # Busiest first; the name breaks ties so the order is stable.
    return sorted(result, key=lambda r: (-r.incidents, r.name.casefold(), r.key or 0))


def response_times(
    *, window: Window, median_row_cap: int | None = None
) -> tuple[list[ResponseTimes], list[ResponseTimes], bool]:
    """(per integration, per team, medians available) for incidents created in the window.

    MTTA counts acknowledged incidents only: one resolved without an acknowledgement
    (by an OK from its source, or by a person straight away) is left out, as PagerDuty
    does. MTTR counts resolved incidents only."""
    incidents = incidents_in_window(window=window)
    integration_rows = _grouped_times(incidents, key="integration_id", name="integration__name")
    team_rows = _grouped_times(
        incidents, key="integration__team_id", name="integration__team__name"
    )
    medians_available = True
    integration_medians: Medians | None = None  # None: the database computed them
    team_medians: Medians | None = None
    if not _uses_percentile(incidents):
        cap = MEDIAN_ROW_CAP if median_row_cap is None else median_row_cap
        if sum(row["incidents"] for row in integration_rows) <= cap:
            integration_medians, team_medians = _python_medians(incidents)
        else:
            medians_available = False
            integration_medians, team_medians = {}, {}
    return (
        _as_response_times(
            integration_rows, key="integration_id", name="integration__name",
            medians=integration_medians,
        ),
        _as_response_times(
            team_rows, key="integration__team_id", name="integration__team__name",
            medians=team_medians,
        ),
        medians_available,
    )  # fmt: skip


def alert_volume(*, window: Window) -> list[DayVolume]:
    """Incidents opened and their alarms per UTC day, every day of the window present."""
    rows = (
        incidents_in_window(window=window)
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values("day")
        .annotate(incidents=Count("id"), alarms=Sum("alarm_count"))
        .order_by("day")
    )
    found = {row["day"]: row for row in rows}
    return [
        DayVolume(
            day=day,
            incidents=found[day]["incidents"] if day in found else 0,
            alarms=(found[day]["alarms"] or 0) if day in found else 0,
        )
        for day in window.each_day()
    ]


def noisiest_alarms(
    *, window: Window, limit: int = NOISIEST_LIMIT
) -> tuple[list[NoisyAlarm], list[NoisyAlarm]]:
    """The top alarm keys (per integration) by incidents opened and by alarms received."""
    # Grouped without the integration's name: sorting ~100,000 rows by two text columns
    # instead of one halves the query; the name comes with the titles.
    groups = (
        incidents_in_window(window=window)
        .values("integration_id", "dedup_key")
        .annotate(incidents=Count("id"), alarms=Sum("alarm_count"), latest_id=Max("id"))
    )
    tie_break = ("dedup_key", "integration_id")
    by_incidents = list(groups.order_by("-incidents", "-alarms", *tie_break)[:limit])
    by_alarms = list(groups.order_by("-alarms", "-incidents", *tie_break)[:limit])
    latest_ids = {row["latest_id"] for row in (*by_incidents, *by_alarms)}
    latest = {
        pk: (title, integration_name)
        for pk, title, integration_name in Incident.objects.filter(id__in=latest_ids)
        .order_by()
        .values_list("id", "title", "integration__name")
    }

    def noisy(row: dict[str, Any]) -> NoisyAlarm:
        title, integration_name = latest[row["latest_id"]]
        return NoisyAlarm(
            integration_id=row["integration_id"],
            integration_name=integration_name,
            dedup_key=row["dedup_key"],
            title=title,
            latest_incident_id=row["latest_id"],
            incidents=row["incidents"],
            alarms=row["alarms"] or 0,
        )

    return [noisy(row) for row in by_incidents], [noisy(row) for row in by_alarms]


def report_cache_seconds() -> int:
    return int(getattr(settings, "REPORTS_CACHE_SECONDS", REPORTS_CACHE_SECONDS))


def report_compute(*, window: Window) -> Report:
    by_integration, by_team, medians_available = response_times(window=window)
    by_incidents, by_alarms = noisiest_alarms(window=window)
    return Report(
        window=window,
        computed_at=timezone.now(),
        by_integration=by_integration,
        by_team=by_team,
        medians_available=medians_available,
        volume=alert_volume(window=window),
        noisiest_by_incidents=by_incidents,
        noisiest_by_alarms=by_alarms,
    )


def report_get(*, days: int) -> Report:
    """The report for the last ``days`` days, computed at most once per
    ``REPORTS_CACHE_SECONDS`` for each window.

    Why a cache: every section aggregates all the window's incidents. At 100,000
    incidents in 90 days that is about a second of database time on a small machine, and
    a report a few minutes old says the same thing. The key holds the window's first day,
    so the window still moves at midnight UTC."""
    window = report_window(days=days)
    seconds = report_cache_seconds()
    if seconds <= 0:
        return report_compute(window=window)
    key = f"reports:v1:{days}:{window.first_day.isoformat()}"
    report: Report | None = cache.get(key)
    if report is None:
        report = report_compute(window=window)
        cache.set(key, report, seconds)
    return report
