"""The Reports page: MTTA/MTTR per integration and team, volume per day, noisiest alarms."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents.models import Incident
from reports import selectors
from reports.formatting import duration_words
from reports.selectors import DayVolume, report_window, response_times
from tests.factories import IncidentFactory, IntegrationFactory, TeamFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC
NOW = dt.datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
S = dt.timedelta(seconds=1)
URL = "/reports/"


def incident(
    integration: Any,
    *,
    created: dt.datetime,
    tta: int | None = None,
    ttr: int | None = None,
    **fields: Any,
) -> Incident:
    """An incident opened at ``created``, acknowledged ``tta`` and resolved ``ttr`` seconds
    later (None: never)."""
    state = Incident.State.TRIGGERED
    if tta is not None:
        state = Incident.State.ACKNOWLEDGED
    if ttr is not None:
        state = Incident.State.RESOLVED
    result: Incident = IncidentFactory(
        integration=integration,
        created_at=created,
        last_seen_at=created,
        acknowledged_at=None if tta is None else created + tta * S,
        resolved_at=None if ttr is None else created + ttr * S,
        state=state,
        **fields,
    )
    return result


@pytest.fixture
def estate() -> dict[str, Any]:
    """Two teams: Payments owns two integrations, Platform one; one integration has no
    team. Known acknowledge and resolve times, two days ago (the page reports up to now)."""
    payments, platform = TeamFactory(name="Payments"), TeamFactory(name="Platform")
    billing = IntegrationFactory(name="Billing alarms", team=payments)
    backup = IntegrationFactory(name="Billing backup", team=payments)
    edge = IntegrationFactory(name="Edge alarms", team=platform)
    orphan = IntegrationFactory(name="Orphan alarms", team=None)
    t = dt.datetime.now(UTC) - dt.timedelta(days=2)
    incident(billing, created=t, tta=60, ttr=600)
    incident(billing, created=t, tta=120, ttr=1200)
    incident(billing, created=t, tta=300)  # acknowledged, still open
    incident(billing, created=t, ttr=900)  # resolved by OK, never acknowledged
    incident(billing, created=t)  # still triggered
    incident(backup, created=t, tta=420, ttr=2400)
    incident(edge, created=t, tta=30, ttr=90)
    incident(edge, created=t, tta=90, ttr=3690)
    incident(orphan, created=t, tta=10, ttr=20)
    incident(billing, created=t - dt.timedelta(days=38), tta=9999, ttr=99999)  # too old
    return {"billing": billing, "backup": backup, "edge": edge, "orphan": orphan}


def by_name(rows: list[selectors.ResponseTimes]) -> dict[str, selectors.ResponseTimes]:
    return {row.name: row for row in rows}


# --- the numbers -------------------------------------------------------------------------


def test_response_times_per_integration_are_exact(estate: dict[str, Any]) -> None:
    rows, _, medians_available = response_times(window=report_window(days=30))
    assert medians_available
    billing = by_name(rows)["Billing alarms"]
    # MTTA over the 3 acknowledged (60, 120, 300): the OK-resolved one is left out.
    assert (billing.incidents, billing.acknowledged, billing.resolved) == (5, 3, 3)
    assert billing.mean_tta == 160 * S
    assert billing.median_tta == 120 * S
    # MTTR over the 3 resolved (600, 1200, 900), including the never-acknowledged one.
    assert billing.mean_ttr == 900 * S
    assert billing.median_ttr == 900 * S
    edge = by_name(rows)["Edge alarms"]
    assert (edge.incidents, edge.acknowledged, edge.resolved) == (2, 2, 2)
    assert (edge.mean_tta, edge.median_tta) == (60 * S, 60 * S)  # even count: (30+90)/2
    assert (edge.mean_ttr, edge.median_ttr) == (1890 * S, 1890 * S)
    # Busiest first.
    assert [r.name for r in rows] == [
        "Billing alarms", "Edge alarms", "Billing backup", "Orphan alarms",
    ]  # fmt: skip


def test_response_times_per_team_pool_their_integrations(estate: dict[str, Any]) -> None:
    _, rows, _ = response_times(window=report_window(days=30))
    teams = by_name(rows)
    assert set(teams) == {"Payments", "Platform", "No team"}
    payments = teams["Payments"]
    # Billing's (60, 120, 300) with Billing backup's 420: mean 225, median (120+300)/2.
    assert (payments.incidents, payments.acknowledged, payments.resolved) == (6, 4, 4)
    assert (payments.mean_tta, payments.median_tta) == (225 * S, 210 * S)
    # (600, 1200, 900, 2400): mean 1275, median (900+1200)/2.
    assert (payments.mean_ttr, payments.median_ttr) == (1275 * S, 1050 * S)
    assert (teams["Platform"].mean_ttr, teams["Platform"].incidents) == (1890 * S, 2)
    no_team = teams["No team"]
    assert (no_team.key, no_team.incidents, no_team.mean_tta, no_team.median_ttr) == (
        None, 1, 10 * S, 20 * S,
    )  # fmt: skip


def test_a_group_with_nothing_acknowledged_has_no_mtta() -> None:
    quiet = IntegrationFactory(name="Quiet")
    incident(quiet, created=NOW - dt.timedelta(hours=1))
    incident(quiet, created=NOW - dt.timedelta(hours=2), ttr=30)
    (row,), _, _ = response_times(window=report_window(days=7, now=NOW))
    assert (row.acknowledged, row.mean_tta, row.median_tta) == (0, None, None)
    assert (row.resolved, row.mean_ttr, row.median_ttr) == (1, 30 * S, 30 * S)


def test_window_counts_an_incident_ten_days_old_for_30_days_but_not_7() -> None:
    integration = IntegrationFactory()
    incident(integration, created=NOW - dt.timedelta(days=10), tta=60)
    assert response_times(window=report_window(days=7, now=NOW))[0] == []
    (row,), _, _ = response_times(window=report_window(days=30, now=NOW))
    assert (row.incidents, row.mean_tta) == (1, 60 * S)


def test_window_is_whole_utc_days_today_included() -> None:
    window = report_window(days=7, now=NOW)
    assert window.start == dt.datetime(2026, 3, 9, tzinfo=UTC)
    assert window.end == dt.datetime(2026, 3, 16, tzinfo=UTC)
    integration = IntegrationFactory()
    incident(integration, created=window.start)  # first moment of the first day: in
    incident(integration, created=window.start - dt.timedelta(microseconds=1))  # out
    (row,), _, _ = response_times(window=window)
    assert row.incidents == 1


@pytest.mark.parametrize(
    ("raw", "days"),
    [("7", 7), ("30", 30), ("90", 90), (None, 30), ("", 30), ("abc", 30), ("14", 30),
     ("-7", 30), ("７", 30), ("90 ", 90)],
)  # fmt: skip
def test_window_days_accepts_only_7_30_90(raw: str | None, days: int) -> None:
    assert selectors.parse_window_days(raw) == days


def test_volume_per_day_includes_zero_days_and_sums_alarms() -> None:
    integration = IntegrationFactory()
    incident(integration, created=dt.datetime(2026, 3, 10, 8, tzinfo=UTC), alarm_count=3)
    incident(integration, created=dt.datetime(2026, 3, 10, 23, 59, 59, tzinfo=UTC))
    incident(integration, created=dt.datetime(2026, 3, 15, tzinfo=UTC), alarm_count=2)
    incident(integration, created=dt.datetime(2026, 3, 8, 23, 59, 59, tzinfo=UTC))  # before
    volume = selectors.alert_volume(window=report_window(days=7, now=NOW))
    day = dt.date
    assert volume == [
        DayVolume(day(2026, 3, 9), 0, 0),
        DayVolume(day(2026, 3, 10), 2, 4),
        DayVolume(day(2026, 3, 11), 0, 0),
        DayVolume(day(2026, 3, 12), 0, 0),
        DayVolume(day(2026, 3, 13), 0, 0),
        DayVolume(day(2026, 3, 14), 0, 0),
        DayVolume(day(2026, 3, 15), 1, 2),
    ]


def test_volume_days_are_utc_days_whatever_the_site_time_zone(settings: Any) -> None:
    settings.TIME_ZONE = "America/New_York"
    integration = IntegrationFactory()
    # 22:00 on the 14th in New York, 02:00 on the 15th in UTC.
    incident(integration, created=dt.datetime(2026, 3, 15, 2, tzinfo=UTC))
    volume = selectors.alert_volume(window=report_window(days=7, now=NOW))
    assert [v.day for v in volume if v.incidents] == [dt.date(2026, 3, 15)]


def test_noisiest_alarms_rank_by_incidents_and_by_alarms() -> None:
    billing = IntegrationFactory(name="Billing")
    edge = IntegrationFactory(name="Edge")
    t = NOW - dt.timedelta(days=1)
    for n, title in enumerate(["CPU high (old wording)", "CPU high", "CPU high on db-1"]):
        incident(
            billing, created=t + n * S, ttr=5 if n < 2 else None, dedup_key="cpu", title=title
        )
    incident(billing, created=t, dedup_key="disk", title="Disk full", alarm_count=50)
    incident(billing, created=t, ttr=1, dedup_key="5xx", title="5xx", alarm_count=2)
    incident(billing, created=t + S, dedup_key="5xx", title="5xx", alarm_count=2)
    incident(edge, created=t, dedup_key="cpu", title="CPU high at the edge")
    incident(
        billing, created=NOW - dt.timedelta(days=20), ttr=1, dedup_key="disk", alarm_count=500
    )  # fmt: skip - outside 7 days
    by_incidents, by_alarms = selectors.noisiest_alarms(window=report_window(days=7, now=NOW))
    assert [(a.integration_name, a.dedup_key, a.incidents, a.alarms) for a in by_incidents] == [
        ("Billing", "cpu", 3, 3),
        ("Billing", "5xx", 2, 4),
        ("Billing", "disk", 1, 50),
        ("Edge", "cpu", 1, 1),
    ]
    assert [(a.integration_name, a.dedup_key) for a in by_alarms] == [
        ("Billing", "disk"), ("Billing", "5xx"), ("Billing", "cpu"), ("Edge", "cpu"),
    ]  # fmt: skip
    assert by_incidents[0].title == "CPU high on db-1"  # the newest incident's title
    assert by_incidents[3].title == "CPU high at the edge"


def test_noisiest_alarms_are_the_top_ten() -> None:
    integration = IntegrationFactory()
    for n in range(12):
        incident(integration, created=NOW - dt.timedelta(hours=1), dedup_key=f"k{n:02d}",
                 alarm_count=n + 1)  # fmt: skip
    by_incidents, by_alarms = selectors.noisiest_alarms(window=report_window(days=7, now=NOW))
    assert len(by_incidents) == len(by_alarms) == 10
    assert [a.alarms for a in by_alarms] == list(range(12, 2, -1))


def test_medians_past_the_row_cap(estate: dict[str, Any]) -> None:
    """SQLite medians come from the rows, so past the cap they are not computed;
    PostgreSQL computes them in the database whatever the count."""
    rows, teams, available = response_times(window=report_window(days=30), median_row_cap=3)
    billing = by_name(rows)["Billing alarms"]
    assert billing.mean_tta == 160 * S  # means are always there
    if connection.vendor == "postgresql":
        assert available
        assert (billing.median_tta, by_name(teams)["Payments"].median_ttr) == (120 * S, 1050 * S)
    else:
        assert not available
        assert all(r.median_tta is None and r.median_ttr is None for r in rows + teams)


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(0, "0 s"), (42.4, "42 s"), (59.6, "1 min 00 s"), (252, "4 min 12 s"),
     (3780, "1 h 03 min"), (3600 * 5 + 59, "5 h 00 min"), (86400 * 2 + 3600 * 5, "2 d 05 h"),
     (-90, "-1 min 30 s")],
)  # fmt: skip
def test_durations_read_as_words(seconds: float, words: str) -> None:
    assert duration_words(dt.timedelta(seconds=seconds)) == words


def test_no_duration_is_a_dash() -> None:
    assert duration_words(None) == "—"


# --- the page ----------------------------------------------------------------------------


def test_reports_need_a_signed_in_user(client: Client) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_url_name_is_reports_index() -> None:
    assert reverse("reports:index") == URL


def test_page_with_no_incidents_shows_empty_states(signed_in: Client) -> None:
    response = signed_in.get(URL, {"days": "7"})
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("No incidents in the last 7 days.") == 3
    assert "No alarms in the last 7 days." in html
    assert "<svg" not in html
    assert '<a href="?days=7" aria-current="page">' in html


def test_page_shows_the_numbers_in_tables_beside_charts(
    signed_in: Client, estate: dict[str, Any]
) -> None:
    response = signed_in.get(URL)
    html = response.content.decode()
    assert response.status_code == 200
    assert '<a href="?days=30" aria-current="page">' in html
    assert "MTTA</strong> (mean time to acknowledge)" in html
    assert "left out (as PagerDuty does)" in html
    # Billing alarms: 5 incidents, 3 acknowledged, MTTA 160 s, median 120 s, 3 resolved,
    # MTTR 900 s; the row reads in that order.
    billing_row = html[html.index(estate["billing"].get_absolute_url()) :]
    billing_row = billing_row[: billing_row.index("</tr>")]
    cells = [c.split("</td>")[0] for c in billing_row.split('<td class="num">')[1:]]
    assert cells == ["5", "3", "2 min 40 s", "2 min 00 s", "3", "15 min 00 s", "15 min 00 s"]
    assert "No team" in html and "Payments" in html
    assert "3 min 45 s" in html  # Payments' MTTA (225 s)
    assert html.count('role="img"') == 5  # 2 response charts, volume, 2 noisiest
    assert "<title>MTTA and MTTR per integration, last 30 days</title>" in html
    assert "Numbers per day: 9 incidents, 9 alarms in 30 days" in html


def test_page_falls_back_to_30_days_on_a_bad_window(
    signed_in: Client, estate: dict[str, Any]
) -> None:
    incident(
        estate["edge"],
        created=dt.datetime.now(UTC) - dt.timedelta(days=60),
        title="Sixty days ago",
        alarm_count=5,  # the noisiest alarm, when the window reaches it
    )
    for raw in ("abc", "14", "7; DROP TABLE"):
        html = signed_in.get(URL, {"days": raw}).content.decode()
        assert '<a href="?days=30" aria-current="page">' in html
        assert "in the last 30 UTC days" in html
        assert "Sixty days ago" not in html
    html = signed_in.get(URL, {"days": "90"}).content.decode()
    assert "in the last 90 UTC days" in html
    assert "Sixty days ago" in html


def test_page_escapes_names_in_tables_and_charts(signed_in: Client) -> None:
    evil = IntegrationFactory(name="<script>alert(1)</script>")
    incident(evil, created=dt.datetime.now(UTC), title="<img src=x onerror=alert(2)>", tta=5)
    html = signed_in.get(URL).content.decode()
    assert "<script>alert(1)" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_page_says_na_for_medians_past_the_cap_on_sqlite(
    signed_in: Client, estate: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    if connection.vendor == "postgresql":
        pytest.skip("PostgreSQL computes medians in the database, with no cap")
    monkeypatch.setattr(selectors, "MEDIAN_ROW_CAP", 3)
    html = signed_in.get(URL).content.decode()
    assert "More than 3 incidents in this window: medians are not computed" in html
    assert ">n/a</td>" in html
    assert "2 min 40 s" in html  # the means stay


def _integrations_with_incidents(count: int) -> list[Any]:
    integrations = []
    for _ in range(count):
        integration = IntegrationFactory(team=TeamFactory())
        for k in range(3):
            incident(integration, created=dt.datetime.now(UTC) - dt.timedelta(days=k),
                     tta=60 * (k + 1), ttr=600 * (k + 1) if k else None)  # fmt: skip
        integrations.append(integration)
    return integrations


def test_page_query_count_does_not_grow_with_integrations(
    signed_in: Client, django_assert_max_num_queries: Any, settings: Any
) -> None:
    settings.REPORTS_CACHE_SECONDS = 0  # compute on every request
    integrations, counts = [], []
    for added in (2, 8):  # 2 integrations, then 10
        integrations += _integrations_with_incidents(added)
        with CaptureQueriesContext(connection) as queries:
            html = signed_in.get(URL).content.decode()
        assert all(i.get_absolute_url() in html for i in integrations)
        counts.append(len(queries))
    assert counts[0] == counts[1]
    with django_assert_max_num_queries(10):
        signed_in.get(URL)


def test_a_computed_report_is_reused_for_its_window(
    signed_in: Client, estate: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    first = signed_in.get(URL).content.decode()
    incident(estate["edge"], created=dt.datetime.now(UTC), title="Brand new alarm")
    with django_assert_max_num_queries(3):  # session, user, role: no report query
        again = signed_in.get(URL).content.decode()
    assert "Brand new alarm" not in again
    assert "Figures as of" in again and "recomputed at most every 5 min" in again
    assert again.count("<tr") == first.count("<tr")
    # Another window is its own report, computed now.
    assert "Brand new alarm" in signed_in.get(URL, {"days": "7"}).content.decode()


def test_no_cache_when_reports_cache_seconds_is_zero(
    signed_in: Client, estate: dict[str, Any], settings: Any
) -> None:
    settings.REPORTS_CACHE_SECONDS = 0
    signed_in.get(URL)
    incident(estate["edge"], created=dt.datetime.now(UTC), title="Brand new alarm")
    html = signed_in.get(URL).content.decode()
    assert "Brand new alarm" in html
    assert "recomputed at most" not in html
