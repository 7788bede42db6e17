"""The bundled CloudTrail records: realistic, documentation-only, one line each."""

from __future__ import annotations

import ipaddress
import json
import re
import uuid

import pytest

from aws.cloudtrail_samples import (
    SAMPLES,
    CloudTrailSample,
    as_eventbridge_event,
    sample_by_id,
)

DOCUMENTATION_ACCOUNTS = {"111122223333", "123456789012"}
DOCUMENTATION_NETWORKS = [
    ipaddress.ip_network(net) for net in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
]
# Addresses that may appear in request parameters (rules, VPC ranges), never as a source.
PARAMETER_NETWORKS = [ipaddress.ip_network(net) for net in ("0.0.0.0/32", "10.0.0.0/8")]
EVENT_TYPES = {"AwsApiCall", "AwsConsoleSignIn", "AwsServiceEvent"}


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.id)
def test_sample_is_a_one_line_cloudtrail_record(sample: CloudTrailSample) -> None:
    assert "\n" not in sample.message
    record = json.loads(sample.message)
    for field in ("eventVersion", "userIdentity", "eventTime", "eventSource", "eventName",
                  "awsRegion", "sourceIPAddress", "userAgent", "eventID", "eventType",
                  "recipientAccountId"):  # fmt: skip
        assert field in record, field
    assert re.fullmatch(r"20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ", record["eventTime"])
    assert record["eventSource"].endswith(".amazonaws.com")
    assert record["eventType"] in EVENT_TYPES
    uuid.UUID(record["eventID"])
    assert sample.title


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.id)
def test_sample_uses_documentation_accounts_and_addresses_only(sample: CloudTrailSample) -> None:
    for number in re.findall(r"(?<![0-9A-Za-z])\d{12}(?![0-9])", sample.message):
        assert number in DOCUMENTATION_ACCOUNTS, number
    source = sample.record["sourceIPAddress"]
    if not source.endswith(".amazonaws.com"):  # AWS services appear by name
        assert any(ipaddress.ip_address(source) in net for net in DOCUMENTATION_NETWORKS)
    # Dotted quads, but not version numbers in user agents ("Chrome/131.0.0.0").
    for text in re.findall(r"(?<![\d./])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])", sample.message):
        address = ipaddress.ip_address(text)
        allowed = DOCUMENTATION_NETWORKS + PARAMETER_NETWORKS
        assert any(address in net for net in allowed), text


def test_samples_cover_every_kind_of_event_the_pack_detects() -> None:
    names = {sample.record["eventName"] for sample in SAMPLES}
    assert {
        "ConsoleLogin",
        "StopLogging",
        "DeleteTrail",
        "DisableKey",
        "PutBucketPolicy",
        "StopConfigurationRecorder",
        "AuthorizeSecurityGroupIngress",
        "CreateNetworkAclEntry",
        "AttachInternetGateway",
        "CreateRoute",
        "CreateVpcPeeringConnection",
        "StartInstances",
        "StopInstances",
        "RebootInstances",
        "TerminateInstances",
        "PutUserPolicy",
        "AttachRolePolicy",
    } <= names
    errors = {sample.record.get("errorCode") for sample in SAMPLES}
    assert {"Client.UnauthorizedOperation", "AccessDeniedException"} <= errors


def test_sign_ins_cover_failure_success_mfa_and_root() -> None:
    sign_ins = [s.record for s in SAMPLES if s.record["eventName"] == "ConsoleLogin"]
    kinds = {
        (
            r["userIdentity"]["type"],
            r["responseElements"]["ConsoleLogin"],
            r["additionalEventData"]["MFAUsed"],
        )
        for r in sign_ins
    }
    assert ("IAMUser", "Failure", "No") in kinds
    assert ("IAMUser", "Success", "No") in kinds
    assert ("IAMUser", "Success", "Yes") in kinds
    assert ("Root", "Success", "Yes") in kinds


def test_about_thirty_samples_with_unique_ids() -> None:
    ids = [sample.id for sample in SAMPLES]
    assert len(set(ids)) == len(ids)
    assert 25 <= len(ids) <= 45
    assert sample_by_id("signin-root-with-mfa").record["userIdentity"]["type"] == "Root"


def test_record_is_a_copy_callers_may_change() -> None:
    sample = sample_by_id("kms-disable-key")
    sample.record["eventName"] = "Changed"
    assert sample.record["eventName"] == "DisableKey"


def test_unknown_sample_id_is_refused_by_name() -> None:
    with pytest.raises(KeyError, match="nope"):
        sample_by_id("nope")


def test_console_sign_in_as_eventbridge_event() -> None:
    sample = sample_by_id("signin-failure-wrong-password")
    event = as_eventbridge_event(sample)
    assert event["version"] == "0"
    assert event["detail-type"] == "AWS Console Sign In via CloudTrail"
    assert event["source"] == "aws.signin"
    assert event["account"] == "111122223333"
    assert event["time"] == "2026-11-18T02:47:13Z"
    assert event["region"] == "us-east-1"
    assert event["resources"] == []
    assert event["detail"] == sample.record
    uuid.UUID(event["id"])


def test_api_call_as_eventbridge_event() -> None:
    event = as_eventbridge_event(sample_by_id("cloudwatch-delete-alarms"))
    assert event["detail-type"] == "AWS API Call via CloudTrail"
    # EventBridge names the source after the service: monitoring.amazonaws.com.
    assert event["source"] == "aws.monitoring"
    assert event["region"] == "eu-west-1"


def test_eventbridge_ids_are_stable_and_distinct() -> None:
    first = [as_eventbridge_event(sample)["id"] for sample in SAMPLES]
    again = [as_eventbridge_event(sample)["id"] for sample in SAMPLES]
    assert first == again
    assert len(set(first)) == len(first)
