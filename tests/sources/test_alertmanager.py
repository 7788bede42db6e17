"""Prometheus Alertmanager and Grafana alerting webhooks (integrations.sources.alertmanager)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from integrations.sources import alertmanager
from integrations.sources.events import TITLE_MAX_LENGTH, Image, Link, SourceError, stable_hash
from tests.sources.fixtures import fixture_bytes, fixture_json, fixture_names


def parse(name: str) -> list[Any]:
    return alertmanager.parse(fixture_bytes("alertmanager", name))


def refused(data: Any) -> SourceError:
    with pytest.raises(SourceError) as caught:
        alertmanager.parse(json.dumps(data).encode())
    return caught.value


def test_every_fixture_gives_one_event_per_alert() -> None:
    for name in fixture_names("alertmanager"):
        data = fixture_json("alertmanager", name)
        events = parse(name)
        assert len(events) == len(data["alerts"]), name
        assert all(event.source == "alertmanager" for event in events)


def test_firing_group_triggers_each_alert_by_fingerprint() -> None:
    first, second = parse("firing.json")
    assert (first.action, first.dedup_key) == ("trigger", "9f2c4e1a7b3d5c60")
    assert (second.action, second.dedup_key) == ("trigger", "1d8e6b2f0a4c9e73")
    assert first.title == "p99 checkout latency is 2.4 s on checkout-1"
    assert first.description.startswith("The 99th percentile")
    assert first.severity == "critical"  # severity="page"
    assert first.source_time == datetime(2026, 2, 11, 3, 5, 12, 481923, tzinfo=UTC)
    assert second.source_time == datetime(2026, 2, 11, 2, 6, 42, tzinfo=UTC)
    assert first.labels["team"] == "payments"
    assert first.entity == "checkout-1:8080"
    assert first.client == "Prometheus Alertmanager"
    assert first.client_url == "http://alertmanager.example.net:9093"
    assert first.details["receiver"] == "klaxon-payments"
    assert first.details["group_key"].startswith("{}/{team=")
    assert "truncated_alerts" not in first.details
    assert "ends_at" not in first.details  # Go's zero time means "still firing"
    assert [link.text for link in first.links] == ["Source", "Runbook", "Prometheus Alertmanager"]


def test_resolved_alert_resolves_its_fingerprint_at_ends_at() -> None:
    [event] = parse("resolved.json")
    assert (event.action, event.dedup_key) == ("resolve", "9f2c4e1a7b3d5c60")
    assert event.source_time == datetime(2026, 2, 11, 3, 41, 27, tzinfo=UTC)
    assert event.details["ends_at"] == "2026-02-11T03:41:27.000000001Z"


def test_mixed_group_and_truncation_are_reported() -> None:
    firing, resolved = parse("truncated_mixed.json")
    assert (firing.action, resolved.action) == ("trigger", "resolve")
    assert firing.details["truncated_alerts"] == 3
    assert resolved.details["truncated_alerts"] == 3
    assert firing.title == "NodeDiskFilling"  # no summary annotation: the alert name
    assert firing.description == "/var on node-4 will be full in 3 hours."
    assert firing.severity == "warning"


def test_missing_fingerprint_falls_back_to_a_stable_hash_of_the_labels() -> None:
    firing, _ = parse("truncated_mixed.json")
    labels = fixture_json("alertmanager", "truncated_mixed.json")["alerts"][0]["labels"]
    assert firing.dedup_key == stable_hash(sorted(labels.items()))[:16]
    data = fixture_json("alertmanager", "truncated_mixed.json")
    data["alerts"][0]["labels"] = dict(reversed(list(labels.items())))
    again = alertmanager.parse(json.dumps(data).encode())[0]
    assert again.dedup_key == firing.dedup_key  # label order does not matter


def test_grafana_additions_are_presented() -> None:
    [event] = parse("grafana_firing.json")
    assert event.client == "Grafana"
    assert event.dedup_key == "c41d9e2b7a05f3e8"
    assert event.title == "Disk /data on storage-3 is 91% full"
    assert event.severity == "critical"
    assert event.details["values"] == {"A": 91.52, "C": 1}
    assert event.details["org_id"] == 1
    assert event.details["value_string"].startswith("[ var='A'")
    assert event.images == (
        Image(
            src="https://grafana.example.net/public/img/attachments/disk.png", alt="Alert image"
        ),
    )
    assert [link.text for link in event.links] == [
        "Source",
        "Silence",
        "Dashboard",
        "Panel",
        "Runbook",
        "Grafana",
    ]


def test_grafana_resolved_without_summary_uses_the_alert_name() -> None:
    [event] = parse("grafana_resolved.json")
    assert (event.action, event.title, event.severity) == ("resolve", "Queue backlog", "error")
    assert Link(href="", text="Dashboard") not in event.links  # empty URLs are skipped


def test_grafana_group_title_is_the_last_resort() -> None:
    data = fixture_json("alertmanager", "grafana_resolved.json")
    data["alerts"][0]["labels"] = {}
    [event] = alertmanager.parse(json.dumps(data).encode())
    assert event.title == "[RESOLVED] Queue backlog (emails)"


def test_alert_status_falls_back_to_the_group_status() -> None:
    data = fixture_json("alertmanager", "resolved.json")
    del data["alerts"][0]["status"]
    [event] = alertmanager.parse(json.dumps(data).encode())
    assert event.action == "resolve"


def test_an_empty_group_has_no_events() -> None:
    data = fixture_json("alertmanager", "firing.json")
    data["alerts"] = []
    assert alertmanager.parse(json.dumps(data).encode()) == []


@pytest.mark.parametrize(
    ("mutate", "field", "words"),
    [
        (lambda d: d.pop("alerts"), "alerts", "alerts is missing or not a list"),
        (lambda d: d.update(alerts={"a": 1}), "alerts", "not a list"),
        (lambda d: d["alerts"].__setitem__(1, "x"), "alerts[1]", "alerts[1] is a string"),
        (
            lambda d: d["alerts"][0].update(status="pending"),
            "alerts[0].status",
            'alerts[0].status must be "firing" or "resolved", not pending',
        ),
        (
            lambda d: d["alerts"][1].update(labels=["x"]),
            "alerts[1].labels",
            "alerts[1].labels is an array, not an object",
        ),
        (
            lambda d: d["alerts"][0].update(annotations="x"),
            "alerts[0].annotations",
            "not an object",
        ),
    ],
)
def test_invalid_notifications_name_the_field(mutate: Any, field: str, words: str) -> None:
    data = fixture_json("alertmanager", "firing.json")
    mutate(data)
    error = refused(data)
    assert error.field == field
    assert words in str(error)


def test_too_many_alerts_are_refused() -> None:
    alert = {"status": "firing", "labels": {"alertname": "A"}}
    error = refused({"alerts": [alert] * (alertmanager.MAX_ALERTS + 1)})
    assert error.field == "alerts"
    assert f"at most {alertmanager.MAX_ALERTS}" in str(error)


def test_a_non_object_body_is_refused() -> None:
    assert refused("firing").field == ""


def test_very_long_summaries_are_cut_to_the_title_limit() -> None:
    data = fixture_json("alertmanager", "firing.json")
    data["alerts"][0]["annotations"]["summary"] = "s" * 5000
    event = alertmanager.parse(json.dumps(data).encode())[0]
    assert len(event.title) == TITLE_MAX_LENGTH and event.title.endswith("…")
