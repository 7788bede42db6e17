"""PagerDuty Events API v2 requests (integrations.sources.pagerduty)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from integrations.sources import pagerduty
from integrations.sources.events import Image, Link, SourceError
from tests.sources.fixtures import fixture_bytes, fixture_json, fixture_names, json_body

ROUTING_KEY = "Kx7qP2mN9vR4tY6wZ1aB3cD5eF8gH0jL"


def refused(data: Any) -> SourceError:
    with pytest.raises(SourceError) as caught:
        pagerduty.parse(json_body(data))
    return caught.value


def trigger(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = fixture_json("pagerduty", "trigger.json")
    data.update(changes)
    return data


def test_every_fixture_parses_to_one_event_and_keeps_the_routing_key_apart() -> None:
    for name in fixture_names("pagerduty"):
        request = pagerduty.parse_request(fixture_bytes("pagerduty", name))
        assert request.routing_key == ROUTING_KEY
        assert ROUTING_KEY not in json.dumps(request.event.to_dict()), name
        [event] = pagerduty.parse(fixture_bytes("pagerduty", name))
        assert (event.action, event.title) == (request.event.action, request.event.title)


def test_full_trigger_presents_every_documented_field() -> None:
    [event] = pagerduty.parse(fixture_bytes("pagerduty", "trigger.json"))
    assert event.source == "pagerduty"
    assert event.action == "trigger"
    assert event.dedup_key == "orders-db/replication-lag"
    assert not event.dedup_key_generated
    assert event.title == "Replication lag on orders-db-2 is 94 s"
    assert event.severity == "critical"
    assert event.source_time == datetime(2026, 2, 11, 3, 17, 42, 508000, tzinfo=UTC)
    assert event.entity == "orders-db-2.prod.example.net"
    assert event.labels == {
        "component": "postgres",
        "group": "orders-storage",
        "class": "replication lag",
    }
    assert event.details["custom_details"] == {
        "lag seconds": 94,
        "threshold seconds": 30,
        "replica": "orders-db-2",
    }
    assert event.client == "Orders Monitoring"
    assert event.client_url == "https://monitoring.example.net/orders"
    assert event.images == (
        Image(
            src="https://grafana.example.net/render/d-solo/pg/lag.png",
            href="https://grafana.example.net/d/pg/postgres",
            alt="Replication lag, last hour",
        ),
    )


def test_javascript_links_are_dropped() -> None:
    [event] = pagerduty.parse(fixture_bytes("pagerduty", "trigger.json"))
    assert event.links == (
        Link(href="https://runbooks.example.net/postgres/replication-lag", text="Runbook"),
    )


def test_trigger_without_dedup_key_gets_a_generated_one_for_the_response() -> None:
    [event] = pagerduty.parse(fixture_bytes("pagerduty", "trigger_without_dedup_key.json"))
    assert event.dedup_key_generated
    assert len(event.dedup_key) == 32
    response = pagerduty.success_response(event)
    assert response == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": event.dedup_key,
    }
    [again] = pagerduty.parse(fixture_bytes("pagerduty", "trigger_without_dedup_key.json"))
    assert again.dedup_key != event.dedup_key  # each such trigger is a new alert


@pytest.mark.parametrize(
    ("name", "action"), [("acknowledge.json", "acknowledge"), ("resolve.json", "resolve")]
)
def test_acknowledge_and_resolve_address_the_dedup_key(name: str, action: str) -> None:
    [event] = pagerduty.parse(fixture_bytes("pagerduty", name))
    assert event.action == action
    assert event.dedup_key == "orders-db/replication-lag"
    assert event.title == ""


def test_alertmanager_resolve_keeps_its_summary() -> None:
    [event] = pagerduty.parse(fixture_bytes("pagerduty", "alertmanager_resolve.json"))
    assert event.action == "resolve"
    assert event.title == "[RESOLVED] CheckoutLatencyHigh (checkout-api production)"
    assert event.client == "Alertmanager"


def test_grafana_trigger() -> None:
    [event] = pagerduty.parse(fixture_bytes("pagerduty", "grafana_trigger.json"))
    assert (event.severity, event.client, event.dedup_key) == (
        "warning",
        "Grafana",
        "c41d9e2b7a05f3e8",
    )
    assert event.images[0].src == "https://grafana.example.net/public/img/attachments/disk.png"


# --- refusals, in PagerDuty's words ---------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"routing_key": None}, "routing_key", "'routing_key' is missing or blank"),
        (
            {"routing_key": "short"},
            "routing_key",
            "Length of 'routing_key' is incorrect (should be 32 characters)",
        ),
        ({"event_action": None}, "event_action", "'event_action' is missing or blank"),
        (
            {"event_action": "page"},
            "event_action",
            "'event_action' is invalid (must be one of: trigger, acknowledge, resolve)",
        ),
        (
            {"dedup_key": "k" * 256},
            "dedup_key",
            "Length of 'dedup_key' is too long (maximum is 255 characters)",
        ),
        ({"dedup_key": 42}, "dedup_key", "'dedup_key' must be a string"),
        ({"payload": None}, "payload", "'payload' is missing or not an object"),
    ],
)
def test_invalid_top_level_fields_are_named(
    change: dict[str, Any], field: str, message: str
) -> None:
    data = trigger()
    for key, value in change.items():
        if value is None:
            del data[key]
        else:
            data[key] = value
    error = refused(data)
    assert (error.field, str(error)) == (field, message)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"summary": ""}, "payload.summary", "'payload.summary' is missing or blank"),
        ({"summary": None}, "payload.summary", "'payload.summary' is missing or blank"),
        ({"summary": ["x"]}, "payload.summary", "'payload.summary' must be a string"),
        (
            {"summary": "s" * 1025},
            "payload.summary",
            "Length of 'payload.summary' is too long (maximum is 1024 characters)",
        ),
        ({"source": " "}, "payload.source", "'payload.source' is missing or blank"),
        ({"severity": None}, "payload.severity", "'payload.severity' is missing or blank"),
        (
            {"severity": "high"},
            "payload.severity",
            "'payload.severity' is invalid (must be one of: critical, error, warning, info)",
        ),
    ],
)
def test_invalid_trigger_payloads_are_named(
    change: dict[str, Any], field: str, message: str
) -> None:
    data = trigger()
    for key, value in change.items():
        if value is None:
            del data["payload"][key]
        else:
            data["payload"][key] = value
    error = refused(data)
    assert (error.field, str(error)) == (field, message)


def test_summary_of_exactly_1024_characters_is_accepted() -> None:
    data = trigger()
    data["payload"]["summary"] = "s" * 1024
    assert pagerduty.parse(json_body(data))[0].title == "s" * 1024


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
def test_acknowledge_and_resolve_need_a_dedup_key(action: str) -> None:
    error = refused({"routing_key": ROUTING_KEY, "event_action": action})
    assert (error.field, str(error)) == ("dedup_key", "'dedup_key' is missing or blank")


def test_resolve_needs_no_payload_and_ignores_a_broken_one() -> None:
    [event] = pagerduty.parse(
        json_body(
            {
                "routing_key": ROUTING_KEY,
                "event_action": "resolve",
                "dedup_key": "k",
                "payload": {"severity": "nonsense"},
            }
        )
    )
    assert (event.action, event.severity) == ("resolve", "error")


def test_every_problem_is_listed_in_the_400_body() -> None:
    data = trigger(routing_key="short")
    data["payload"] = {"summary": ""}
    error = refused(data)
    assert pagerduty.error_response(error) == {
        "status": "invalid event",
        "message": "Event object is invalid",
        "errors": [
            "Length of 'routing_key' is incorrect (should be 32 characters)",
            "'payload.summary' is missing or blank",
            "'payload.source' is missing or blank",
            "'payload.severity' is missing or blank",
        ],
    }
    assert pagerduty.ERROR_STATUS == 400


def test_unreadable_bodies_get_the_unrecognized_object_answer() -> None:
    with pytest.raises(SourceError) as caught:
        pagerduty.parse(b"not json")
    response = pagerduty.error_response(caught.value)
    assert response["status"] == "Unrecognized object"
    assert response["message"] == "Event object format is unrecognized"
    assert "not valid JSON" in response["errors"][0]


def test_a_json_array_is_not_an_event() -> None:
    error = refused([trigger()])
    assert error.field == ""
    assert "an array" in str(error)


def test_unreadable_timestamp_is_kept_in_details_not_refused() -> None:
    data = trigger()
    data["payload"]["timestamp"] = "last tuesday"
    [event] = pagerduty.parse(json_body(data))
    assert event.source_time is None
    assert event.details["unreadable_timestamp"] == "last tuesday"


def test_links_and_images_are_capped() -> None:
    data = copy.deepcopy(trigger())
    data["links"] = [{"href": f"https://x.example.net/{n}"} for n in range(500)]
    [event] = pagerduty.parse(json_body(data))
    assert len(event.links) == pagerduty.MAX_CONTEXTS


def test_a_blank_dedup_key_on_a_trigger_is_generated() -> None:
    [event] = pagerduty.parse(json_body(trigger(dedup_key="   ")))
    assert event.dedup_key_generated and event.dedup_key.strip()
