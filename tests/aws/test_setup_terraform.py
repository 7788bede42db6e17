"""The Terraform file is well-formed HCL (python-hcl2 parses it) with the right resources.

There is no terraform binary here; parsing proves the syntax and the escaping, and the
assertions check what each resource says.
"""

from __future__ import annotations

import json
from typing import Any

import hcl2
import pytest
from hcl2.utils import SerializationOptions

from aws.detections import DETECTIONS, detection_by_id
from aws.setup import DELIVERY_POLICY, SetupSpec, terraform
from aws.setup.terraform import hcl_string, resource_name
from tests.aws.setup_helpers import URL, full_spec, make_spec

_OPTIONS = SerializationOptions(
    strip_string_quotes=True, explicit_blocks=False, with_comments=False
)
TOPIC = "${aws_sns_topic.alarms.arn}"


def _literal(text: str) -> str:
    # hcl2 resolves backslash escapes; "$${" and "%%{" are HCL's literal "${" and "%{".
    return text.replace("$${", "${").replace("%%{", "%{")


def _jsonencoded(value: str) -> Any:
    """The document inside ``jsonencode(...)``, parsed as HCL."""
    assert value.startswith("${jsonencode(") and value.endswith(")}"), value
    return hcl2.loads("x = " + value[len("${jsonencode(") : -2], serialization_options=_OPTIONS)[
        "x"
    ]


def _parse(spec: SetupSpec) -> dict[str, dict[str, dict[str, Any]]]:
    """``{resource type: {name: body}}`` from the generated file."""
    document = hcl2.loads(terraform(spec), serialization_options=_OPTIONS)
    resources: dict[str, dict[str, dict[str, Any]]] = {}
    for entry in document["resource"]:
        for kind, named in entry.items():
            resources.setdefault(kind, {}).update(named)
    return resources


@pytest.mark.parametrize("spec", [make_spec(), full_spec()], ids=["two-detections", "everything"])
def test_file_parses_as_hcl_with_provider_and_region(spec: SetupSpec) -> None:
    document = hcl2.loads(terraform(spec), serialization_options=_OPTIONS)
    assert document["provider"] == [{"aws": {"region": spec.region}}]
    providers = document["terraform"][0]["required_providers"][0]
    assert providers["aws"]["source"] == "hashicorp/aws"


def test_each_detection_gets_a_filter_and_an_alarm_to_the_topic() -> None:
    spec = full_spec()
    resources = _parse(spec)
    assert len(resources["aws_cloudwatch_log_metric_filter"]) == len(DETECTIONS)
    for detection in DETECTIONS:
        name = resource_name(detection)
        metric_filter = resources["aws_cloudwatch_log_metric_filter"][name]
        assert metric_filter["name"] == f"klaxon-{detection.id}"
        assert metric_filter["log_group_name"] == spec.log_group
        assert _literal(metric_filter["pattern"]) == detection.filter_pattern
        assert metric_filter["metric_transformation"] == [
            {"name": detection.metric_name, "namespace": detection.namespace, "value": "1"}
        ]
        alarm = resources["aws_cloudwatch_metric_alarm"][name]
        assert alarm["alarm_name"] == f"klaxon-{detection.id}"
        assert (alarm["namespace"], alarm["metric_name"]) == (
            detection.namespace,
            detection.metric_name,
        )
        assert alarm["statistic"] == "Sum"
        assert alarm["comparison_operator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["threshold"] == detection.threshold
        assert alarm["period"] == detection.period
        assert alarm["alarm_actions"] == [TOPIC]
        assert alarm["ok_actions"] == [TOPIC]


def test_subscription_retries_an_hour_into_the_dead_letter_queue() -> None:
    resources = _parse(make_spec())
    subscription = resources["aws_sns_topic_subscription"]["klaxon"]
    assert subscription["topic_arn"] == TOPIC
    assert subscription["protocol"] == "https"
    assert _literal(subscription["endpoint"]) == URL
    assert subscription["endpoint_auto_confirms"] is True
    assert _jsonencoded(subscription["delivery_policy"]) == DELIVERY_POLICY
    assert _jsonencoded(subscription["redrive_policy"]) == {
        "deadLetterTargetArn": "${aws_sqs_queue.undelivered.arn}"
    }
    queue = resources["aws_sqs_queue"]["undelivered"]
    assert queue == {"name": "klaxon-undelivered", "message_retention_seconds": 14 * 24 * 3600}
    policy = _jsonencoded(resources["aws_sqs_queue_policy"]["undelivered"]["policy"])
    (statement,) = policy["Statement"]
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": TOPIC}}
    alarm = resources["aws_cloudwatch_metric_alarm"]["undelivered"]
    assert alarm["dimensions"] == {"QueueName": "${aws_sqs_queue.undelivered.name}"}
    assert alarm["alarm_actions"] == [TOPIC]


def test_eventbridge_rule_and_its_publish_permission_only_when_asked() -> None:
    assert "aws_cloudwatch_event_rule" not in _parse(make_spec())
    resources = _parse(make_spec(include_eventbridge=True))
    rule = resources["aws_cloudwatch_event_rule"]["cloudtrail"]
    pattern = _jsonencoded(rule["event_pattern"])
    assert pattern == {
        "detail-type": ["AWS API Call via CloudTrail", "AWS Console Sign In via CloudTrail"]
    }
    target = resources["aws_cloudwatch_event_target"]["cloudtrail"]
    assert target["arn"] == TOPIC
    policy = _jsonencoded(resources["aws_sns_topic_policy"]["alarms"]["policy"])
    services = [s["Principal"]["Service"] for s in policy["Statement"]]
    assert services == ["cloudwatch.amazonaws.com", "events.amazonaws.com"]


def test_alarm_email_gets_its_own_topic_on_the_queue_alarm() -> None:
    resources = _parse(make_spec(alarm_email="oncall@example.com"))
    assert resources["aws_sns_topic_subscription"]["email"]["endpoint"] == "oncall@example.com"
    alarm = resources["aws_cloudwatch_metric_alarm"]["undelivered"]
    assert alarm["alarm_actions"] == [TOPIC, "${aws_sns_topic.email.arn}"]


def test_awkward_values_are_escaped_not_interpolated() -> None:
    url = 'https://klaxon.example.com/in/a"b\\c?x=${var.secret}&y=%{if_true}z%{endif}'
    spec = make_spec(integration_url=url, integration_name='Prod "x"\n} resource "evil" {')
    resources = _parse(spec)
    assert _literal(resources["aws_sns_topic_subscription"]["klaxon"]["endpoint"]) == url
    assert set(resources) >= {"aws_sns_topic", "aws_sqs_queue"}
    assert not any("evil" in name for name in resources)


def test_hcl_string_escapes() -> None:
    assert hcl_string('a"b\\c\nd${e}%{f}') == '"a\\"b\\\\c\\nd$${e}%%{f}"'
    assert hcl_string("\x01") == '"\\u0001"'
    assert json.loads(hcl_string("plain")) == "plain"


def test_resource_names_follow_the_detection_id() -> None:
    assert resource_name(detection_by_id("cis-cloudwatch-14")) == "cis_cloudwatch_14"
