"""The generated setup as one Terraform file (hashicorp/aws provider, no variables)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

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

__all__ = ["hcl_string", "resource_name", "terraform"]

_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ESCAPES: Final = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


@dataclass(frozen=True)
class Ref:
    """A Terraform expression written as is (``aws_sns_topic.alarms.arn``)."""

    expression: str


@dataclass(frozen=True)
class JsonEncode:
    """``jsonencode(<value>)``: a JSON document written as an HCL value."""

    value: Any


_TOPIC: Final = Ref("aws_sns_topic.alarms.arn")
_QUEUE_ARN: Final = Ref("aws_sqs_queue.undelivered.arn")


def hcl_string(text: str) -> str:
    """``text`` as a quoted HCL string: escapes, and ``${``/``%{`` kept literal."""
    escaped = "".join(
        _ESCAPES.get(ch, ch if ch.isprintable() else _unicode_escape(ch)) for ch in text
    )
    return '"' + escaped.replace("${", "$${").replace("%{", "%%{") + '"'


def _unicode_escape(ch: str) -> str:
    code = ord(ch)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _value(value: Any, indent: str) -> str:
    if isinstance(value, Ref):
        return value.expression
    if isinstance(value, JsonEncode):
        return f"jsonencode({_value(value.value, indent)})"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return hcl_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(item, indent) for item in value) + "]"
    if isinstance(value, dict):
        inner = indent + "  "
        lines = [f"{inner}{_key(k)} = {_value(v, inner)}" for k, v in value.items()]
        return "{\n" + "\n".join(lines) + f"\n{indent}}}"
    raise TypeError(f"no HCL form for {type(value).__name__}")


def _key(key: str) -> str:
    return key if _IDENTIFIER.fullmatch(key) else hcl_string(key)


def _block(header: str, body: dict[str, Any], indent: str = "") -> str:
    """A block; a dict value whose key starts with ``+`` becomes a nested block."""
    inner = indent + "  "
    attributes = [k for k in body if not k.startswith("+")]
    width = max((len(k) for k in attributes), default=0)
    lines = [f"{indent}{header} {{"]
    for key, value in body.items():
        if key.startswith("+"):
            lines.append(_block(key[1:], value, inner))
        else:
            lines.append(f"{inner}{key.ljust(width)} = {_value(value, inner)}")
    lines.append(f"{indent}}}")
    return "\n".join(lines)


def _alarm_arguments(properties: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation alarm properties as aws_cloudwatch_metric_alarm arguments."""
    arguments: dict[str, Any] = {}
    for key, value in properties.items():
        name = re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()  # MetricName -> metric_name
        if key == "Dimensions":
            value = {dimension["Name"]: dimension["Value"] for dimension in value}
        arguments[name] = value
    return arguments


def resource_name(detection: Detection) -> str:
    """``cis-cloudwatch-6`` -> ``cis_cloudwatch_6``."""
    return detection.id.replace("-", "_")


def _resource(kind: str, name: str, body: dict[str, Any]) -> str:
    return _block(f"resource {hcl_string(kind)} {hcl_string(name)}", body)


def _delivery(spec: SetupSpec) -> list[str]:
    rule_arn = (
        Ref("aws_cloudwatch_event_rule.cloudtrail.arn") if spec.include_eventbridge else None
    )
    account = Ref("data.aws_caller_identity.current.account_id")
    queue_alarm_actions: list[Any] = [_TOPIC]
    if spec.alarm_email:
        queue_alarm_actions.append(Ref("aws_sns_topic.email.arn"))
    return [
        'data "aws_caller_identity" "current" {}',
        _resource("aws_sns_topic", "alarms", {"name": spec.topic}),
        _resource(
            "aws_sns_topic_policy",
            "alarms",
            {
                "arn": _TOPIC,
                "policy": JsonEncode(
                    topic_policy(topic_arn=_TOPIC, account_id=account, rule_arn=rule_arn)
                ),
            },
        ),
        _resource(
            "aws_sqs_queue",
            "undelivered",
            {"name": spec.queue, "message_retention_seconds": DLQ_RETENTION_SECONDS},
        ),
        _resource(
            "aws_sqs_queue_policy",
            "undelivered",
            {
                "queue_url": Ref("aws_sqs_queue.undelivered.id"),
                "policy": JsonEncode(queue_policy(queue_arn=_QUEUE_ARN, topic_arn=_TOPIC)),
            },
        ),
        _resource(
            "aws_sns_topic_subscription",
            "klaxon",
            {
                "topic_arn": _TOPIC,
                "protocol": spec.protocol,
                "endpoint": spec.integration_url,
                # Klaxon confirms the subscription itself; Terraform waits for that.
                "endpoint_auto_confirms": True,
                "confirmation_timeout_in_minutes": 5,
                "delivery_policy": JsonEncode(DELIVERY_POLICY),
                "redrive_policy": JsonEncode(redrive_policy(_QUEUE_ARN)),
                "depends_on": [Ref("aws_sqs_queue_policy.undelivered")],
            },
        ),
        _resource(
            "aws_cloudwatch_metric_alarm",
            "undelivered",
            {
                "alarm_name": spec.queue_alarm,
                "alarm_description": spec.queue_alarm_description,
                **_alarm_arguments(queue_alarm(Ref("aws_sqs_queue.undelivered.name"))),
                "alarm_actions": queue_alarm_actions,
                "ok_actions": [_TOPIC],
            },
        ),
    ]


def _detection(spec: SetupSpec, detection: Detection) -> list[str]:
    name = resource_name(detection)
    return [
        _resource(
            "aws_cloudwatch_log_metric_filter",
            name,
            {
                "name": spec.alarm_name(detection),
                "log_group_name": spec.log_group,
                "pattern": detection.filter_pattern,
                "+metric_transformation": {
                    "name": detection.metric_name,
                    "namespace": detection.namespace,
                    "value": "1",
                },
            },
        ),
        _resource(
            "aws_cloudwatch_metric_alarm",
            name,
            {
                "alarm_name": spec.alarm_name(detection),
                "alarm_description": spec.alarm_description(detection),
                **_alarm_arguments(detection_alarm(detection)),
                "alarm_actions": [_TOPIC],
                "ok_actions": [_TOPIC],
            },
        ),
    ]


def _optional(spec: SetupSpec) -> list[str]:
    blocks: list[str] = []
    if spec.include_eventbridge:
        blocks += [
            "# IAM and most sign-in events reach EventBridge in us-east-1 only.\n"
            + _resource(
                "aws_cloudwatch_event_rule",
                "cloudtrail",
                {
                    "name": spec.rule,
                    "description": "CloudTrail API calls and console sign-ins, to Klaxon",
                    "event_pattern": JsonEncode(event_pattern()),
                },
            ),
            _resource(
                "aws_cloudwatch_event_target",
                "cloudtrail",
                {
                    "rule": Ref("aws_cloudwatch_event_rule.cloudtrail.name"),
                    "target_id": "klaxon-alarm-topic",
                    "arn": _TOPIC,
                },
            ),
        ]
    if spec.alarm_email:
        blocks += [
            _resource("aws_sns_topic", "email", {"name": spec.email_topic}),
            "# AWS emails a confirmation link to this address; Terraform cannot click it.\n"
            + _resource(
                "aws_sns_topic_subscription",
                "email",
                {
                    "topic_arn": Ref("aws_sns_topic.email.arn"),
                    "protocol": "email",
                    "endpoint": spec.alarm_email,
                },
            ),
        ]
    return blocks


def terraform(spec: SetupSpec) -> str:
    """The setup as a ``.tf`` file: ``terraform init && terraform apply``."""
    header = [
        f"# {spec.description}, generated by Klaxon.",
        _block(
            "terraform",
            {
                "+required_providers": {
                    "aws": {"source": "hashicorp/aws", "version": ">= 5.0"},
                },
            },
        ),
        _block('provider "aws"', {"region": spec.region}),
    ]
    blocks = header + _delivery(spec)
    for detection in spec.detections:
        blocks += _detection(spec, detection)
    blocks += _optional(spec)
    blocks.append(_block('output "alarm_topic_arn"', {"value": _TOPIC}))
    return "\n\n".join(blocks) + "\n"
