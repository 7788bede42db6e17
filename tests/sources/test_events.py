"""The normalised alert event and what every source shares (integrations.sources.events)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from integrations.sources.events import (
    DEDUP_KEY_MAX_LENGTH,
    AlertEvent,
    Image,
    Link,
    SourceError,
    bounded_key,
    parse_action,
    parse_severity,
    parse_timestamp,
    safe_url,
    severity_from,
    stable_hash,
)


@pytest.mark.parametrize(
    ("word", "severity"),
    [
        # PagerDuty's own four
        ("critical", "critical"),
        ("error", "error"),
        ("warning", "warning"),
        ("info", "info"),
        # Opsgenie priorities
        ("P1", "critical"),
        ("P2", "error"),
        ("P3", "warning"),
        ("P4", "info"),
        ("P5", "info"),
        # Alertmanager / Grafana severity label conventions
        ("page", "critical"),
        ("Warning", "warning"),
        ("warn", "warning"),
        ("none", "info"),
        ("high", "error"),
        (" CRITICAL ", "critical"),
    ],
)
def test_each_tools_severity_word_maps_to_one_of_four(word: str, severity: str) -> None:
    assert parse_severity(word) == severity


def test_unknown_or_absent_severity_falls_back_to_error() -> None:
    assert parse_severity("apocalyptic") is None
    assert parse_severity(3) is None
    assert severity_from("apocalyptic") == "error"
    assert severity_from(None) == "error"
    assert severity_from("", default="info") == "info"


@pytest.mark.parametrize(
    ("word", "action"),
    [
        ("firing", "trigger"),
        ("trigger", "trigger"),
        ("resolved", "resolve"),
        ("OK", "resolve"),
        ("ack", "acknowledge"),
        ("note", "annotate"),
    ],
)
def test_action_words_map_to_the_four_actions(word: str, action: str) -> None:
    assert parse_action(word) == action


def test_unknown_action_word_is_none() -> None:
    assert parse_action("explode") is None
    assert parse_action(None) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2015-07-17T08:42:58.315+0000", datetime(2015, 7, 17, 8, 42, 58, 315000, tzinfo=UTC)),
        ("2026-02-11T03:05:12.481923617Z", datetime(2026, 2, 11, 3, 5, 12, 481923, tzinfo=UTC)),
        ("2026-02-11T05:12:00+01:00", datetime(2026, 2, 11, 4, 12, tzinfo=UTC)),
        ("2026-02-11T05:12:00", datetime(2026, 2, 11, 5, 12, tzinfo=UTC)),
    ],
)
def test_timestamps_in_every_source_format_become_utc(text: str, expected: datetime) -> None:
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize(
    "value", ["0001-01-01T00:00:00Z", "yesterday", "", None, 1700000000, "2" * 100]
)
def test_zero_or_unreadable_timestamps_are_none(value: object) -> None:
    assert parse_timestamp(value) is None


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,<script>x</script>",
        "ftp://files.example.net/x",
        "//example.net/no-scheme",
        "https://",
        "",
        None,
        42,
    ],
)
def test_only_http_links_are_kept(url: object) -> None:
    assert safe_url(url) == ""


def test_http_and_https_links_are_kept() -> None:
    assert safe_url("https://grafana.example.net/d/x") == "https://grafana.example.net/d/x"
    assert safe_url(" http://prom:9090/graph ") == "http://prom:9090/graph"


def test_stable_hash_ignores_key_order_and_spacing() -> None:
    assert stable_hash({"a": 1, "b": [1, 2]}) == stable_hash({"b": [1, 2], "a": 1})
    assert stable_hash({"a": 1}) != stable_hash({"a": 2})


def test_long_dedup_keys_are_hashed_to_fit_and_stay_distinct() -> None:
    short = "x" * DEDUP_KEY_MAX_LENGTH
    assert bounded_key(short) == short
    one, two = bounded_key("y" * 600 + "1"), bounded_key("y" * 600 + "2")
    assert one != two
    assert one.startswith("sha256:") and len(one) <= DEDUP_KEY_MAX_LENGTH
    assert bounded_key("y" * 600 + "1") == one


def test_source_error_reads_as_its_message_and_keeps_every_problem() -> None:
    error = SourceError(
        "payload.summary",
        "'payload.summary' is missing or blank",
        problems=(
            ("payload.summary", "'payload.summary' is missing or blank"),
            ("payload.source", "'payload.source' is missing or blank"),
        ),
    )
    assert str(error) == "'payload.summary' is missing or blank"
    assert error.field == "payload.summary"
    assert [field for field, _ in error.problems] == ["payload.summary", "payload.source"]
    assert isinstance(error, ValueError)
    assert SourceError("x", "x is bad").problems == (("x", "x is bad"),)


def test_event_as_dict_is_json_safe() -> None:
    event = AlertEvent(
        source="webhook",
        action="trigger",
        dedup_key="k",
        title="Disk full",
        source_time=datetime(2026, 2, 11, 3, 0, tzinfo=UTC),
        details={"free": 0},
        labels={"host": "a"},
        links=(Link(href="https://x.example.net", text="X"),),
        images=(Image(src="https://x.example.net/i.png"),),
    )
    data = json.loads(json.dumps(event.to_dict()))
    assert data["source_time"] == "2026-02-11T03:00:00+00:00"
    assert data["links"] == [{"href": "https://x.example.net", "text": "X"}]
    assert data["images"][0]["src"] == "https://x.example.net/i.png"
    assert data["severity"] == "error"


def test_events_are_immutable() -> None:
    event = AlertEvent(source="webhook", action="trigger", dedup_key="k", title="t")
    with pytest.raises(AttributeError):
        event.title = "changed"  # type: ignore[misc]
