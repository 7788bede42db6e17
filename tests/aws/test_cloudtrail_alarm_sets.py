"""The CIS (Security Hub CloudWatch.1-14) and Opsgenie CloudTrail filter patterns, exactly
as published (tests/fixtures/aws/cloudtrail_alarm_sets.json), against CloudTrail
records as CloudWatch Logs stores them: one JSON object per line."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from aws.filter_patterns import JsonPattern, LogEvent, parse

ALARM_SETS = json.loads(
    (Path(__file__).parent.parent / "fixtures" / "aws" / "cloudtrail_alarm_sets.json").read_text()
)
CIS = {c["control"]: c["FilterPattern"] for c in ALARM_SETS["aws_security_hub_cis"]["controls"]}
OPSGENIE = {
    a["AlarmName"]: a["FilterPattern"]
    for a in ALARM_SETS["opsgenie_cloudtrail_template"]["alarms"]
}
EVERY_PATTERN = [*CIS.items(), *OPSGENIE.items()]

CONSOLE_LOGIN: dict[str, Any] = {
    "eventVersion": "1.08",
    "userIdentity": {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLEID",
        "arn": "arn:aws:iam::111122223333:user/alice",
        "accountId": "111122223333",
        "userName": "alice",
    },
    "eventTime": "2026-11-20T08:15:02Z",
    "eventSource": "signin.amazonaws.com",
    "eventName": "ConsoleLogin",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "203.0.113.9",
    "userAgent": "Mozilla/5.0",
    "requestParameters": None,
    "responseElements": {"ConsoleLogin": "Success"},
    "additionalEventData": {
        "LoginTo": "https://console.aws.amazon.com/console/home",
        "MobileVersion": "No",
        "MFAUsed": "No",
    },
    "eventID": "3fcfb4b1-2c9e-4b43-9b43-1e2a0f1f7a10",
    "readOnly": False,
    "eventType": "AwsConsoleSignIn",
    "managementEvent": True,
    "recipientAccountId": "111122223333",
    "eventCategory": "Management",
}


def record(base: dict[str, Any], **changes: Any) -> str:
    """A copy of ``base`` with dotted-path ``changes`` (None deletes), on one line."""
    data = copy.deepcopy(base)
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = data
        for key in parents:
            node = node.setdefault(key, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return json.dumps(data, separators=(",", ":"))


@pytest.mark.parametrize(("name", "pattern"), EVERY_PATTERN)
def test_every_published_alarm_pattern_parses_and_prints_back_equal(
    name: str, pattern: str
) -> None:
    parsed = parse(pattern)

    assert isinstance(parsed, JsonPattern)
    assert parse(str(parsed)) == parsed
    assert parse(parsed.to_text(compact=True)) == parsed


def test_cis_console_sign_in_without_mfa() -> None:
    pattern = parse(CIS["CloudWatch.3"])

    assert pattern.matches(record(CONSOLE_LOGIN))
    assert not pattern.matches(record(CONSOLE_LOGIN, additionalEventData__MFAUsed="Yes"))
    assert not pattern.matches(record(CONSOLE_LOGIN, responseElements__ConsoleLogin="Failure"))
    assert not pattern.matches(record(CONSOLE_LOGIN, userIdentity__type="Root"))
    # != needs the property: a record without MFAUsed is not reported (decision).
    assert not pattern.matches(record(CONSOLE_LOGIN, additionalEventData__MFAUsed=None))


def test_cis_root_user_usage() -> None:
    pattern = parse(CIS["CloudWatch.1"])
    root = record(CONSOLE_LOGIN, userIdentity__type="Root", eventType="AwsApiCall")

    assert pattern.matches(root)
    assert not pattern.matches(
        record(json.loads(root), userIdentity__invokedBy="support.amazonaws.com")
    )
    assert not pattern.matches(record(json.loads(root), eventType="AwsServiceEvent"))


@pytest.mark.parametrize(
    ("error_code", "expected"),
    [
        ("Client.UnauthorizedOperation", True),
        ("UnauthorizedOperation", True),
        ("AccessDenied", True),
        ("AccessDeniedException", True),
        ("ThrottlingException", False),
        ("NotAccessDenied", False),
    ],
)
def test_cis_unauthorized_api_calls(error_code: str, expected: bool) -> None:
    event = record(CONSOLE_LOGIN, eventName="DescribeInstances", errorCode=error_code)
    assert parse(CIS["CloudWatch.2"]).matches(event) is expected


@pytest.mark.parametrize(
    ("instance_type", "expected"),
    [("m5.8xlarge", True), ("c6i.4xlarge", True), ("t3.micro", False), ("m5.16xlarge", False)],
)
def test_opsgenie_large_instance_pattern(instance_type: str, expected: bool) -> None:
    event = record(
        CONSOLE_LOGIN,
        eventName="RunInstances",
        requestParameters={"instanceType": instance_type},
    )
    assert parse(OPSGENIE["CloudTrailEC2LargeInstanceChanges"]).matches(event) is expected


def test_a_cloudtrail_record_that_is_not_json_matches_no_json_pattern() -> None:
    # e.g. a log line from another source in the same log group
    plain = "2026-11-20T08:15:02Z ConsoleLogin alice Success"
    assert not any(parse(p).matches(plain) for _, p in EVERY_PATTERN)
    assert not parse("{ $.anything NOT EXISTS }").matches(plain)


def test_one_shared_event_gives_every_pattern_the_same_answer_as_its_own_message() -> None:
    compiled = [parse(p) for _, p in EVERY_PATTERN]
    messages = [
        record(CONSOLE_LOGIN),
        record(CONSOLE_LOGIN, eventName="StopLogging", eventSource="cloudtrail.amazonaws.com"),
        record(CONSOLE_LOGIN, eventName="PutBucketPolicy", eventSource="s3.amazonaws.com"),
        record(CONSOLE_LOGIN, eventName="DisableKey", eventSource="kms.amazonaws.com"),
        record(CONSOLE_LOGIN, eventName="AuthorizeSecurityGroupIngress"),
    ]
    for message in messages:
        event = LogEvent(message)
        shared = [p.matches_event(event) for p in compiled]
        assert shared == [p.matches(message) for p in compiled]
        assert any(shared)


def test_an_already_parsed_record_can_be_handed_over_without_its_text() -> None:
    data = json.loads(record(CONSOLE_LOGIN))
    event = LogEvent("", json_value=data)

    assert parse(CIS["CloudWatch.3"]).matches_event(event)
    assert event.json is data
