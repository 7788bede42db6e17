"""X-Twilio-Signature checking agrees with Twilio's published test vectors (form bodies,
ports in the URL, repeated keys, JSON bodies with bodySHA256, a tampered parameter)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.http import QueryDict

from notifications.twilio_gateway import signature_is_valid
from tests.conftest import FIXTURES

VECTORS = json.loads((FIXTURES / "twilio/signature_vectors.json").read_text())


def _params(vector: dict[str, Any]) -> Any:
    if "body" in vector:
        return vector["body"]
    if "params_multi" in vector:
        params = QueryDict(mutable=True)
        for key, value in vector["params_multi"]:
            params.appendlist(key, value)
        return params
    return vector["params"]


@pytest.fixture(autouse=True)
def _fixture_token(settings: Any) -> None:
    settings.TWILIO_AUTH_TOKEN = VECTORS["auth_token"]


def test_fixture_has_valid_and_invalid_vectors() -> None:
    # Guards the parametrisation below against an empty or one-sided fixture.
    verdicts = {vector["valid"] for vector in VECTORS["vectors"]}
    assert verdicts == {True, False}
    assert len(VECTORS["vectors"]) >= 8


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["name"])
def test_signature_vector(vector: dict[str, Any]) -> None:
    assert (
        signature_is_valid(vector["uri"], _params(vector), vector["signature"]) is vector["valid"]
    )


@pytest.mark.parametrize(
    "vector", [v for v in VECTORS["vectors"] if v["valid"]], ids=lambda v: v["name"]
)
def test_valid_vector_fails_with_another_token(settings: Any, vector: dict[str, Any]) -> None:
    settings.TWILIO_AUTH_TOKEN = VECTORS["auth_token"] + "x"
    assert not signature_is_valid(vector["uri"], _params(vector), vector["signature"])


def test_json_body_must_match_its_bodysha256() -> None:
    vector = next(v for v in VECTORS["vectors"] if "body" in v)
    tampered = vector["body"].replace("value", "other")
    assert not signature_is_valid(vector["uri"], tampered, vector["signature"])


def test_no_token_configured_rejects_everything(settings: Any) -> None:
    settings.TWILIO_AUTH_TOKEN = ""
    vector = VECTORS["vectors"][0]
    assert not signature_is_valid(vector["uri"], _params(vector), vector["signature"])
