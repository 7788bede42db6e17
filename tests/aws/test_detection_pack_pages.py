"""The detection pack on a page and at GET /api/v1/detections/."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from pytest_django.asserts import assertContains
from rest_framework.authtoken.models import Token

from aws.detections import DETECTIONS, detection_by_id
from tests.aws.conftest import client_for
from tests.openapi import schema_with_warnings

pytestmark = pytest.mark.django_db


def test_the_page_lists_every_detection_with_its_exact_pattern(viewer: Any) -> None:
    page = client_for(viewer).get("/aws/detections/")

    assert page.status_code == 200
    html = page.content.decode()
    for detection in DETECTIONS:
        assert f'id="{detection.id}"' in html
        escaped = (
            detection.filter_pattern.replace("&", "&amp;")
            .replace("<", "&lt;")
            .replace(">", "&gt;")
            .replace('"', "&quot;")
            .replace("'", "&#x27;")
        )
        assert f'<code id="pattern-{detection.id}">{escaped}</code>' in html, detection.id
        assert f'data-copy="pattern-{detection.id}"' in html
        assert f"/aws/patterns/?detection={detection.id}" in html


def test_the_page_shows_why_metric_threshold_remediation_and_aliases(viewer: Any) -> None:
    page = client_for(viewer).get("/aws/detections/")
    detection = detection_by_id("cis-cloudwatch-6")

    assertContains(page, "Console sign-in failures")
    assertContains(page, detection.metric_name)
    assertContains(page, "3 matching events in 5 minutes")
    assertContains(page, "CloudWatch.6 (CIS AWS Foundations 1.2.0, 3.6)")
    assertContains(page, "<code>CloudTrailConsoleSignInFailures</code>", html=True)
    assertContains(page, detection.remediation.split(".")[0])


def test_signed_out_visitors_are_sent_to_sign_in(client: Client) -> None:
    response = client.get("/aws/detections/")

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.fixture
def api(viewer: Any) -> Client:
    return Client(headers={"Authorization": f"Token {Token.objects.create(user=viewer).key}"})


def test_the_api_lists_every_detection_with_its_id_and_fields(api: Client) -> None:
    response = api.get("/api/v1/detections/")

    assert response.status_code == 200
    body = response.json()
    assert [item["id"] for item in body] == [d.id for d in DETECTIONS]
    six = body[[d.id for d in DETECTIONS].index("cis-cloudwatch-6")]
    detection = detection_by_id("cis-cloudwatch-6")
    assert six["filter_pattern"] == detection.filter_pattern
    assert six["severity"] == "medium"
    assert (six["metric_name"], six["namespace"]) == (detection.metric_name, "Klaxon/CloudTrail")
    assert (six["threshold"], six["period"], six["evaluation_periods"]) == (3, 300, 1)
    assert six["opsgenie_alarm"] == "CloudTrailConsoleSignInFailures"
    assert six["security_hub_control"] == "CloudWatch.6"
    assert six["why"] and six["remediation"]
    assert "signin-failure-wrong-password" in six["must_match"]


def test_one_detection_by_id_and_an_unknown_id_is_404(api: Client) -> None:
    assert api.get("/api/v1/detections/cis-cloudwatch-1/").json()["title"] == "Root user activity"
    missing = api.get("/api/v1/detections/no-such-thing/")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "No detection with id 'no-such-thing'."}


def test_the_api_needs_a_signed_in_user(client: Client) -> None:
    assert client.get("/api/v1/detections/").status_code in (401, 403)


def test_the_schema_documents_the_detection_endpoints() -> None:
    schema, warnings = schema_with_warnings()

    assert not warnings
    listing = schema["paths"]["/api/v1/detections/"]["get"]["responses"]["200"]
    assert listing["content"]["application/json"]["schema"]["type"] == "array"
    detail = schema["paths"]["/api/v1/detections/{id}/"]["get"]
    assert "404" in detail["responses"]
    fields = schema["components"]["schemas"]["Detection"]["properties"]
    assert {"id", "filter_pattern", "severity", "opsgenie_alarm", "remediation"} <= set(fields)
