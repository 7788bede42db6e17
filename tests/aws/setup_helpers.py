"""A valid setup choice for tests to vary."""

from __future__ import annotations

from typing import Any

from aws.detections import DETECTIONS, detection_by_id
from aws.setup import SetupSpec

URL = "https://klaxon.example.com/in/Zm9vYmFyYmF6/"


def make_spec(**changes: Any) -> SetupSpec:
    values: dict[str, Any] = {
        "integration_name": "Prod alarms",
        "integration_url": URL,
        "detections": (detection_by_id("cis-cloudwatch-1"), detection_by_id("cis-cloudwatch-6")),
        "log_group": "CloudTrail/DefaultLogGroup",
        "region": "eu-west-1",
    }
    values.update(changes)
    return SetupSpec(**values)


def full_spec(**changes: Any) -> SetupSpec:
    """Every detection, the EventBridge rule and the email alarm: everything there is."""
    values: dict[str, Any] = {
        "detections": DETECTIONS,
        "include_eventbridge": True,
        "alarm_email": "oncall@example.com",
    }
    values.update(changes)
    return make_spec(**values)
