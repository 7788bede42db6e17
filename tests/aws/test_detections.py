"""The detection pack holds the CIS and Opsgenie facts exactly and stays well formed."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from aws.cloudtrail_samples import SAMPLES
from aws.detections import DETECTIONS, SEVERITIES, Detection, detection_by_id

FACTS: dict[str, Any] = json.loads(
    (Path(__file__).parent.parent / "fixtures" / "aws" / "cloudtrail_alarm_sets.json").read_text()
)
CIS_CONTROLS: list[dict[str, Any]] = FACTS["aws_security_hub_cis"]["controls"]
OPSGENIE: dict[str, Any] = FACTS["opsgenie_cloudtrail_template"]
SAMPLE_IDS = {sample.id for sample in SAMPLES}


def _by_control(control: str) -> Detection:
    found = [d for d in DETECTIONS if d.security_hub_control == control]
    assert len(found) == 1, f"{control}: {len(found)} detections"
    return found[0]


@pytest.mark.parametrize("control", CIS_CONTROLS, ids=lambda c: c["control"])
def test_cis_control_uses_the_exact_security_hub_string(control: dict[str, Any]) -> None:
    detection = _by_control(control["control"])
    # Security Hub compares the metric filter's pattern text itself.
    assert detection.filter_pattern.encode() == control["FilterPattern"].encode()
    assert detection.cis_control == control["cis_v1_2"]
    assert detection.id == "cis-" + control["control"].lower().replace(".", "-")


def test_every_security_hub_cloudwatch_control_is_in_the_pack() -> None:
    controls = {d.security_hub_control for d in DETECTIONS if d.security_hub_control}
    assert controls == {f"CloudWatch.{n}" for n in range(1, 15)}


@pytest.mark.parametrize("alarm", OPSGENIE["alarms"], ids=lambda a: a["AlarmName"])
def test_each_opsgenie_alarm_is_one_detection(alarm: dict[str, Any]) -> None:
    found = [d for d in DETECTIONS if d.opsgenie_alarm == alarm["AlarmName"]]
    assert len(found) == 1
    detection = found[0]
    assert detection.threshold == alarm["Threshold"]
    assert detection.period == OPSGENIE["alarm_defaults"]["Period"]
    assert detection.evaluation_periods == OPSGENIE["alarm_defaults"]["EvaluationPeriods"]
    if detection.security_hub_control:
        # Merged into a CIS control: the same pattern but for spacing, CIS's text kept.
        assert re.sub(r"\s", "", detection.filter_pattern) == re.sub(
            r"\s", "", alarm["FilterPattern"]
        )
    else:
        assert detection.filter_pattern == alarm["FilterPattern"]


def test_the_pack_merges_duplicates_into_about_25_detections() -> None:
    assert 20 <= len(DETECTIONS) <= 30
    merged = [d for d in DETECTIONS if d.opsgenie_alarm and d.security_hub_control]
    assert len(merged) == 8


def test_the_lecture_checks_are_marked() -> None:
    lecture = {d.id for d in DETECTIONS if d.in_lecture}
    assert lecture == {
        "ec2-instance-state-changes",
        "cis-cloudwatch-2",  # failed authorization
        "cis-cloudwatch-10",  # security groups
        "cis-cloudwatch-11",  # NACLs
        "cis-cloudwatch-4",  # IAM policies
        "cis-cloudwatch-8",  # S3 bucket policies
        "cis-cloudwatch-6",  # console sign-in failures
    }


def test_ids_and_metric_names_are_unique_and_readable() -> None:
    ids = [d.id for d in DETECTIONS]
    metrics = [(d.namespace, d.metric_name) for d in DETECTIONS]
    assert len(set(ids)) == len(ids)
    assert len(set(metrics)) == len(metrics)
    for detection in DETECTIONS:
        assert re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", detection.id)
        assert re.fullmatch(r"[A-Z][A-Za-z0-9]{2,254}", detection.metric_name)
        assert not detection.namespace.startswith("AWS/")


@pytest.mark.parametrize("detection", DETECTIONS, ids=lambda d: d.id)
def test_detection_is_complete(detection: Detection) -> None:
    assert detection.title and detection.why and detection.remediation
    assert detection.severity in SEVERITIES
    assert detection.threshold >= 1
    # CloudWatch accepts 10, 30 and multiples of 60 seconds.
    assert detection.period in (10, 30) or detection.period % 60 == 0
    assert detection.evaluation_periods >= 1
    # CloudWatch Logs limits a filter pattern to 1,024 characters.
    assert 0 < len(detection.filter_pattern) <= 1024
    assert detection.references


@pytest.mark.parametrize("detection", DETECTIONS, ids=lambda d: d.id)
def test_detection_names_samples_that_exist(detection: Detection) -> None:
    assert detection.must_match, "every detection fires on at least one sample"
    assert detection.must_not_match, "and shows at least one it leaves alone"
    assert set(detection.must_match) <= SAMPLE_IDS
    assert set(detection.must_not_match) <= SAMPLE_IDS
    assert not set(detection.must_match) & set(detection.must_not_match)


def test_readme_lists_every_detection() -> None:
    readme = (Path(__file__).parent.parent.parent / "README.md").read_text()
    missing = [d.id for d in DETECTIONS if f"| `{d.id}` | {d.title} |" not in readme]
    assert missing == []


def test_label_names_the_cis_recommendation() -> None:
    assert detection_by_id("cis-cloudwatch-6").label == "CIS 3.6 Console sign-in failures"
    assert detection_by_id("iam-mfa-removed").label == "MFA devices deactivated or deleted"


def test_unknown_detection_id_is_refused_by_name() -> None:
    with pytest.raises(KeyError, match="no-such-check"):
        detection_by_id("no-such-check")
