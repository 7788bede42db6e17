"""POST /api/v1/filter-patterns/test/: a pattern and log events in, one answer per event."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from aws.api import MAX_EVENTS, MAX_EVENTS_CHARS
from tests.openapi import schema_with_warnings

pytestmark = pytest.mark.django_db

URL = "/api/v1/filter-patterns/test/"
LOGIN_FAILED = '{"eventName":"ConsoleLogin","errorMessage":"Failed authentication"}'
LOGIN_OK = '{"eventName":"ConsoleLogin","responseElements":{"ConsoleLogin":"Success"}}'


@pytest.fixture
def api(user: Any) -> Client:
    key = Token.objects.create(user=user).key
    return Client(headers={"Authorization": f"Token {key}"}, enforce_csrf_checks=True)


def post(client: Client, body: Any) -> Any:
    return client.post(URL, data=json.dumps(body), content_type="application/json")


def test_each_event_gets_its_answer_in_order(api: Client) -> None:
    pattern = '{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed authentication") }'

    response = post(api, {"pattern": pattern, "events": [LOGIN_FAILED, LOGIN_OK, "not json"]})

    assert response.status_code == 200
    assert response.json() == {"valid": True, "matches": [True, False, False]}


def test_every_kind_of_pattern_is_understood(api: Client) -> None:
    events = ["ERROR 419 MISSING ARGUMENTS", "ERROR 400 BAD REQUEST", "INFO 200 fine"]
    answers = {
        "ERROR -ARGUMENTS": [False, True, False],
        "%MISS.NG%": [True, False, False],
        "[level, code > 399, ...]": [True, True, False],
        "{ $.level = ERROR }": [False, False, False],
        "": [True, True, True],
    }
    for pattern, expected in answers.items():
        response = post(api, {"pattern": pattern, "events": events})
        assert response.json() == {"valid": True, "matches": expected}, pattern


def test_an_invalid_pattern_answers_400_with_the_error_and_its_position(api: Client) -> None:
    response = post(api, {"pattern": "{ $.eventName }", "events": [LOGIN_FAILED]})

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"valid", "error", "position"}
    assert body["valid"] is False
    assert body["position"] == 14
    assert body["error"].startswith("expected a comparison operator after $.eventName")


def test_a_pattern_over_the_length_limit_is_an_invalid_pattern(api: Client) -> None:
    response = post(api, {"pattern": "x" * 1025, "events": []})

    assert response.status_code == 400
    assert response.json() == {
        "valid": False,
        "error": "a filter pattern is at most 1024 characters (this one has 1025)",
        "position": 1024,
    }


def test_no_events_is_an_empty_answer(api: Client) -> None:
    response = post(api, {"pattern": "ERROR", "events": []})
    assert response.json() == {"valid": True, "matches": []}


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"events": []}, "pattern", "This field is required."),
        ({"pattern": None, "events": []}, "pattern", "This field may not be null."),
        ({"pattern": 5, "events": []}, "pattern", "Not a valid string."),
        ({"pattern": "ERROR"}, "events", "This field is required."),
        ({"pattern": "ERROR", "events": "one event"}, "events", "Expected a list of items"),
    ],
)
def test_a_malformed_body_answers_400_naming_the_field(
    api: Client, body: dict[str, Any], field: str, message: str
) -> None:
    response = post(api, body)

    assert response.status_code == 400
    assert message in json.dumps(response.json()[field])


def test_an_event_that_is_not_a_string_is_refused(api: Client) -> None:
    response = post(api, {"pattern": "ERROR", "events": ["ok", {"eventName": "X"}]})

    assert response.status_code == 400
    assert response.json() == {"events": {"1": ["Not a valid string."]}}


def test_too_many_events_are_refused_saying_the_limit(api: Client) -> None:
    response = post(api, {"pattern": "ERROR", "events": ["ERROR"] * (MAX_EVENTS + 1)})

    assert response.status_code == 400
    assert response.json() == {
        "events": [f"Ensure this field has no more than {MAX_EVENTS} elements."]
    }


def test_events_too_large_in_all_are_refused_saying_the_limit(api: Client) -> None:
    half = "x" * (MAX_EVENTS_CHARS // 2 + 1)

    response = post(api, {"pattern": "ERROR", "events": [half, half]})

    assert response.status_code == 400
    assert response.json() == {
        "events": ["The events hold 1,000,002 characters; at most 1,000,000 in all."]
    }


def test_signing_in_is_required(user: Any) -> None:
    body = {"pattern": "ERROR", "events": ["ERROR"]}

    assert post(Client(), body).status_code == 401
    bad_token = Client(headers={"Authorization": "Token not-a-real-token"})
    assert post(bad_token, body).status_code == 401

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    assert post(browser, body).status_code == 403  # a session needs the CSRF token
    browser.get("/incidents/")  # a dashboard page sets the CSRF cookie
    token = browser.cookies["csrftoken"].value
    response = browser.post(
        URL, data=json.dumps(body), content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert response.json() == {"valid": True, "matches": [True]}


def test_the_schema_documents_the_request_and_both_answers() -> None:
    schema, warnings = schema_with_warnings()

    operation = schema["paths"][URL]["post"]
    assert operation["operationId"] == "filter_patterns_test"
    components = schema["components"]["schemas"]
    request = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert set(components[request.rsplit("/", 1)[1]]["required"]) == {"pattern", "events"}
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert set(components[ok.rsplit("/", 1)[1]]["properties"]) == {"valid", "matches"}
    # 400: an invalid pattern, or (a malformed body) DRF's field errors.
    refusal = operation["responses"]["400"]["content"]["application/json"]["schema"]["$ref"]
    bad, field_errors = (one["$ref"] for one in components[refusal.rsplit("/", 1)[1]]["oneOf"])
    assert set(components[bad.rsplit("/", 1)[1]]["properties"]) == {
        "valid",
        "error",
        "position",
    }
    assert field_errors == "#/components/schemas/ValidationError"
    assert [w for w in warnings if "aws/api.py" in w or "FilterPattern" in w] == []
