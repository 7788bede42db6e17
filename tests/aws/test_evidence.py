"""cloudtrail_evidence: who, from where, what, from one CloudTrail record (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from aws.cloudtrail_samples import SAMPLES, sample_by_id
from aws.evidence import cloudtrail_evidence


def evidence_of(sample_id: str) -> Any:
    return cloudtrail_evidence(sample_by_id(sample_id).record)


def test_an_iam_users_refused_call_names_user_key_address_and_error() -> None:
    evidence = evidence_of("ec2-unauthorized-operation")

    assert evidence.identity_type == "IAMUser"
    assert evidence.user_name == "bob"
    assert evidence.who == "bob"
    assert evidence.arn == "arn:aws:iam::111122223333:user/bob"
    assert evidence.access_key_id == "…LEBO"  # of AKIA4XTOVHHEXAMPLEBO
    assert evidence.error_code == "Client.UnauthorizedOperation"
    assert evidence.failed
    assert evidence.event_source == "ec2.amazonaws.com"
    assert evidence.account_id == "111122223333"


def test_the_access_key_shows_only_its_last_four_characters() -> None:
    record = sample_by_id("cloudtrail-stop-logging").record
    key = record["userIdentity"]["accessKeyId"]

    assert cloudtrail_evidence(record).access_key_id == f"…{key[-4:]}"


def test_a_failed_console_sign_in_says_failed_without_mfa() -> None:
    evidence = evidence_of("signin-failure-wrong-password")

    assert evidence.event_name == "ConsoleLogin"
    assert evidence.who == "alice"
    assert evidence.source_ip == "203.0.113.10"
    assert evidence.user_agent.startswith("Mozilla/5.0")
    assert evidence.error_message == "Failed authentication"
    assert evidence.mfa_used is False
    assert evidence.mfa_text == "no"
    assert evidence.event_time == datetime(2026, 11, 18, 2, 47, 13, tzinfo=UTC)
    assert evidence.region == "us-east-1"


def test_a_sign_in_with_an_unknown_user_name_says_so() -> None:
    evidence = evidence_of("signin-failure-unknown-user")

    assert evidence.who == "a user name that does not exist (hidden by AWS)"


def test_root_is_named_root_and_its_mfa_sign_in_says_yes() -> None:
    evidence = evidence_of("signin-root-with-mfa")

    assert evidence.identity_type == "Root"
    assert evidence.who == "root"
    assert evidence.mfa_used is True
    assert not evidence.failed


def test_an_assumed_role_is_named_by_role_and_session() -> None:
    evidence = evidence_of("ec2-create-route")

    assert evidence.identity_type == "AssumedRole"
    assert evidence.who == "ci-deploy/github-actions-5123"


def test_an_api_call_reports_whether_its_session_used_mfa() -> None:
    record = sample_by_id("kms-disable-key").record
    record["userIdentity"]["sessionContext"]["attributes"]["mfaAuthenticated"] = "true"

    assert cloudtrail_evidence(record).mfa_used is True
    assert evidence_of("ec2-run-instances-large").mfa_used is None  # not recorded


def test_a_service_event_names_the_service() -> None:
    assert evidence_of("kms-rotate-key-service-event").who == "an AWS service (kms.amazonaws.com)"


def test_the_console_link_opens_the_event_in_its_region() -> None:
    record = sample_by_id("signin-failure-wrong-password").record

    assert cloudtrail_evidence(record).console_url == (
        "https://us-east-1.console.aws.amazon.com/cloudtrailv2/home?region=us-east-1"
        f"#/events/{record['eventID']}"
    )


def test_no_console_link_to_a_host_a_crafted_region_would_choose() -> None:
    record = sample_by_id("signin-failure-wrong-password").record
    record["awsRegion"] = "evil.example.com/x"

    assert cloudtrail_evidence(record).console_url == ""


def test_every_sample_has_a_time_an_event_and_someone() -> None:
    for sample in SAMPLES:
        evidence = cloudtrail_evidence(sample.record)
        assert evidence.event_time is not None, sample.id
        assert evidence.event_name and evidence.who != "unknown", sample.id
        assert evidence.console_url, sample.id


KEYS = st.sampled_from(["type", "userName", "arn", "sessionContext", "attributes", "MFAUsed"])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=8,
)
RECORDISH = st.fixed_dictionaries(
    {},
    optional={
        "userIdentity": JSON,
        "eventTime": JSON,
        "awsRegion": JSON,
        "eventID": JSON,
        "additionalEventData": JSON,
        "responseElements": JSON,
        "errorCode": JSON,
    },
)


@given(RECORDISH)
def test_any_record_shape_gives_evidence_and_never_raises(record: dict[str, Any]) -> None:
    evidence = cloudtrail_evidence(record)

    assert isinstance(evidence.who, str) and evidence.who
    assert evidence.console_url == "" or evidence.console_url.startswith("https://")
