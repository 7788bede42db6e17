"""The generated CLI script, run for real with the AWS CLI against moto's server.

AWS itself is the one thing faked: moto answers the AWS API over HTTP on a free port and
the script reaches it through AWS_ENDPOINT_URL. boto3 then reads back, from the same
server, what the script created.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3

from aws.setup import DELIVERY_POLICY, SetupSpec, cli_script
from tests.aws.setup_helpers import full_spec, make_spec

AWS_CLI = Path(sys.executable).parent / "aws"


def _client(endpoint: str, service: str, region: str) -> Any:
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _run(script: str, endpoint: str, workdir: Path) -> str:
    assert AWS_CLI.exists(), "the AWS CLI is a dev dependency: pip install -e '.[dev]'"
    path = workdir / "klaxon-setup.sh"
    path.write_text(script)
    env = {
        "PATH": f"{AWS_CLI.parent}:/usr/bin:/bin",
        "HOME": str(workdir),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        # Nothing from this machine's AWS configuration may leak in.
        "AWS_CONFIG_FILE": str(workdir / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(workdir / "no-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    result = subprocess.run(
        ["bash", str(path)], cwd=workdir, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _create_log_group(endpoint: str, spec: SetupSpec) -> None:
    # The trail's log group exists before Klaxon's setup runs.
    _client(endpoint, "logs", spec.region).create_log_group(logGroupName=spec.log_group)


def _https_subscriptions(sns: Any, topic_arn: str) -> list[dict[str, Any]]:
    listing = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    return [s for s in listing if s["Protocol"] in ("https", "http")]


def test_script_creates_the_filters_alarms_topic_subscription_and_queue_it_promises(
    endpoint: str, tmp_path: Path
) -> None:
    spec = full_spec(region="eu-west-1", prefix="acme")
    _create_log_group(endpoint, spec)
    output = _run(cli_script(spec), endpoint, tmp_path)

    sns = _client(endpoint, "sns", spec.region)
    topic_arn = f"arn:aws:sns:eu-west-1:123456789012:{spec.topic}"
    assert f"alarms publish to {topic_arn}" in output

    filters = _client(endpoint, "logs", spec.region).describe_metric_filters(
        logGroupName=spec.log_group
    )["metricFilters"]
    by_name = {f["filterName"]: f for f in filters}
    assert set(by_name) == {spec.alarm_name(d) for d in spec.detections}
    for detection in spec.detections:
        metric_filter = by_name[spec.alarm_name(detection)]
        assert metric_filter["filterPattern"] == detection.filter_pattern
        (transformation,) = metric_filter["metricTransformations"]
        assert transformation["metricName"] == detection.metric_name
        assert transformation["metricNamespace"] == detection.namespace
        assert transformation["metricValue"] == "1"

    cloudwatch = _client(endpoint, "cloudwatch", spec.region)
    alarms = {
        alarm["AlarmName"]: alarm
        for page in cloudwatch.get_paginator("describe_alarms").paginate()
        for alarm in page["MetricAlarms"]
    }
    for detection in spec.detections:
        alarm = alarms[spec.alarm_name(detection)]
        assert alarm["AlarmActions"] == [topic_arn]
        assert alarm["OKActions"] == [topic_arn]
        assert alarm["MetricName"] == detection.metric_name
        assert alarm["Namespace"] == detection.namespace
        assert alarm["Threshold"] == detection.threshold
        assert alarm["Statistic"] == "Sum"
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"

    (subscription,) = _https_subscriptions(sns, topic_arn)
    assert subscription["Endpoint"] == spec.integration_url
    attributes = sns.get_subscription_attributes(SubscriptionArn=subscription["SubscriptionArn"])
    attributes = attributes["Attributes"]
    queue_arn = f"arn:aws:sqs:eu-west-1:123456789012:{spec.queue}"
    assert json.loads(attributes["DeliveryPolicy"]) == DELIVERY_POLICY
    assert json.loads(attributes["RedrivePolicy"]) == {"deadLetterTargetArn": queue_arn}

    sqs = _client(endpoint, "sqs", spec.region)
    queue_url = sqs.get_queue_url(QueueName=spec.queue)["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert queue["MessageRetentionPeriod"] == str(14 * 24 * 3600)
    (statement,) = json.loads(queue["Policy"])["Statement"]
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": topic_arn}}

    queue_alarm = alarms[spec.queue_alarm]
    assert queue_alarm["Namespace"] == "AWS/SQS"
    assert queue_alarm["Dimensions"] == [{"Name": "QueueName", "Value": spec.queue}]
    email_topic = f"arn:aws:sns:eu-west-1:123456789012:{spec.email_topic}"
    assert queue_alarm["AlarmActions"] == [topic_arn, email_topic]
    emails = sns.list_subscriptions_by_topic(TopicArn=email_topic)["Subscriptions"]
    assert [s["Endpoint"] for s in emails] == [spec.alarm_email]

    events = _client(endpoint, "events", spec.region)
    rule = events.describe_rule(Name=spec.rule)
    assert json.loads(rule["EventPattern"]) == {
        "detail-type": ["AWS API Call via CloudTrail", "AWS Console Sign In via CloudTrail"]
    }
    targets = events.list_targets_by_rule(Rule=spec.rule)["Targets"]
    assert [t["Arn"] for t in targets] == [topic_arn]
    policy = json.loads(sns.get_topic_attributes(TopicArn=topic_arn)["Attributes"]["Policy"])
    publishers = {s["Principal"]["Service"]: s["Condition"] for s in policy["Statement"]}
    assert publishers["events.amazonaws.com"] == {"ArnEquals": {"aws:SourceArn": rule["Arn"]}}
    assert publishers["cloudwatch.amazonaws.com"] == {
        "StringEquals": {"aws:SourceAccount": "123456789012"}
    }


def test_running_the_script_twice_leaves_one_of_everything(endpoint: str, tmp_path: Path) -> None:
    # Shell characters in every value a person chooses: they must stay data.
    url = "https://klaxon.example.com/in/x'$(touch${IFS}pwned)`touch${IFS}pwned`\"?a=1&b=;id"
    spec = make_spec(
        integration_url=url,
        integration_name="Prod\n touch pwned; $(touch pwned) 'x",
        log_group="CloudTrail/org#main.trail_1",
        region="us-east-1",
    )
    _create_log_group(endpoint, spec)
    script = cli_script(spec)
    _run(script, endpoint, tmp_path)
    _run(script, endpoint, tmp_path)

    assert not (tmp_path / "pwned").exists()
    sns = _client(endpoint, "sns", spec.region)
    (topic,) = sns.list_topics()["Topics"]
    (subscription,) = _https_subscriptions(sns, topic["TopicArn"])
    assert subscription["Endpoint"] == url
    alarms = _client(endpoint, "cloudwatch", spec.region).describe_alarms()["MetricAlarms"]
    assert len(alarms) == 3  # two detections and the dead-letter queue
    assert len(_client(endpoint, "sqs", spec.region).list_queues()["QueueUrls"]) == 1
    filters = _client(endpoint, "logs", spec.region).describe_metric_filters(
        logGroupName=spec.log_group
    )["metricFilters"]
    # moto appends a filter put twice where AWS updates it ("creates or updates a metric
    # filter"), so only the names can be checked here.
    assert {f["filterName"] for f in filters} == {
        "klaxon-cis-cloudwatch-1",
        "klaxon-cis-cloudwatch-6",
    }
