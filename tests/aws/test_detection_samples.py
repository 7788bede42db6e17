"""Each detection's pattern, run by the filter-pattern engine over the sample library.

A detection fires on every sample in its ``must_match`` list, on none in its
``must_not_match`` list, and on nothing else in the library: ``must_match`` is the
complete list the pages show.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aws import filter_patterns
from aws.cloudtrail_samples import SAMPLES, sample_by_id
from aws.detections import DETECTIONS, Detection

OPSGENIE: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent.parent / "fixtures" / "aws" / "cloudtrail_alarm_sets.json").read_text()
)["opsgenie_cloudtrail_template"]["alarms"]


@pytest.mark.parametrize("detection", DETECTIONS, ids=lambda d: d.id)
def test_detection_fires_on_its_samples(detection: Detection) -> None:
    missed = [
        s
        for s in detection.must_match
        if not filter_patterns.matches(detection.filter_pattern, sample_by_id(s).message)
    ]
    assert missed == []


@pytest.mark.parametrize("detection", DETECTIONS, ids=lambda d: d.id)
def test_detection_leaves_its_near_misses_alone(detection: Detection) -> None:
    fired = [
        s
        for s in detection.must_not_match
        if filter_patterns.matches(detection.filter_pattern, sample_by_id(s).message)
    ]
    assert fired == []


@pytest.mark.parametrize("detection", DETECTIONS, ids=lambda d: d.id)
def test_detection_fires_on_nothing_else_in_the_library(detection: Detection) -> None:
    fired = {s.id for s in SAMPLES if filter_patterns.matches(detection.filter_pattern, s.message)}
    assert fired == set(detection.must_match)


@pytest.mark.parametrize("alarm", OPSGENIE, ids=lambda a: a["AlarmName"])
def test_opsgenie_pattern_and_ours_agree_on_every_sample(alarm: dict[str, Any]) -> None:
    (detection,) = [d for d in DETECTIONS if d.opsgenie_alarm == alarm["AlarmName"]]
    theirs = [filter_patterns.matches(alarm["FilterPattern"], s.message) for s in SAMPLES]
    ours = [filter_patterns.matches(detection.filter_pattern, s.message) for s in SAMPLES]
    assert ours == theirs
