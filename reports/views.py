from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import SafeString

from reports import charts, selectors
from reports.formatting import duration_words

# Bars beyond this many rows make a chart taller than a phone screen; the table lists all.
CHART_ROWS = 15


def _seconds(value: dt.timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def _duration_text(seconds: float) -> str:
    return duration_words(dt.timedelta(seconds=seconds))


def _response_chart(
    rows: list[selectors.ResponseTimes], *, subject: str, days: int
) -> SafeString | None:
    if not rows:
        return None
    shown = rows[:CHART_ROWS]
    which = f"{len(rows)} {subject}{'s' if len(rows) != 1 else ''}"
    if len(shown) < len(rows):
        which = f"the {len(shown)} busiest of {which}"
    return charts.bar_chart(
        [
            charts.Series("MTTA", "bar-mtta", [(r.name, _seconds(r.mean_tta)) for r in shown]),
            charts.Series("MTTR", "bar-mttr", [(r.name, _seconds(r.mean_ttr)) for r in shown]),
        ],
        title=f"MTTA and MTTR per {subject}, last {days} days",
        description=(
            f"Mean time to acknowledge and mean time to resolve for {which}; "
            "the table beside lists the numbers."
        ),
        value_text=_duration_text,
    )


def _day_label(day: dt.date) -> str:
    """ "23 Oct": short enough for the axis of a 90-day chart on a phone."""
    return f"{day.day} {day:%b}"


def _volume_chart(report: selectors.Report) -> SafeString | None:
    if not report.total_incidents:
        return None
    days = report.volume
    return charts.column_chart(
        [
            charts.Series("Alarms", "bar-alarms", [(_day_label(v.day), v.alarms) for v in days]),
            charts.Series(
                "Incidents", "bar-incidents", [(_day_label(v.day), v.incidents) for v in days]
            ),
        ],
        title=f"Alert volume per day, last {report.window.days} days",
        description=(
            f"Incidents opened and alarms received per UTC day: {report.total_incidents} "
            f"incidents and {report.total_alarms} alarms in all."
        ),
    )


def _noisy_chart(alarms: list[selectors.NoisyAlarm], *, by: str, days: int) -> SafeString | None:
    if not alarms:
        return None
    name, css_class = (
        ("Incidents", "bar-incidents") if by == "incidents" else ("Alarms", "bar-alarms")
    )
    return charts.bar_chart(
        [
            charts.Series(
                name,
                css_class,
                [
                    (f"{rank}. {a.title}", a.incidents if by == "incidents" else a.alarms)
                    for rank, a in enumerate(alarms, start=1)
                ],
            )
        ],
        title=f"Noisiest alarms by {by}, last {days} days",
        description=f"The {len(alarms)} alarms with the most {by}; the table lists them.",
        label_width=180,
        value_width=44,
    )


@login_required
def index(request: HttpRequest) -> HttpResponse:
    days = selectors.parse_window_days(request.GET.get("days"))
    report = selectors.report_get(days=days)
    chart = {
        "integration": _response_chart(report.by_integration, subject="integration", days=days),
        "team": _response_chart(report.by_team, subject="team", days=days),
        "volume": _volume_chart(report),
        "noisy_incidents": _noisy_chart(report.noisiest_by_incidents, by="incidents", days=days),
        "noisy_alarms": _noisy_chart(report.noisiest_by_alarms, by="alarms", days=days),
    }
    return render(
        request,
        "reports/index.html",
        {
            "report": report,
            "chart": chart,
            "window_days": selectors.WINDOW_DAYS,
            "chart_rows": CHART_ROWS,
            "median_row_cap": f"{selectors.MEDIAN_ROW_CAP:,}",
            "cache_minutes": round(selectors.report_cache_seconds() / 60, 1),
        },
    )
