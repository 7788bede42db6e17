"""The export-file path (``--file``): the API answers gathered into one JSON object give
the same plan as reading the API, and bad files are refused with the reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from importers.client import ImportSourceError, read_export
from importers.oncall import oncall_plan
from importers.oncall_api import OnCallClient, fetch_oncall
from importers.opsgenie import opsgenie_plan
from importers.opsgenie_api import OpsgenieClient, fetch_opsgenie
from importers.verify import check_plan, describe_checks, recorded_oncall_answers
from tests.importers.conftest import NOW


def test_an_opsgenie_export_file_gives_the_same_plan_as_the_api(
    opsgenie_client: OpsgenieClient, tmp_path: Path
) -> None:
    path = tmp_path / "opsgenie.json"
    path.write_text(json.dumps(fetch_opsgenie(opsgenie_client)))

    from_file = opsgenie_plan(read_export(path, "opsgenie"))

    assert from_file == opsgenie_plan(fetch_opsgenie(opsgenie_client))
    assert len(from_file.schedules) == 3 and len(from_file.users) == 6


def test_an_oncall_export_file_holds_the_calendars_and_gives_the_same_plan(
    oncall_client: OnCallClient, tmp_path: Path
) -> None:
    path = tmp_path / "oncall.json"
    path.write_text(json.dumps(fetch_oncall(oncall_client)))

    export = read_export(path, "grafana_oncall")

    assert export["schedules"][2]["ical_primary"].startswith("BEGIN:VCALENDAR")
    assert oncall_plan(export) == oncall_plan(fetch_oncall(oncall_client))


def test_final_shifts_saved_in_an_oncall_export_let_the_file_be_checked(
    oncall_client: OnCallClient, tmp_path: Path
) -> None:
    export = fetch_oncall(oncall_client)
    for schedule in export["schedules"][:2]:
        schedule["final_shifts"] = oncall_client.final_shifts(
            schedule["id"], NOW.date(), NOW.date().replace(day=31)
        )
    path = tmp_path / "oncall.json"
    path.write_text(json.dumps(export))
    saved = read_export(path, "grafana_oncall")
    plan = oncall_plan(saved)

    checks = check_plan(plan, recorded_oncall_answers(saved), now=NOW)

    assert [(c.agreeing, c.agrees) for c in checks[:2]] == [(200, True), (200, True)]
    assert "Ops calendar: not checked (the export has no final_shifts for it)" in describe_checks(
        checks, plan
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        ("{not json", "is not JSON"),
        ("[1, 2]", "must hold a JSON object, not a list"),
        ('{"source": "pagerduty"}', "says \"source\": 'pagerduty'; expected 'opsgenie'"),
    ],
)
def test_a_bad_export_file_is_refused_with_the_reason(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "export.json"
    if content is not None:
        path.write_text(content)

    with pytest.raises(ImportSourceError, match=message):
        read_export(path, "opsgenie")
