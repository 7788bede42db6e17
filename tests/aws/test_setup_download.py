"""The generated AWS setup per integration: downloaded from the API and the integration
page, with the integration's URL in it and clear 400s naming the bad parameter."""

from __future__ import annotations

import json
from typing import Any

import hcl2
import pytest
from django.test import Client
from pytest_django.asserts import assertContains, assertNotContains
from rest_framework.authtoken.models import Token

from aws.detections import DETECTIONS
from integrations.models import Integration
from tests.aws.conftest import client_for
from tests.factories import IntegrationFactory
from tests.openapi import schema_with_warnings

pytestmark = pytest.mark.django_db

CIS_IDS = [d.id for d in DETECTIONS if d.security_hub_control]


@pytest.fixture
def integration(settings: Any) -> Integration:
    settings.KLAXON_BASE_URL = "https://klaxon.example.com"
    integration: Integration = IntegrationFactory(name="Prod alarms")
    return integration


def api_client(user: Any) -> Client:
    return Client(headers={"Authorization": f"Token {Token.objects.create(user=user).key}"})


def setup_url(integration: Integration) -> str:
    return f"/api/v1/integrations/{integration.pk}/aws-setup/"


def filters_in(template: dict[str, Any]) -> list[str]:
    return sorted(
        r["Properties"]["FilterName"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Logs::MetricFilter"
    )


def test_a_viewer_downloads_the_cloudformation_template_with_every_cis_detection(
    integration: Integration, viewer: Any
) -> None:
    response = api_client(viewer).get(
        setup_url(integration), {"format": "cloudformation", "log_group": "CloudTrail/Prod"}
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == (
        'attachment; filename="klaxon-prod-alarms-cloudformation.json"'
    )
    assert "no-store" in response["Cache-Control"]
    template = json.loads(response.content)
    assert filters_in(template) == sorted(f"klaxon-{i}" for i in CIS_IDS)
    subscription = next(
        r for r in template["Resources"].values() if r["Type"] == "AWS::SNS::Subscription"
    )
    assert subscription["Properties"]["Endpoint"] == integration.url
    assert all(
        r["Properties"]["LogGroupName"] == "CloudTrail/Prod"
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Logs::MetricFilter"
    )


def test_the_cli_script_with_chosen_detections_region_prefix_and_email(
    integration: Integration, viewer: Any
) -> None:
    response = api_client(viewer).get(
        setup_url(integration),
        {
            "format": "cli",
            "log_group": "CloudTrail/Prod",
            "detections": "cis-cloudwatch-6,ec2-instance-state-changes",
            "region": "eu-west-1",
            "prefix": "prod",
            "alarm_email": "oncall@example.com",
            "eventbridge": "true",
        },
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="klaxon-prod-alarms-setup.sh"'
    script = response.content.decode()
    assert script.startswith("#!")
    assert "prod-cis-cloudwatch-6" in script and "prod-ec2-instance-state-changes" in script
    assert "prod-cis-cloudwatch-1" not in script
    assert "eu-west-1" in script and "oncall@example.com" in script
    assert "put-rule" in script  # the EventBridge rule
    assert integration.url in script


def test_the_terraform_file_parses_and_names_the_integration_url(
    integration: Integration, viewer: Any
) -> None:
    response = api_client(viewer).get(
        setup_url(integration),
        {"format": "terraform", "log_group": "CloudTrail/Prod", "detections": "cis-cloudwatch-1"},
    )

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="klaxon-prod-alarms.tf"'
    parsed = hcl2.loads(response.content.decode())
    assert parsed["resource"]
    assert integration.url in response.content.decode()


@pytest.mark.parametrize(
    ("params", "parameter", "words"),
    [
        ({"format": "cli", "log_group": "g", "detections": "cis-cloudwatch-1,nope"},
         "detections", "unknown detection id 'nope'"),
        ({"format": "cli", "log_group": "bad group name!"}, "log_group", "log group name"),
        ({"format": "pdf", "log_group": "g"}, "format", "'pdf' is not one of"),
        ({"log_group": "g"}, "format", "required"),
        ({"format": "cli"}, "log_group", "required"),
        ({"format": "cli", "log_group": "g", "region": "mars-1"}, "region", "not an AWS region"),
        ({"format": "cli", "log_group": "g", "eventbridge": "maybe"}, "eventbridge",
         "not true or false"),
        ({"format": "cli", "log_group": "g", "alarm_email": "nobody"}, "alarm_email",
         "not an email"),
        ({"format": "cli", "log_group": "g", "prefix": "-x"}, "prefix", "prefix must"),
        ({"format": "cli", "log_group": "g", "detections": ""}, "detections",
         "at least one detection"),
    ],
)  # fmt: skip
def test_a_bad_parameter_answers_400_naming_it(
    integration: Integration, viewer: Any, params: dict[str, str], parameter: str, words: str
) -> None:
    response = api_client(viewer).get(setup_url(integration), params)

    assert response.status_code == 400
    body = response.json()
    assert list(body) == [parameter]
    assert words in body[parameter][0]


def test_signed_out_is_refused_and_an_unknown_integration_is_404(
    integration: Integration, client: Client, viewer: Any
) -> None:
    params = {"format": "cli", "log_group": "g"}
    assert client.get(setup_url(integration), params).status_code in (401, 403)

    missing = api_client(viewer).get("/api/v1/integrations/999999/aws-setup/", params)
    assert missing.status_code == 404


def test_the_schema_documents_parameters_and_both_file_types() -> None:
    schema, warnings = schema_with_warnings()

    assert not warnings
    operation = schema["paths"]["/api/v1/integrations/{id}/aws-setup/"]["get"]
    names = {p["name"]: p for p in operation["parameters"]}
    assert {"format", "detections", "log_group", "region", "eventbridge", "alarm_email"} <= set(
        names
    )
    assert names["format"]["schema"]["enum"] == ["cli", "cloudformation", "terraform"]
    assert set(operation["responses"]["200"]["content"]) == {"application/json", "text/plain"}
    assert "400" in operation["responses"]


# ------------------------------------------------------------------------- the page


def test_the_integration_page_offers_the_setup_with_the_cis_detections_ticked(
    integration: Integration, viewer: Any
) -> None:
    page = client_for(viewer).get(integration.get_absolute_url())

    assertContains(page, "Set up in AWS")
    assertContains(page, f'action="/aws/integrations/{integration.pk}/setup/"')
    for detection in DETECTIONS:
        box = f'name="detections" value="{detection.id}"'
        assert box + (" checked" if detection.security_hub_control else ">") in (
            page.content.decode()
        ), detection.id
    for label in ("CloudFormation template", "AWS CLI script", "Terraform file"):
        assertContains(page, f"Download {label}")
    assertContains(page, "AlarmActions and OKActions")
    assertContains(page, "dead-letter queue")
    assertContains(page, "EventBridge rule")
    # The short guide keeps the one command for an existing topic.
    assertContains(page, "aws sns subscribe")
    assertNotContains(page, "put-metric-filter")


def test_the_page_form_downloads_the_file(integration: Integration, viewer: Any) -> None:
    response = client_for(viewer).get(
        f"/aws/integrations/{integration.pk}/setup/",
        {
            "detections": ["", "cis-cloudwatch-6", "cis-cloudwatch-1"],
            "log_group": "CloudTrail/Prod",
            "region": "us-east-1",
            "prefix": "klaxon",
            "alarm_email": "",
            "format": "cloudformation",
        },
    )

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert filters_in(json.loads(response.content)) == [
        "klaxon-cis-cloudwatch-1",
        "klaxon-cis-cloudwatch-6",
    ]


def test_the_page_form_shows_a_bad_choice_in_words_and_keeps_the_choices(
    integration: Integration, viewer: Any
) -> None:
    response = client_for(viewer).get(
        f"/aws/integrations/{integration.pk}/setup/",
        {"detections": ["", "cis-cloudwatch-6"], "log_group": "no spaces please", "format": "cli"},
    )

    assert response.status_code == 400
    assertContains(response, "<strong>log_group</strong>", status_code=400)
    assertContains(response, "log group name must be", status_code=400)
    assertContains(response, 'value="no spaces please"', status_code=400)
    assertContains(response, 'value="cis-cloudwatch-6" checked', status_code=400)
    assertNotContains(response, 'value="cis-cloudwatch-1" checked', status_code=400)
