"""The CloudFormation template passes cfn-lint and its resources carry the right properties.

moto's CloudFormation skips metric filters, alarms and subscriptions without a word, so
a moto stack deploy would prove nothing: the template is linted and read instead.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from cfnlint.api import lint

from aws.detections import detection_by_id
from aws.setup import DELIVERY_POLICY, SetupSpec, cloudformation
from aws.setup.cloudformation import logical_id
from tests.aws.setup_helpers import URL, full_spec, make_spec

TOPIC = {"Ref": "AlarmTopic"}
QUEUE_ARN = {"Fn::GetAtt": ["UndeliveredQueue", "Arn"]}


def _template(spec: SetupSpec) -> dict[str, Any]:
    template: dict[str, Any] = json.loads(cloudformation(spec))
    return template


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {
        name: resource["Properties"]
        for name, resource in template["Resources"].items()
        if resource["Type"] == kind
    }


@pytest.mark.parametrize(
    "spec",
    [make_spec(), full_spec(), full_spec(region="us-east-1", prefix="acme")],
    ids=["two-detections", "everything", "everything-us-east-1"],
)
def test_template_passes_cfn_lint(spec: SetupSpec) -> None:
    problems = lint(cloudformation(spec), regions=[spec.region])
    assert [str(problem) for problem in problems] == []


def test_each_chosen_detection_gets_a_filter_and_an_alarm_to_the_topic() -> None:
    spec = make_spec(
        prefix="acme",
        detections=(detection_by_id("cis-cloudwatch-1"), detection_by_id("cis-cloudwatch-6")),
    )
    template = _template(spec)
    filters = _of_type(template, "AWS::Logs::MetricFilter")
    alarms = _of_type(template, "AWS::CloudWatch::Alarm")
    assert len(filters) == 2
    for detection in spec.detections:
        metric_filter = filters[logical_id(detection) + "Filter"]
        assert metric_filter["FilterName"] == f"acme-{detection.id}"
        assert metric_filter["LogGroupName"] == "CloudTrail/DefaultLogGroup"
        assert metric_filter["FilterPattern"] == detection.filter_pattern
        assert metric_filter["MetricTransformations"] == [
            {
                "MetricName": detection.metric_name,
                "MetricNamespace": detection.namespace,
                "MetricValue": "1",
            }
        ]
        alarm = alarms[logical_id(detection) + "Alarm"]
        assert alarm["AlarmName"] == f"acme-{detection.id}"
        assert (alarm["Namespace"], alarm["MetricName"]) == (
            detection.namespace,
            detection.metric_name,
        )
        assert alarm["Statistic"] == "Sum"
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["Threshold"] == detection.threshold
        assert alarm["Period"] == detection.period
        assert alarm["AlarmActions"] == [TOPIC]
        assert alarm["OKActions"] == [TOPIC]
        assert alarm["TreatMissingData"] == "notBreaching"
    assert alarms["CisCloudwatch6Alarm"]["Threshold"] == 3


def test_subscription_to_klaxon_retries_an_hour_then_uses_the_dead_letter_queue() -> None:
    template = _template(make_spec())
    (subscription,) = _of_type(template, "AWS::SNS::Subscription").values()
    assert subscription["TopicArn"] == TOPIC
    assert subscription["Protocol"] == "https"
    assert subscription["Endpoint"] == URL
    assert subscription["DeliveryPolicy"] == DELIVERY_POLICY
    assert subscription["RedrivePolicy"] == {"deadLetterTargetArn": QUEUE_ARN}
    assert _of_type(template, "AWS::SNS::Topic")["AlarmTopic"]["TopicName"] == "klaxon-alarms"


def test_only_this_topic_may_fill_the_dead_letter_queue_and_an_alarm_watches_it() -> None:
    template = _template(make_spec())
    queue = _of_type(template, "AWS::SQS::Queue")["UndeliveredQueue"]
    assert queue["QueueName"] == "klaxon-undelivered"
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600
    (policy,) = _of_type(template, "AWS::SQS::QueuePolicy").values()
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Resource"] == QUEUE_ARN
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": TOPIC}}
    alarm = _of_type(template, "AWS::CloudWatch::Alarm")["UndeliveredQueueAlarm"]
    assert alarm["Namespace"] == "AWS/SQS"
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["UndeliveredQueue", "QueueName"]}}
    ]
    assert alarm["AlarmActions"] == [TOPIC]


def test_topic_policy_lets_only_this_accounts_alarms_publish_without_eventbridge() -> None:
    template = _template(make_spec())
    assert not _of_type(template, "AWS::Events::Rule")
    (policy,) = _of_type(template, "AWS::SNS::TopicPolicy").values()
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    }


def test_eventbridge_rule_sends_cloudtrail_events_to_the_topic_when_asked() -> None:
    template = _template(make_spec(include_eventbridge=True))
    rule = _of_type(template, "AWS::Events::Rule")["CloudTrailEventsRule"]
    assert rule["EventPattern"] == {
        "detail-type": ["AWS API Call via CloudTrail", "AWS Console Sign In via CloudTrail"]
    }
    assert rule["State"] == "ENABLED"
    assert [target["Arn"] for target in rule["Targets"]] == [TOPIC]
    (policy,) = _of_type(template, "AWS::SNS::TopicPolicy").values()
    events = [
        s for s in policy["PolicyDocument"]["Statement"] if s["Sid"] == "EventBridgeCloudTrailRule"
    ]
    assert events[0]["Principal"] == {"Service": "events.amazonaws.com"}
    assert events[0]["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["CloudTrailEventsRule", "Arn"]}}
    }


def test_alarm_email_also_hears_about_undelivered_messages() -> None:
    template = _template(make_spec(alarm_email="oncall@example.com"))
    subscriptions = _of_type(template, "AWS::SNS::Subscription")
    assert subscriptions["EmailSubscription"]["Endpoint"] == "oncall@example.com"
    assert subscriptions["EmailSubscription"]["Protocol"] == "email"
    alarm = _of_type(template, "AWS::CloudWatch::Alarm")["UndeliveredQueueAlarm"]
    assert alarm["AlarmActions"] == [TOPIC, {"Ref": "EmailTopic"}]


def test_awkward_values_arrive_unchanged() -> None:
    url = "https://klaxon.example.com/in/a'b\"c$(x)`y`?q=${z}&r=%{w}"
    spec = make_spec(
        integration_url=url, integration_name='Prod "alarms"\n', log_group="CloudTrail/a#b.c_d-e"
    )
    template = _template(spec)
    (subscription,) = _of_type(template, "AWS::SNS::Subscription").values()
    assert subscription["Endpoint"] == url
    filters = _of_type(template, "AWS::Logs::MetricFilter").values()
    assert {f["LogGroupName"] for f in filters} == {"CloudTrail/a#b.c_d-e"}
    assert "\n" not in template["Description"]


def test_logical_ids_are_stable_names_of_the_detection() -> None:
    assert logical_id(detection_by_id("cis-cloudwatch-6")) == "CisCloudwatch6"
    assert logical_id(detection_by_id("ec2-large-instance-launches")) == "Ec2LargeInstanceLaunches"
