"""The Opsgenie Alert API subset (integrations.sources.opsgenie)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from integrations.sources import opsgenie
from integrations.sources.events import SourceError
from tests.sources.fixtures import fixture_bytes, fixture_json, json_body


def refused(data: Any) -> SourceError:
    with pytest.raises(SourceError) as caught:
        opsgenie.parse(json_body(data))
    return caught.value


def test_create_alert_with_every_field() -> None:
    [event] = opsgenie.parse(fixture_bytes("opsgenie", "create_alert.json"))
    assert event.source == "opsgenie"
    assert event.action == "trigger"
    assert event.dedup_key == "payments/provider-503"
    assert not event.dedup_key_generated
    assert event.title == "Payment provider returns 503 for card captures"
    assert event.description.startswith("More than 5%")
    assert event.severity == "critical"  # P1
    assert event.entity == "payments-gateway"
    assert event.labels == {"provider": "cardco", "error_rate": "7.2%", "region": "eu-west-1"}
    assert event.details["tags"] == ["payments", "provider", "production"]
    assert event.details["actions"] == ["Restart worker", "Fail over"]
    assert event.details["responders"][0] == {"name": "Payments", "type": "team"}
    assert event.details["visible_to"] == [{"name": "Support", "type": "team"}]
    assert event.details["note"] == "Opened automatically by the capture-rate check."
    assert event.details["user"] == "monitoring-bot"
    assert event.client == "https://monitoring.example.net/payments"
    assert event.client_url == "https://monitoring.example.net/payments"


def test_minimal_create_defaults_to_p3_and_a_unique_key() -> None:
    [event] = opsgenie.parse(fixture_bytes("opsgenie", "create_minimal.json"))
    [again] = opsgenie.parse(fixture_bytes("opsgenie", "create_minimal.json"))
    assert event.severity == "warning"
    assert event.details == {"priority": "P3"}
    assert event.dedup_key_generated and again.dedup_key != event.dedup_key


def test_alertmanager_opsgenie_notifier_create_dedups_by_its_alias() -> None:
    [event] = opsgenie.parse(fixture_bytes("opsgenie", "alertmanager_create.json"))
    data = fixture_json("opsgenie", "alertmanager_create.json")
    assert event.dedup_key == data["alias"]
    assert event.labels["instance"] == "node-4:9100"  # Alertmanager's common labels
    assert event.severity == "warning"
    assert "note" not in event.details  # sent empty


def test_a_repeat_create_has_the_same_dedup_key() -> None:
    first = opsgenie.parse(fixture_bytes("opsgenie", "create_alert.json"))[0]
    second = opsgenie.parse(fixture_bytes("opsgenie", "create_alert.json"))[0]
    assert first.dedup_key == second.dedup_key


def test_alertmanager_closes_by_alias() -> None:
    alias = fixture_json("opsgenie", "alertmanager_create.json")["alias"]
    [event] = opsgenie.parse_close(
        fixture_bytes("opsgenie", "alertmanager_close.json"),
        identifier=alias,
        identifier_type="alias",
    )
    assert (event.action, event.dedup_key, event.incident_id) == ("resolve", alias, None)
    assert event.client == "http://alertmanager.example.net:9093"


def test_close_by_id_addresses_a_klaxon_incident_number() -> None:
    [event] = opsgenie.parse_close(fixture_bytes("opsgenie", "close.json"), identifier="42")
    assert (event.action, event.incident_id, event.dedup_key) == ("resolve", 42, "")
    assert event.description == "Provider recovered after failover."
    assert event.details["user"] == "ana@example.net"
    assert event.details["identifier_type"] == "id"


def test_acknowledge_by_tiny_id() -> None:
    [event] = opsgenie.parse_acknowledge(
        fixture_bytes("opsgenie", "acknowledge.json"), identifier="7", identifier_type="tiny"
    )
    assert (event.action, event.incident_id) == ("acknowledge", 7)


def test_close_and_acknowledge_bodies_are_optional() -> None:
    [event] = opsgenie.parse_acknowledge(b"", identifier="k", identifier_type="alias")
    assert (event.action, event.dedup_key, event.details) == (
        "acknowledge",
        "k",
        {"identifier_type": "alias"},
    )


def test_add_note_annotates() -> None:
    [event] = opsgenie.parse_add_note(
        fixture_bytes("opsgenie", "add_note.json"), identifier="k", identifier_type="alias"
    )
    assert (event.action, event.description) == (
        "annotate",
        "Failover to provider B started at 03:20.",
    )


def test_add_note_needs_a_note() -> None:
    with pytest.raises(SourceError) as caught:
        opsgenie.parse_add_note(b"{}", identifier="k", identifier_type="alias")
    assert (caught.value.field, str(caught.value)) == ("note", "Note can not be empty.")


@pytest.mark.parametrize(
    ("identifier", "identifier_type", "field"),
    [
        ("k", "name", "identifierType"),
        ("  ", "alias", "identifier"),
        ("a" * 513, "alias", "identifier"),
        ("c0ffee-uuid", "id", "identifier"),
    ],
)
def test_bad_identifiers_are_named(identifier: str, identifier_type: str, field: str) -> None:
    with pytest.raises(SourceError) as caught:
        opsgenie.parse_close(b"", identifier=identifier, identifier_type=identifier_type)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"message": None}, "message", "Message can not be empty."),
        ({"message": "  "}, "message", "Message can not be empty."),
        ({"message": "m" * 131}, "message", "Message can not be longer than 130 characters."),
        ({"message": 5}, "message", "Message must be a string."),
        ({"alias": "a" * 513}, "alias", "Alias can not be longer than 512 characters."),
        (
            {"description": "d" * 15001},
            "description",
            "Description can not be longer than 15000 characters.",
        ),
        ({"priority": "P0"}, "priority", "Priority should be one of [P1, P2, P3, P4, P5]."),
        ({"priority": "critical"}, "priority", "Priority should be one of [P1, P2, P3, P4, P5]."),
        ({"tags": "a,b"}, "tags", "Tags must be a list of strings."),
        ({"details": ["x"]}, "details", "Details must be an object of key-value pairs."),
        ({"responders": ["team-a"]}, "responders", "Responders must be a list of objects."),
        ({"actions": ["x"] * 101}, "actions", "Actions can not have more than 100 items."),
    ],
)
def test_invalid_create_requests_name_the_field(
    change: dict[str, Any], field: str, message: str
) -> None:
    data = fixture_json("opsgenie", "create_alert.json")
    for key, value in change.items():
        if value is None:
            del data[key]
        else:
            data[key] = value
    error = refused(data)
    assert (error.field, str(error)) == (field, message)


def test_message_of_exactly_130_characters_is_accepted() -> None:
    [event] = opsgenie.parse(json_body({"message": "m" * 130}))
    assert event.title == "m" * 130


def test_accepted_response_has_opsgenies_shape() -> None:
    response = opsgenie.accepted_response(took=0.0123456)
    assert response["result"] == "Request will be processed"
    assert response["took"] == 0.012
    uuid.UUID(response["requestId"])
    assert opsgenie.ACCEPTED_STATUS == 202


def test_field_errors_answer_422_with_every_field() -> None:
    error = refused({"message": "", "priority": "P9"})
    status, response = opsgenie.error_response(error, took=0.001, request_id="r-1")
    assert status == 422
    assert response == {
        "message": "Request body is not processable. Please check the errors.",
        "errors": {
            "message": "Message can not be empty.",
            "priority": "Priority should be one of [P1, P2, P3, P4, P5].",
        },
        "took": 0.001,
        "requestId": "r-1",
    }


def test_unreadable_body_answers_400() -> None:
    with pytest.raises(SourceError) as caught:
        opsgenie.parse(b"{nope")
    status, response = opsgenie.error_response(caught.value, took=0.0)
    assert status == 400
    assert "not valid JSON" in response["message"]
    assert set(response) == {"message", "took", "requestId"}
