"""Setup choices AWS would refuse are refused first, with the reason; names are stable."""

from __future__ import annotations

import pytest

from aws.detections import DETECTIONS, detection_by_id
from aws.setup import DELIVERY_POLICY, SetupError, delivery_retry_seconds
from tests.aws.setup_helpers import make_spec


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"integration_url": "ftp://klaxon.example.com/in/x/"}, "http:// or https://"),
        ({"integration_url": "https:///in/x/"}, "http:// or https://"),
        ({"integration_url": "https://klaxon.example.com/in/x/\nevil"}, "control characters"),
        ({"integration_url": "https://klaxon.example.com/in/a b/"}, "spaces"),
        ({"region": "Europe"}, "region"),
        ({"region": "eu-west-1; rm -rf /"}, "region"),
        ({"log_group": "CloudTrail logs"}, "log group"),
        ({"log_group": ""}, "log group"),
        ({"log_group": "x" * 513}, "log group"),
        ({"prefix": "-klaxon"}, "prefix"),
        ({"prefix": "k" * 41}, "prefix"),
        ({"topic_name": "alarms.fifo"}, "topic name"),
        ({"alarm_email": "not an address"}, "email"),
        ({"detections": (detection_by_id("cis-cloudwatch-1"),) * 2}, "once"),
        ({"detections": ()}, "at least one detection"),
    ],
)
def test_invalid_choice_is_refused_with_the_reason(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(SetupError, match=message):
        make_spec(**changes)


def test_eventbridge_alone_is_a_valid_setup() -> None:
    spec = make_spec(detections=(), include_eventbridge=True)
    assert spec.rule == "klaxon-cloudtrail-events"


def test_names_derive_from_prefix_and_detection_id_only() -> None:
    spec = make_spec(prefix="acme-prod", integration_name="Anything at all")
    detection = detection_by_id("cis-cloudwatch-6")
    assert spec.alarm_name(detection) == "acme-prod-cis-cloudwatch-6"
    assert spec.topic == "acme-prod-alarms"
    assert spec.queue == "acme-prod-undelivered"
    assert make_spec(topic_name="security-alarms").topic == "security-alarms"


def test_names_fit_aws_limits_for_the_longest_prefix() -> None:
    spec = make_spec(prefix="p" * 40, topic_name="t" * 200)
    assert len(spec.queue) <= 80  # SQS queue names
    assert len(spec.rule) <= 64  # EventBridge rule names
    assert len(spec.email_topic) <= 256  # SNS topic names
    assert all(len(spec.alarm_name(d)) <= 255 for d in DETECTIONS)


def test_alarm_description_fits_cloudwatch_limit() -> None:
    spec = make_spec()
    assert all(len(spec.alarm_description(d)) <= 1024 for d in DETECTIONS)


def test_description_is_one_line_whatever_the_integration_name() -> None:
    spec = make_spec(integration_name="Prod\n$(reboot)\r\u2028alarms")
    assert "\n" not in spec.description and "\r" not in spec.description
    assert "\u2028" not in spec.description


def test_protocol_follows_the_url() -> None:
    assert make_spec().protocol == "https"
    assert make_spec(integration_url="http://127.0.0.1:8000/in/x/").protocol == "http"


def test_delivery_policy_retries_for_about_an_hour_within_sns_limits() -> None:
    retry = DELIVERY_POLICY["healthyRetryPolicy"]
    # SNS: numRetries 0-100, 1 <= minDelayTarget <= maxDelayTarget <= 3600, and the
    # phases cannot add up to more retries than numRetries.
    assert 0 <= retry["numRetries"] <= 100
    assert 1 <= retry["minDelayTarget"] <= retry["maxDelayTarget"] <= 3600
    phases = retry["numNoDelayRetries"] + retry["numMinDelayRetries"] + retry["numMaxDelayRetries"]
    assert phases <= retry["numRetries"]
    assert retry["backoffFunction"] in ("arithmetic", "exponential", "geometric", "linear")
    # The whole policy may not exceed 3,600 s; it should come close.
    assert 55 * 60 <= delivery_retry_seconds() <= 3600
    # Once Klaxon is back, a retried message arrives within a minute.
    assert retry["maxDelayTarget"] <= 60


def test_retry_time_counts_each_phase() -> None:
    policy = {
        "healthyRetryPolicy": {
            "numRetries": 10,
            "numNoDelayRetries": 2,
            "minDelayTarget": 10,
            "numMinDelayRetries": 1,
            "maxDelayTarget": 30,
            "numMaxDelayRetries": 3,
            "backoffFunction": "linear",
        }
    }
    # 2 immediate + 1 x 10 s + 4 backoff from 10 to 30 s (average 20) + 3 x 30 s
    assert delivery_retry_seconds(policy) == 0 + 10 + 80 + 90
