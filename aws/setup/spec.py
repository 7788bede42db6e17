"""What a generated AWS setup contains, independent of the format it is written in.

:class:`SetupSpec` holds the choices (integration URL, detections, log group, region,
names) and checks them; the functions here give the resource names and the JSON policy
documents every format shares, so CloudFormation, the CLI script and Terraform cannot
drift apart. Names derive from the prefix and the detection id only, so running a setup
again updates the same resources instead of adding new ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from aws.detections import Detection

__all__ = [
    "DELIVERY_POLICY",
    "DLQ_RETENTION_SECONDS",
    "EVENTBRIDGE_DETAIL_TYPES",
    "SetupError",
    "SetupSpec",
    "delivery_retry_seconds",
    "detection_alarm",
    "event_pattern",
    "queue_alarm",
    "queue_policy",
    "redrive_policy",
    "topic_policy",
]


class SetupError(ValueError):
    """A choice for the generated setup that AWS would refuse; the message names it."""


# SNS retries an HTTP/S delivery in four phases (immediate, pre-backoff at the minimum
# delay, backoff from minimum to maximum delay, post-backoff at the maximum delay). AWS
# caps numRetries at 100 and the whole policy at 3,600 seconds. This one retries for
# 58.6 minutes (delivery_retry_seconds): one immediate retry for a dropped connection,
# two after 5 s each for a restart, 10 linearly from 5 s to 60 s, then once a minute, so
# a message arrives at most a minute after Klaxon comes back. Then the dead-letter queue.
DELIVERY_POLICY: Final[dict[str, Any]] = {
    "healthyRetryPolicy": {
        "numRetries": 66,
        "numNoDelayRetries": 1,
        "minDelayTarget": 5,
        "numMinDelayRetries": 2,
        "maxDelayTarget": 60,
        "numMaxDelayRetries": 53,
        "backoffFunction": "linear",
    }
}

DLQ_RETENTION_SECONDS: Final = 14 * 24 * 3600  # SQS's maximum: two weeks to replay

EVENTBRIDGE_DETAIL_TYPES: Final[tuple[str, ...]] = (
    "AWS API Call via CloudTrail",
    "AWS Console Sign In via CloudTrail",
)


_REGION_RE: Final = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")
_LOG_GROUP_RE: Final = re.compile(r"[A-Za-z0-9._/#-]{1,512}")
_PREFIX_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")
_TOPIC_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,200}")
_EMAIL_RE: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_DESCRIPTION_LIMIT: Final = 1024  # CloudWatch AlarmDescription


def delivery_retry_seconds(policy: dict[str, Any] = DELIVERY_POLICY) -> int:
    """How long SNS keeps retrying under ``policy``, by the documented phases.

    The backoff phase's first delay is the minimum and its last the maximum; with the
    linear function the delays in between step evenly, so they average (min + max) / 2.
    """
    retry = policy["healthyRetryPolicy"]
    low, high = retry["minDelayTarget"], retry["maxDelayTarget"]
    backoff = (
        retry["numRetries"]
        - retry["numNoDelayRetries"]
        - retry["numMinDelayRetries"]
        - retry["numMaxDelayRetries"]
    )
    total: int = (
        retry["numMinDelayRetries"] * low
        + backoff * (low + high) // 2
        + retry["numMaxDelayRetries"] * high
    )
    return total


@dataclass(frozen=True)
class SetupSpec:
    """Everything a generated setup needs; invalid values raise :class:`SetupError`.

    ``prefix`` names every resource (``<prefix>-<detection id>`` for filters and
    alarms), so two integrations in one account need two prefixes. ``alarm_email``, when
    given, also gets the dead-letter alarm by email: while Klaxon is down, SNS cannot
    tell Klaxon that it is failing to reach it.
    """

    integration_name: str
    integration_url: str
    detections: tuple[Detection, ...]
    log_group: str
    region: str
    prefix: str = "klaxon"
    topic_name: str | None = None
    include_eventbridge: bool = False
    alarm_email: str | None = None

    def __post_init__(self) -> None:
        url = urlsplit(self.integration_url)
        if url.scheme not in ("https", "http") or not url.netloc:
            raise SetupError("integration URL must be an http:// or https:// URL")
        if any(ch.isspace() or not ch.isprintable() for ch in self.integration_url):
            raise SetupError("integration URL must not contain spaces or control characters")
        if not _REGION_RE.fullmatch(self.region):
            raise SetupError(f"region {self.region!r} is not an AWS region name (us-east-1)")
        if not _LOG_GROUP_RE.fullmatch(self.log_group):
            raise SetupError(
                "log group name must be 1-512 letters, digits and . _ - / # "
                f"(got {self.log_group!r})"
            )
        if not _PREFIX_RE.fullmatch(self.prefix):
            raise SetupError(
                "prefix must be 1-40 letters, digits, - and _, starting with a letter or digit"
            )
        if self.topic_name is not None and not _TOPIC_RE.fullmatch(self.topic_name):
            raise SetupError("topic name must be 1-200 letters, digits, - and _")
        if self.alarm_email is not None and not _EMAIL_RE.fullmatch(self.alarm_email):
            raise SetupError(f"alarm email {self.alarm_email!r} is not an email address")
        ids = [detection.id for detection in self.detections]
        if len(set(ids)) != len(ids):
            raise SetupError("each detection may be chosen once")
        if not ids and not self.include_eventbridge:
            raise SetupError("choose at least one detection, or the EventBridge rule")

    @property
    def protocol(self) -> str:
        """The SNS subscription protocol: the URL's scheme (https in production)."""
        return urlsplit(self.integration_url).scheme

    @property
    def topic(self) -> str:
        return self.topic_name or f"{self.prefix}-alarms"

    @property
    def queue(self) -> str:
        """The dead-letter queue for deliveries SNS gave up on."""
        return f"{self.prefix}-undelivered"

    @property
    def queue_alarm(self) -> str:
        return f"{self.prefix}-undelivered-messages"

    @property
    def rule(self) -> str:
        return f"{self.prefix}-cloudtrail-events"

    @property
    def email_topic(self) -> str:
        return f"{self.topic}-email"

    def alarm_name(self, detection: Detection) -> str:
        """The alarm's name, and its metric filter's: ``<prefix>-<detection id>``."""
        return f"{self.prefix}-{detection.id}"

    def alarm_description(self, detection: Detection) -> str:
        text = f"Klaxon detection {detection.id}: {detection.title}. {detection.why}"
        return text[:_DESCRIPTION_LIMIT]

    @property
    def queue_alarm_description(self) -> str:
        return (
            f"SNS could not deliver to Klaxon for an hour; the messages wait in the "
            f"{self.queue} queue for 14 days. Fix Klaxon, then replay them."
        )

    @property
    def description(self) -> str:
        """One line saying what the setup is for (the integration name, made one line)."""
        name = " ".join(
            "".join(ch if ch.isprintable() else " " for ch in self.integration_name).split()
        )
        return f"Klaxon alarms for the integration {name!r}"[:_DESCRIPTION_LIMIT]


# The policy documents below take their ARNs as arguments because each format refers to
# them its own way: a CloudFormation intrinsic, a shell variable, a Terraform reference.


def _allow(
    sid: str, service: str, action: str, resource: object, condition: object
) -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": action,
        "Resource": resource,
        "Condition": condition,
    }


def topic_policy(
    *, topic_arn: object, account_id: object, rule_arn: object | None
) -> dict[str, Any]:
    """Who may publish to the alarm topic: this account's alarms, and the rule if any."""
    statements = [
        _allow(
            "CloudWatchAlarms",
            "cloudwatch.amazonaws.com",
            "sns:Publish",
            topic_arn,
            {"StringEquals": {"aws:SourceAccount": account_id}},
        )
    ]
    if rule_arn is not None:
        statements.append(
            _allow(
                "EventBridgeCloudTrailRule",
                "events.amazonaws.com",
                "sns:Publish",
                topic_arn,
                {"ArnEquals": {"aws:SourceArn": rule_arn}},
            )
        )
    return {"Version": "2012-10-17", "Statement": statements}


def queue_policy(*, queue_arn: object, topic_arn: object) -> dict[str, Any]:
    """Lets SNS move undeliverable messages from this topic into the dead-letter queue."""
    statement = _allow(
        "SnsDeadLetters",
        "sns.amazonaws.com",
        "sqs:SendMessage",
        queue_arn,
        {"ArnEquals": {"aws:SourceArn": topic_arn}},
    )
    return {"Version": "2012-10-17", "Statement": [statement]}


def detection_alarm(detection: Detection) -> dict[str, Any]:
    """The alarm's metric and condition, in CloudFormation's property names.

    Sum of matches in the period >= threshold. Missing data means "no matching event",
    so the alarm returns to OK (and Klaxon resolves) once the events stop.
    """
    return {
        "Namespace": detection.namespace,
        "MetricName": detection.metric_name,
        "Statistic": "Sum",
        "Period": detection.period,
        "EvaluationPeriods": detection.evaluation_periods,
        "Threshold": detection.threshold,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "notBreaching",
    }


def queue_alarm(queue_name: object) -> dict[str, Any]:
    """The dead-letter queue's alarm: any message waiting in it."""
    return {
        "Namespace": "AWS/SQS",
        "MetricName": "ApproximateNumberOfMessagesVisible",
        "Dimensions": [{"Name": "QueueName", "Value": queue_name}],
        "Statistic": "Maximum",
        "Period": 300,
        "EvaluationPeriods": 1,
        "Threshold": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "notBreaching",
    }


def redrive_policy(queue_arn: object) -> dict[str, Any]:
    return {"deadLetterTargetArn": queue_arn}


def event_pattern() -> dict[str, Any]:
    """The EventBridge rule's pattern: every CloudTrail API call and console sign-in."""
    return {"detail-type": list(EVENTBRIDGE_DETAIL_TYPES)}
