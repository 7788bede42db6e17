"""The generated setup as a CloudFormation template (JSON, no parameters to fill in)."""

from __future__ import annotations

import json
from typing import Any

from aws.detections import Detection
from aws.setup.spec import (
    DELIVERY_POLICY,
    DLQ_RETENTION_SECONDS,
    SetupSpec,
    detection_alarm,
    event_pattern,
    queue_alarm,
    queue_policy,
    redrive_policy,
    topic_policy,
)

__all__ = ["cloudformation", "logical_id"]

_TOPIC = {"Ref": "AlarmTopic"}
_QUEUE_ARN = {"Fn::GetAtt": ["UndeliveredQueue", "Arn"]}
_ACCOUNT = {"Ref": "AWS::AccountId"}


def logical_id(detection: Detection) -> str:
    """``cis-cloudwatch-6`` -> ``CisCloudwatch6``: stable, so stack updates keep resources."""
    return "".join(part.capitalize() for part in detection.id.split("-"))


def _resource(kind: str, properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"Type": kind, **extra, "Properties": properties}


def _detection_resources(spec: SetupSpec, detection: Detection) -> dict[str, Any]:
    name = spec.alarm_name(detection)
    metric_filter = _resource(
        "AWS::Logs::MetricFilter",
        {
            "FilterName": name,
            "LogGroupName": spec.log_group,
            "FilterPattern": detection.filter_pattern,
            "MetricTransformations": [
                {
                    "MetricName": detection.metric_name,
                    "MetricNamespace": detection.namespace,
                    "MetricValue": "1",
                }
            ],
        },
    )
    alarm = _resource(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": name,
            "AlarmDescription": spec.alarm_description(detection),
            **detection_alarm(detection),
            "AlarmActions": [_TOPIC],
            "OKActions": [_TOPIC],
        },
    )
    return {
        f"{logical_id(detection)}Filter": metric_filter,
        f"{logical_id(detection)}Alarm": alarm,
    }


def _delivery_resources(spec: SetupSpec) -> dict[str, Any]:
    """Topic, its policy, the subscription to Klaxon and the dead-letter queue behind it."""
    rule_arn = (
        {"Fn::GetAtt": ["CloudTrailEventsRule", "Arn"]} if spec.include_eventbridge else None
    )
    queue_alarm_actions: list[Any] = [_TOPIC]
    if spec.alarm_email:
        queue_alarm_actions.append({"Ref": "EmailTopic"})
    return {
        "AlarmTopic": _resource("AWS::SNS::Topic", {"TopicName": spec.topic}),
        "AlarmTopicPolicy": _resource(
            "AWS::SNS::TopicPolicy",
            {
                "Topics": [_TOPIC],
                "PolicyDocument": topic_policy(
                    topic_arn=_TOPIC, account_id=_ACCOUNT, rule_arn=rule_arn
                ),
            },
        ),
        "UndeliveredQueue": _resource(
            "AWS::SQS::Queue",
            {"QueueName": spec.queue, "MessageRetentionPeriod": DLQ_RETENTION_SECONDS},
        ),
        "UndeliveredQueuePolicy": _resource(
            "AWS::SQS::QueuePolicy",
            {
                "Queues": [{"Ref": "UndeliveredQueue"}],
                "PolicyDocument": queue_policy(queue_arn=_QUEUE_ARN, topic_arn=_TOPIC),
            },
        ),
        "KlaxonSubscription": _resource(
            "AWS::SNS::Subscription",
            {
                "TopicArn": _TOPIC,
                "Protocol": spec.protocol,
                "Endpoint": spec.integration_url,
                "DeliveryPolicy": DELIVERY_POLICY,
                "RedrivePolicy": redrive_policy(_QUEUE_ARN),
            },
            # SNS checks nothing at subscribe time; the policy must exist before the
            # first message needs the queue.
            DependsOn="UndeliveredQueuePolicy",
        ),
        "UndeliveredQueueAlarm": _resource(
            "AWS::CloudWatch::Alarm",
            {
                "AlarmName": spec.queue_alarm,
                "AlarmDescription": spec.queue_alarm_description,
                **queue_alarm({"Fn::GetAtt": ["UndeliveredQueue", "QueueName"]}),
                "AlarmActions": queue_alarm_actions,
                "OKActions": [_TOPIC],
            },
        ),
    }


def _optional_resources(spec: SetupSpec) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    if spec.include_eventbridge:
        resources["CloudTrailEventsRule"] = _resource(
            "AWS::Events::Rule",
            {
                "Name": spec.rule,
                "Description": "CloudTrail API calls and console sign-ins, to Klaxon",
                "EventPattern": event_pattern(),
                "State": "ENABLED",
                "Targets": [{"Id": "klaxon-alarm-topic", "Arn": _TOPIC}],
            },
        )
    if spec.alarm_email:
        resources["EmailTopic"] = _resource("AWS::SNS::Topic", {"TopicName": spec.email_topic})
        resources["EmailSubscription"] = _resource(
            "AWS::SNS::Subscription",
            {"TopicArn": {"Ref": "EmailTopic"}, "Protocol": "email", "Endpoint": spec.alarm_email},
        )
    return resources


def cloudformation(spec: SetupSpec) -> str:
    """The template as JSON text, ready for ``aws cloudformation deploy``."""
    resources: dict[str, Any] = _delivery_resources(spec)
    for detection in spec.detections:
        resources.update(_detection_resources(spec, detection))
    resources.update(_optional_resources(spec))
    description = spec.description
    if spec.include_eventbridge:
        # IAM and most sign-in events reach EventBridge in us-east-1 only.
        description += "; deploy in us-east-1 to see IAM and sign-in events through EventBridge"
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": description[:1024],
        "Resources": resources,
        "Outputs": {
            "AlarmTopicArn": {"Value": _TOPIC},
            "UndeliveredQueueUrl": {"Value": {"Ref": "UndeliveredQueue"}},
        },
    }
    return json.dumps(template, indent=2, ensure_ascii=False) + "\n"
