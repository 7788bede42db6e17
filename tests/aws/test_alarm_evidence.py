"""Evidence for metric alarms: a signed SNS ALARM for a metric-filter alarm, on an
integration holding AWS credentials, gets the CloudTrail records behind it attached.

AWS is moto's server over HTTP (tests/aws/conftest.py); the request goes through the
real inbound view, the task is published after commit (run inline, as tests do), and
the incident page shows what was found, or why nothing was."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from django.test import Client
from pytest_django.asserts import assertContains, assertNotContains

from aws import services
from aws.clients import aws_problem
from aws.cloudtrail_samples import sample_by_id
from aws.detections import Detection, detection_by_id
from aws.models import CloudTrailEvidence
from incidents.models import Incident, IncidentEvent
from integrations.models import Integration
from integrations.sns_http import clear_certificate_cache
from tests.aws.conftest import boto, client_for
from tests.factories import IntegrationFactory
from tests.sns_peer import SnsPeer
from tests.sns_signing import signed_envelope

pytestmark = pytest.mark.django_db

DETECTION = detection_by_id("cis-cloudwatch-6")
LOG_GROUP = "CloudTrail/DefaultLogGroup"
REGION = "eu-west-1"
ACCOUNT = "123456789012"


def alarm_message(detection: Detection, at: datetime, **trigger: Any) -> dict[str, Any]:
    name = f"klaxon-{detection.id}"
    return {
        "AlarmName": name,
        "AlarmDescription": detection.title,
        "AWSAccountId": ACCOUNT,
        "Region": "EU (Ireland)",
        "AlarmArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}",
        "NewStateValue": "ALARM",
        "OldStateValue": "OK",
        "NewStateReason": "Threshold Crossed: 1 datapoint [3.0] was >= the threshold (3.0).",
        "StateChangeTime": at.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
        "Trigger": {
            "MetricName": detection.metric_name,
            "Namespace": detection.namespace,
            "Statistic": "SUM",
            "Period": 300,
            "EvaluationPeriods": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "Threshold": 3.0,
            **trigger,
        },
    }


PostAlarm = Callable[..., Any]


@pytest.fixture
def post_alarm(
    client: Client,
    settings: Any,
    account: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
) -> Iterator[PostAlarm]:
    """Posts a CloudWatch alarm (by default the detection's, changing state now) to an
    integration's URL as SNS does: signed, through the real inbound view; the work queued
    on commit (the evidence task) runs after it."""
    peer = SnsPeer().start()
    settings.SNS_CERT_URL_PATTERN = peer.cert_url_pattern
    clear_certificate_cache()

    def post(integration: Integration, message: dict[str, Any] | None = None) -> Any:
        message = message or alarm_message(DETECTION, account["now"])
        envelope = signed_envelope(message=json.dumps(message), cert_url=peer.cert_url)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                integration.inbound_path,
                data=json.dumps(envelope),
                content_type="text/plain; charset=utf-8",
            )
        assert response.status_code == 200, response.content
        return response

    yield post
    peer.stop()


def cloudtrail_event(sample_id: str, at: datetime, n: int = 0) -> dict[str, Any]:
    """A log event: the sample as CloudWatch Logs stores it, with its own eventID."""
    record = sample_by_id(sample_id).record
    record["eventID"] = f"{record['eventID'][:-4]}{n:04d}"
    return {
        "timestamp": int(at.timestamp() * 1000),
        "message": json.dumps(record, separators=(",", ":")),
    }


@pytest.fixture
def account(aws: str) -> dict[str, Any]:
    """The AWS account in moto: a CloudTrail log group with three failed sign-ins in the
    alarm's window (and one long before), other events, a metric filter with the
    detection's pattern, and a read-only IAM user for Klaxon."""
    now = datetime.now(UTC)
    logs = boto(aws, "logs", REGION)
    logs.create_log_group(logGroupName=LOG_GROUP)
    logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName="111122223333_CloudTrail")
    events = [
        cloudtrail_event("signin-failure-wrong-password", now - timedelta(minutes=40), 9),
        cloudtrail_event("signin-failure-wrong-password", now - timedelta(minutes=4), 1),
        cloudtrail_event("signin-success-with-mfa", now - timedelta(minutes=3, seconds=30)),
        cloudtrail_event("signin-failure-wrong-password", now - timedelta(minutes=3), 2),
        cloudtrail_event("ec2-describe-instances", now - timedelta(minutes=2, seconds=30)),
        {"timestamp": int((now - timedelta(minutes=2, seconds=20)).timestamp() * 1000),
         "message": "CloudTrail digest delivered (not a record)"},
        cloudtrail_event("signin-failure-wrong-password", now - timedelta(minutes=2), 3),
    ]  # fmt: skip
    logs.put_log_events(
        logGroupName=LOG_GROUP, logStreamName="111122223333_CloudTrail", logEvents=events
    )
    iam = boto(aws, "iam", REGION)
    iam.create_user(UserName="klaxon-reader")
    iam.put_user_policy(
        UserName="klaxon-reader",
        PolicyName="klaxon-evidence",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["logs:DescribeMetricFilters", "logs:FilterLogEvents"],
                        "Resource": "*",
                    }
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName="klaxon-reader")["AccessKey"]
    return {"now": now, "logs": logs, "iam": iam, "key": key, "events": events}


def add_metric_filter(account: dict[str, Any], detection: Detection = DETECTION) -> None:
    account["logs"].put_metric_filter(
        logGroupName=LOG_GROUP,
        filterName=f"klaxon-{detection.id}",
        filterPattern=detection.filter_pattern,
        metricTransformations=[
            {
                "metricName": detection.metric_name,
                "metricNamespace": detection.namespace,
                "metricValue": "1",
            }
        ],
    )


@pytest.fixture
def integration(admin: Any, account: dict[str, Any]) -> Integration:
    """An aws_sns integration whose admin saved the read-only key on its page."""
    integration: Integration = IntegrationFactory(name="Prod")
    response = client_for(admin).post(
        f"/aws/integrations/{integration.pk}/credentials/",
        {
            "kind": "keys",
            "region": REGION,
            "access_key_id": account["key"]["AccessKeyId"],
            "secret_access_key": account["key"]["SecretAccessKey"],
        },
    )
    assert response.status_code == 302
    return integration


def evidence_lines(incident: Incident) -> list[str]:
    return list(
        IncidentEvent.objects.filter(incident=incident, via="aws").values_list(
            "message", flat=True
        )
    )


def test_the_cloudtrail_records_behind_the_alarm_are_attached_and_shown(
    integration: Integration, account: dict[str, Any], post_alarm: PostAlarm, viewer: Any
) -> None:
    add_metric_filter(account)

    post_alarm(integration)

    incident = Incident.objects.get(integration=integration)
    rows = list(CloudTrailEvidence.objects.filter(incident=incident).order_by("event_time", "id"))
    # The three failed sign-ins in the window; not the one 40 minutes before.
    in_window = [json.loads(account["events"][i]["message"])["eventID"] for i in (1, 3, 6)]
    assert sorted(row.event_id for row in rows) == sorted(in_window)
    assert {row.source for row in rows} == {"metric_filter"}
    assert {row.log_group for row in rows} == {LOG_GROUP}
    assert {row.filter_name for row in rows} == {f"klaxon-{DETECTION.id}"}
    (line,) = evidence_lines(incident)
    assert line.startswith(
        f"Evidence: 3 CloudTrail records matching the metric filter, from {LOG_GROUP} "
        f"(filter klaxon-{DETECTION.id})"
    )
    assert "2 returned event(s) did not match the pattern" in line
    assert "1 event(s) were not CloudTrail records" in line

    page = client_for(viewer).get(incident.get_absolute_url())
    assertContains(page, "Evidence: who, from where, what")
    assertContains(page, "3 CloudTrail records behind this alarm")
    assertContains(page, "<strong>ConsoleLogin</strong> by <strong>alice</strong> from "
                   "<strong>203.0.113.10</strong>")  # fmt: skip
    assertContains(page, "<dt>MFA used</dt><dd>no</dd>", html=True)
    assertContains(page, "Failed authentication")
    assertContains(
        page,
        f"https://us-east-1.console.aws.amazon.com/cloudtrailv2/home?region=us-east-1#/events/"
        f"{rows[0].event_id}",
    )
    assertContains(page, "Evidence: 3 CloudTrail records")  # the timeline line


def test_at_most_the_configured_number_of_records_is_attached(
    integration: Integration, account: dict[str, Any], post_alarm: PostAlarm, settings: Any
) -> None:
    settings.AWS_EVIDENCE_MAX_RECORDS = 2
    add_metric_filter(account)

    post_alarm(integration)

    assert CloudTrailEvidence.objects.count() == 2


def test_a_role_to_assume_finds_the_evidence_too(
    admin: Any, account: dict[str, Any], post_alarm: PostAlarm
) -> None:
    add_metric_filter(account)
    integration = IntegrationFactory()
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/klaxon-evidence"
    client_for(admin).post(
        f"/aws/integrations/{integration.pk}/credentials/",
        {"kind": "role", "region": REGION, "role_arn": role_arn, "external_id": "klaxon-123"},
    )

    post_alarm(integration)

    assert CloudTrailEvidence.objects.filter(incident__integration=integration).count() == 3


def test_no_metric_filter_is_said_on_the_timeline_and_the_page_still_works(
    integration: Integration, account: dict[str, Any], post_alarm: PostAlarm, viewer: Any
) -> None:
    post_alarm(integration)

    incident = Incident.objects.get(integration=integration)
    assert evidence_lines(incident) == [
        f"Evidence not fetched: no metric filter in {REGION} publishes the metric "
        f"{DETECTION.namespace}/{DETECTION.metric_name}, so there is no log group to search."
    ]
    page = client_for(viewer).get(incident.get_absolute_url())
    assert page.status_code == 200
    assertContains(page, "no metric filter in eu-west-1 publishes the metric")
    assertNotContains(page, "Evidence: who, from where, what")


def test_missing_permission_is_said_in_words(
    integration: Integration,
    account: dict[str, Any],
    post_alarm: PostAlarm,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_metric_filter(account)
    iam = account["iam"]
    iam.put_user_policy(
        UserName="klaxon-reader",
        PolicyName="klaxon-evidence",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "logs:DescribeMetricFilters", "Resource": "*"}
                ],
            }
        ),
    )
    # From here on moto checks every request's credentials and IAM policy, as AWS does.
    import moto.settings

    monkeypatch.setattr(moto.settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)

    post_alarm(integration)

    (line,) = evidence_lines(Incident.objects.get(integration=integration))
    assert line.startswith(
        f"Evidence not fetched: no permission to search the log group {LOG_GROUP} "
        "(logs:FilterLogEvents) (AccessDenied: User: arn:aws:iam::123456789012:user/klaxon-reader "
        "is not authorized to perform: logs:FilterLogEvents"
    )
    assert not CloudTrailEvidence.objects.exists()


def test_aws_out_of_reach_is_said_and_changes_nothing_else(
    integration: Integration, account: dict[str, Any], post_alarm: PostAlarm, settings: Any
) -> None:
    settings.AWS_ENDPOINT_URL = "http://127.0.0.1:9"  # nothing listens there

    response = post_alarm(integration)

    assert response.content.decode().startswith("Created incident")
    (line,) = evidence_lines(Incident.objects.get(integration=integration))
    assert line.startswith(
        "Evidence not fetched: AWS could not be reached to find the metric filter"
    )


def test_without_credentials_nothing_is_searched(
    account: dict[str, Any], post_alarm: PostAlarm
) -> None:
    add_metric_filter(account)
    integration = IntegrationFactory()

    post_alarm(integration)

    incident = Incident.objects.get(integration=integration)
    assert evidence_lines(incident) == []
    assert not CloudTrailEvidence.objects.exists()


def test_an_alarm_on_an_aws_metric_starts_no_search(
    integration: Integration, account: dict[str, Any], post_alarm: PostAlarm
) -> None:
    message = alarm_message(
        DETECTION, account["now"], MetricName="CPUUtilization", Namespace="AWS/EC2"
    )

    post_alarm(integration, message)

    assert evidence_lines(Incident.objects.get(integration=integration)) == []


def test_a_repeated_alarm_or_task_attaches_nothing_twice(
    integration: Integration, account: dict[str, Any], post_alarm: PostAlarm
) -> None:
    add_metric_filter(account)
    message = alarm_message(DETECTION, account["now"])
    post_alarm(integration, message)
    later = alarm_message(DETECTION, account["now"] + timedelta(seconds=60))
    post_alarm(integration, later)  # appended

    incident = Incident.objects.get(integration=integration)
    assert services.alarm_evidence_collect(incident_id=incident.pk) == "already searched"
    assert len(evidence_lines(incident)) == 1
    assert CloudTrailEvidence.objects.count() == 3


def test_aws_errors_read_as_words() -> None:
    def error(code: str, message: str, status: int) -> ClientError:
        response: Any = {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }
        return ClientError(response, "FilterLogEvents")

    throttled = aws_problem(error("ThrottlingException", "Rate exceeded", 400), "search g")
    assert str(throttled) == (
        "AWS throttled the request to search g; try again later (ThrottlingException: Rate "
        "exceeded)"
    )
    denied = aws_problem(error("AccessDeniedException", "no", 400), "search g")
    assert str(denied) == "no permission to search g (AccessDeniedException: no)"
    xml = error("403", "<?xml version='1.0'?><Error><Code>AccessDenied</Code><Message>Not you"
                "</Message></Error>", 403)  # fmt: skip
    assert str(aws_problem(xml, "search g")) == "no permission to search g (AccessDenied: Not you)"


def test_the_window_is_the_alarms_periods_before_its_state_change() -> None:
    at = datetime(2026, 11, 21, 3, 15, tzinfo=UTC)
    details = {
        "trigger": {"MetricName": "M", "Namespace": "Klaxon/CloudTrail", "Period": 60,
                    "EvaluationPeriods": 3},
        "state_change_time": at.isoformat(),
        "region_code": "eu-west-1",
    }  # fmt: skip

    window = services.alarm_window(details, "us-east-1")

    assert window is not None
    assert window.region == "eu-west-1"
    assert window.start == at - timedelta(minutes=3) - services.WINDOW_MARGIN_BEFORE
    assert window.end == at + services.WINDOW_MARGIN_AFTER
