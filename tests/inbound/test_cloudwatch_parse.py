"""Parsing CloudWatch alarm messages (integrations.sources.cloudwatch): no database."""

from __future__ import annotations

import copy
import json
import random
from datetime import UTC, datetime
from typing import Any

import pytest

from integrations.sources.cloudwatch import (
    CloudWatchAlarm,
    NotAnAlarm,
    parse_alarm,
    parse_state_change_time,
)
from tests.conftest import FIXTURES

CLOUDWATCH = FIXTURES / "cloudwatch"
FIXTURE_NAMES = sorted(path.name for path in CLOUDWATCH.glob("*.json"))


def fixture_text(name: str) -> str:
    return (CLOUDWATCH / name).read_text(encoding="utf-8")


def fixture_json(name: str) -> dict[str, Any]:
    data = json.loads(fixture_text(name))
    assert isinstance(data, dict)
    return data


def alarm_message(name: str) -> str:
    """The SNS Message string carried by a fixture (unwrapping an SNS envelope)."""
    data = fixture_json(name)
    if data.get("Type") == "Notification":
        message = data["Message"]
        assert isinstance(message, str)
        return message
    return json.dumps(data)


def minimal(**overrides: object) -> str:
    data: dict[str, object] = {
        "AlarmName": "DiskFull",
        "NewStateValue": "ALARM",
        "StateChangeTime": "2026-11-21T13:06:06.716Z",
    }
    data.update(overrides)
    return json.dumps({key: value for key, value in data.items() if value is not ...})


def nested(depth: int) -> list[Any]:
    """A list nested depth levels deep: nested(2) == [[]]."""
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


def assert_sound(alarm: CloudWatchAlarm) -> None:
    """Everything a caller may use on a parsed alarm works and is JSON-safe."""
    details = alarm.details()
    stored = json.dumps({**details, "raw": alarm.raw}, allow_nan=False, ensure_ascii=False)
    assert "\\u0000" not in stored
    stored.encode("utf-8")  # no lone surrogates: Postgres can store it
    assert isinstance(alarm.dedup_key, str) and alarm.dedup_key
    assert isinstance(alarm.metric_summary, str)
    assert isinstance(alarm.console_url, str)
    assert alarm.state_change_time.tzinfo is UTC
    assert details["state_change_time"] == alarm.state_change_time.isoformat()
    hash(alarm)
    repr(alarm)


# --- one test per fixture -------------------------------------------------------


def test_console_signin_failures_alarm() -> None:
    alarm = parse_alarm(alarm_message("alarm_message_console_signin_failures_alarm.json"))

    assert alarm.alarm_name == "ConsoleSignInFailures"
    assert alarm.alarm_description == "More than 3 failed console sign-in attempts in 5 minutes"
    assert alarm.account_id == "111122223333"
    assert alarm.region == "EU (Ireland)"
    assert alarm.region_code == "eu-west-1"
    arn = "arn:aws:cloudwatch:eu-west-1:111122223333:alarm:ConsoleSignInFailures"
    assert alarm.alarm_arn == arn
    assert alarm.dedup_key == arn
    assert alarm.new_state == "ALARM"
    assert alarm.old_state == "OK"
    assert alarm.reason.startswith("Threshold Crossed: 1 out of the last 1 datapoints [4.0")
    assert alarm.state_change_time == datetime(2026, 11, 21, 3, 15, 12, 884000, tzinfo=UTC)
    assert alarm.trigger["MetricName"] == "ConsoleSigninFailureCount"
    assert alarm.raw["AlarmConfigurationUpdatedTimestamp"] == "2026-11-02T09:12:44.101+0000"
    assert alarm.metric_summary == (
        "ConsoleSigninFailureCount (CloudTrailMetrics) Sum >= 3.0 for 1 x 300 s"
    )
    assert alarm.console_url == (
        "https://eu-west-1.console.aws.amazon.com/cloudwatch/home"
        "?region=eu-west-1#alarmsV2:alarm/ConsoleSignInFailures"
    )
    details = alarm.details()
    assert details == {
        "alarm_name": "ConsoleSignInFailures",
        "description": "More than 3 failed console sign-in attempts in 5 minutes",
        "account_id": "111122223333",
        "region": "EU (Ireland)",
        "region_code": "eu-west-1",
        "alarm_arn": arn,
        "new_state": "ALARM",
        "old_state": "OK",
        "reason": alarm.reason,
        "state_change_time": "2026-11-21T03:15:12.884000+00:00",
        "metric_summary": alarm.metric_summary,
        "console_url": alarm.console_url,
        "trigger": alarm.trigger,
    }
    assert_sound(alarm)


def test_console_signin_failures_ok() -> None:
    fired = parse_alarm(alarm_message("alarm_message_console_signin_failures_alarm.json"))
    alarm = parse_alarm(alarm_message("alarm_message_console_signin_failures_ok.json"))

    assert alarm.alarm_name == "ConsoleSignInFailures"
    assert alarm.new_state == "OK"
    assert alarm.old_state == "ALARM"
    assert alarm.account_id == "111122223333"
    assert alarm.region_code == "eu-west-1"
    assert alarm.state_change_time == datetime(2026, 11, 21, 3, 20, 12, 901000, tzinfo=UTC)
    assert "was not greater than or equal to the threshold (3.0)" in alarm.reason
    # The OK belongs to the same alarm as the ALARM five minutes earlier.
    assert alarm.dedup_key == fired.dedup_key
    assert alarm.state_change_time > fired.state_change_time
    assert alarm.metric_summary == fired.metric_summary
    assert_sound(alarm)


def test_single_metric() -> None:
    alarm = parse_alarm(alarm_message("alarm_message_single_metric.json"))

    assert alarm.alarm_name == "EXAMPLE"
    assert alarm.alarm_description == "EXAMPLE"
    assert alarm.account_id == "123456789012"
    assert alarm.region == "EXAMPLE"
    assert alarm.new_state == "ALARM"
    assert alarm.old_state == "INSUFFICIENT_DATA"
    assert alarm.state_change_time == datetime(2015, 6, 3, 17, 43, 27, 123000, tzinfo=UTC)
    # AWS's sample ARN has the placeholder "REGION": not a region code, so no console link.
    assert alarm.alarm_arn == "arn:aws:cloudwatch:REGION:ACCOUNT_NUMBER:alarm:EXAMPLE"
    assert alarm.region_code == ""
    assert alarm.console_url == ""
    assert alarm.dedup_key == "arn:aws:cloudwatch:REGION:ACCOUNT_NUMBER:alarm:EXAMPLE"
    assert alarm.metric_summary == (
        "NetworkOut (AWS/EC2, InstanceId=TestInstance) Average > 0.0 for 1 x 60 s"
    )
    assert_sound(alarm)


def test_metric_math() -> None:
    alarm = parse_alarm(alarm_message("alarm_message_metric_math.json"))

    assert alarm.alarm_name == "EXAMPLE"
    assert alarm.account_id == "EXAMPLE"
    assert alarm.new_state == "ALARM"
    assert alarm.old_state == "INSUFFICIENT_DATA"
    assert alarm.state_change_time == datetime(2015, 6, 3, 17, 43, 27, 123000, tzinfo=UTC)
    assert "MetricName" not in alarm.trigger
    assert len(alarm.trigger["Metrics"]) == 2
    # Only the expression with ReturnData true is the alarm's subject, not m1.
    assert alarm.metric_summary == "m1*1 > 0.0 for 1 x 60 s"
    assert alarm.region_code == ""
    assert_sound(alarm)


def test_sns_envelope_cloudtrail_changes_alarm() -> None:
    envelope = fixture_json("sns_envelope_cloudtrail_changes_alarm.json")
    alarm = parse_alarm(envelope["Message"])

    assert alarm.alarm_name == "CloudTrailChanges"
    assert alarm.alarm_description.startswith("Alarms when an API call is made to create")
    assert alarm.account_id == "825426534673"
    assert alarm.region == "US East (N. Virginia)"
    assert alarm.new_state == "ALARM"
    assert alarm.old_state == "INSUFFICIENT_DATA"
    assert alarm.reason == (
        "Threshold Crossed: 1 datapoint [1.0 (03/07/18 14:18:00)] was greater than or "
        "equal to the threshold (1.0)."
    )
    assert alarm.state_change_time == datetime(2018, 7, 3, 14, 23, 28, 949000, tzinfo=UTC)
    # This older message has no AlarmArn: no region code, no link, a composite dedup key.
    assert alarm.alarm_arn == ""
    assert alarm.region_code == ""
    assert alarm.console_url == ""
    assert alarm.dedup_key == "CloudTrailChanges|825426534673|US East (N. Virginia)"
    assert (
        alarm.metric_summary == "CloudTrailEventCount (CloudTrailMetrics) Sum >= 1.0 for 1 x 300 s"
    )
    assert alarm.trigger["Unit"] is None
    assert_sound(alarm)


def test_every_fixture_is_covered() -> None:
    assert FIXTURE_NAMES == [
        "alarm_message_console_signin_failures_alarm.json",
        "alarm_message_console_signin_failures_ok.json",
        "alarm_message_metric_math.json",
        "alarm_message_single_metric.json",
        "sns_envelope_cloudtrail_changes_alarm.json",
    ]


# --- timestamps -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2018-07-03T14:23:28.949+0000", datetime(2018, 7, 3, 14, 23, 28, 949000, tzinfo=UTC)),
        ("2026-11-21T13:06:06.716Z", datetime(2026, 11, 21, 13, 6, 6, 716000, tzinfo=UTC)),
        ("2026-11-21T13:06:06Z", datetime(2026, 11, 21, 13, 6, 6, tzinfo=UTC)),
        ("2026-11-21T13:06:06+0000", datetime(2026, 11, 21, 13, 6, 6, tzinfo=UTC)),
        ("2026-11-21T13:06:06+00:00", datetime(2026, 11, 21, 13, 6, 6, tzinfo=UTC)),
        ("2026-11-21T13:06:06.5+00:00", datetime(2026, 11, 21, 13, 6, 6, 500000, tzinfo=UTC)),
        ("2026-11-21T13:06:06.123456789Z", datetime(2026, 11, 21, 13, 6, 6, 123456, tzinfo=UTC)),
        ("2026-11-21T14:06:06.716+0100", datetime(2026, 11, 21, 13, 6, 6, 716000, tzinfo=UTC)),
        ("2026-11-20T22:36:06-14:30", datetime(2026, 11, 21, 13, 6, 6, tzinfo=UTC)),
    ],
)
def test_parse_state_change_time(value: str, expected: datetime) -> None:
    parsed = parse_state_change_time(value)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "value",
    [
        "",
        "yesterday",
        "2026-11-21",
        "2026-11-21T13:06:06",  # no zone
        "2026-11-21T13:06:06.716",
        "2026-11-21 13:06:06Z",
        "2026-11-21T13:06Z",
        "2026-11-21T13:06:06.Z",
        "2026-11-21T13:06:06.716+00",
        "2026-11-21T13:06:06.716+2400",
        "2026-11-21T13:06:06.716+0060",
        "2026-13-21T13:06:06Z",
        "2026-02-30T13:06:06Z",
        "2026-11-21T24:00:00Z",
        "2026-11-21T23:59:60Z",
        "0000-01-01T00:00:00Z",
        "9999-12-31T23:59:59-0100",  # past datetime.max once in UTC
        "0001-01-01T00:00:00+0100",
        " 2026-11-21T13:06:06Z",
        "2026-11-21T13:06:06Z\n",
        "２０２６-11-21T13:06:06Z",  # full-width digits
        "1543412345",
    ],
)
def test_parse_state_change_time_rejects(value: str) -> None:
    with pytest.raises(ValueError):
        parse_state_change_time(value)


def test_both_time_formats_in_a_message() -> None:
    aws = parse_alarm(minimal(StateChangeTime="2026-11-21T13:06:06.716+0000"))
    tool = parse_alarm(minimal(StateChangeTime="2026-11-21T13:06:06.716Z"))
    expected = datetime(2026, 11, 21, 13, 6, 6, 716000, tzinfo=UTC)
    assert aws.state_change_time == tool.state_change_time == expected


# --- other shapes ---------------------------------------------------------------


def test_dedup_key_without_alarm_arn() -> None:
    data = fixture_json("alarm_message_console_signin_failures_alarm.json")
    del data["AlarmArn"]
    alarm = parse_alarm(json.dumps(data))
    assert alarm.alarm_arn == ""
    assert alarm.region_code == ""
    assert alarm.console_url == ""
    assert alarm.dedup_key == "ConsoleSignInFailures|111122223333|EU (Ireland)"


def test_minimal_message_defaults() -> None:
    alarm = parse_alarm(minimal())
    assert alarm.alarm_description == ""
    assert alarm.account_id == ""
    assert alarm.region == ""
    assert alarm.old_state == ""
    assert alarm.reason == ""
    assert alarm.trigger == {}
    assert alarm.metric_summary == ""
    assert alarm.dedup_key == "DiskFull||"
    assert_sound(alarm)


def test_null_description_and_trigger() -> None:
    alarm = parse_alarm(minimal(AlarmDescription=None, Trigger=None, AlarmArn=None))
    assert alarm.alarm_description == ""
    assert alarm.trigger == {}
    assert alarm.alarm_arn == ""


def test_non_string_values_are_coerced() -> None:
    alarm = parse_alarm(
        minimal(
            AlarmName=42,
            AWSAccountId=111122223333,
            Region=["eu-west-1"],
            AlarmDescription={"text": "x"},
            NewStateReason=True,
            Trigger="not an object",
        )
    )
    assert alarm.alarm_name == "42"
    assert alarm.account_id == "111122223333"
    assert alarm.region == '["eu-west-1"]'
    assert alarm.alarm_description == '{"text":"x"}'
    assert alarm.reason == "true"
    assert alarm.trigger == {}
    assert_sound(alarm)


def test_insufficient_data_state() -> None:
    alarm = parse_alarm(minimal(NewStateValue="INSUFFICIENT_DATA", OldStateValue="OK"))
    assert alarm.new_state == "INSUFFICIENT_DATA"
    assert alarm.old_state == "OK"


def test_console_url_quotes_the_alarm_name() -> None:
    name = "prod: 5xx > 1% / api#1"
    arn = f"arn:aws:cloudwatch:us-east-1:111122223333:alarm:{name}"
    alarm = parse_alarm(minimal(AlarmName=name, AlarmArn=arn))
    assert alarm.region_code == "us-east-1"
    assert alarm.console_url == (
        "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1"
        "#alarmsV2:alarm/prod%3A%205xx%20%3E%201%25%20%2F%20api%231"
    )


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:cloudwatch:evil.example/x#:111122223333:alarm:A",
        "arn:aws:cloudwatch::111122223333:alarm:A",
        "arn:aws:sns:eu-west-1:111122223333:klaxon-alarms",
        "not an arn",
    ],
)
def test_region_code_only_from_a_real_alarm_arn(arn: str) -> None:
    alarm = parse_alarm(minimal(AlarmArn=arn))
    assert alarm.region_code == ""
    assert alarm.console_url == ""
    assert alarm.dedup_key == arn


def test_region_code_outside_the_commercial_partition_has_no_console_link() -> None:
    alarm = parse_alarm(minimal(AlarmArn="arn:aws-us-gov:cloudwatch:us-gov-west-1:1:alarm:A"))
    assert alarm.region_code == "us-gov-west-1"
    assert alarm.console_url == ""


def test_metric_summary_extended_statistic_and_datapoints() -> None:
    trigger = {
        "MetricName": "Latency",
        "Namespace": "AWS/ApiGateway",
        "StatisticType": "ExtendedStatistic",
        "ExtendedStatistic": "p99",
        "Dimensions": [{"name": "ApiName", "value": "shop"}, {"name": "Stage", "value": "prod"}],
        "Period": 60,
        "EvaluationPeriods": 5,
        "DatapointsToAlarm": 3,
        "ComparisonOperator": "LessThanOrEqualToThreshold",
        "Threshold": 250,
    }
    alarm = parse_alarm(minimal(Trigger=trigger))
    assert alarm.metric_summary == (
        "Latency (AWS/ApiGateway, ApiName=shop, Stage=prod) p99 <= 250 for 3 of 5 x 60 s"
    )


def test_metric_summary_anomaly_band() -> None:
    trigger = {
        "Period": 300,
        "EvaluationPeriods": 2,
        "ComparisonOperator": "LessThanLowerOrGreaterThanUpperThreshold",
        "ThresholdMetricId": "ad1",
        "Metrics": [
            {
                "Id": "m1",
                "MetricStat": {
                    "Metric": {"MetricName": "CPUUtilization", "Namespace": "AWS/EC2"},
                    "Period": 300,
                    "Stat": "Average",
                },
                "ReturnData": True,
            },
            {"Id": "ad1", "Expression": "ANOMALY_DETECTION_BAND(m1, 2)", "ReturnData": True},
        ],
    }
    alarm = parse_alarm(minimal(Trigger=trigger))
    assert (
        alarm.metric_summary == "CPUUtilization (AWS/EC2) Average outside band ad1 for 2 x 300 s"
    )


def test_metric_summary_several_expressions() -> None:
    trigger = {
        "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": 10.5,
        "Metrics": [
            {"Id": "e1", "Expression": "m1/m2*100", "ReturnData": True},
            {"Id": "e2", "Expression": "RATE(m1)", "ReturnData": True},
            {"Id": "m1", "ReturnData": False},
        ],
    }
    alarm = parse_alarm(minimal(Trigger=trigger))
    assert alarm.metric_summary == "m1/m2*100, RATE(m1) > 10.5"


def test_byte_order_mark_and_whitespace_are_tolerated() -> None:
    assert parse_alarm("\ufeff  " + minimal() + "\n").alarm_name == "DiskFull"


def test_alarms_compare_and_hash() -> None:
    message = alarm_message("alarm_message_console_signin_failures_alarm.json")
    first, second = parse_alarm(message), parse_alarm(message)
    assert first == second
    assert hash(first) == hash(second)


# --- not alarms -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("The alarm fired, please look", "Message is not JSON"),
        ("", "Message is empty"),
        ("   \n", "Message is empty"),
        ('{"AlarmName": "x",', "Message is not JSON"),
        ("[1, 2, 3]", "Message JSON is an array, not an object"),
        ('"ALARM"', "Message JSON is a string, not an object"),
        ("42", "Message JSON is a number, not an object"),
        ("true", "Message JSON is a boolean, not an object"),
        ("null", "Message JSON is null, not an object"),
        ('{"NewStateValue": "ALARM"}', "JSON has no AlarmName"),
        ('{"AlarmName": null, "NewStateValue": "ALARM"}', "JSON has no AlarmName"),
        ('{"AlarmName": "x"}', "JSON has no NewStateValue"),
        ('{"Type": "Notification"}', "JSON has no AlarmName/NewStateValue"),
        (minimal(AlarmName=""), "AlarmName is empty"),
        (minimal(AlarmName=["a"]), 'AlarmName ["a"] is not a string'),
        (minimal(AlarmName=True), "AlarmName true is not a string"),
        (
            minimal(NewStateValue="FIRING"),
            'NewStateValue "FIRING" is not one of ALARM, OK, INSUFFICIENT_DATA',
        ),
        (
            minimal(NewStateValue="alarm"),
            'NewStateValue "alarm" is not one of ALARM, OK, INSUFFICIENT_DATA',
        ),
        (
            minimal(NewStateValue=1),
            "NewStateValue 1 is not one of ALARM, OK, INSUFFICIENT_DATA",
        ),
        (
            minimal(StateChangeTime="21/11/26 03:10:00"),
            'StateChangeTime "21/11/26 03:10:00" is not a timestamp',
        ),
        (minimal(StateChangeTime=1543412345), "StateChangeTime 1543412345 is not a timestamp"),
        (minimal(StateChangeTime=None), "StateChangeTime null is not a timestamp"),
        (minimal(StateChangeTime=...), "StateChangeTime (absent) is not a timestamp"),
        ('{"AlarmName": "x", "Threshold": NaN}', "Message JSON has a non-finite number (NaN)"),
        ('{"AlarmName": "x", "Threshold": 1e400}', "Message JSON has a non-finite number (1e400)"),
        ("[" * 100_000, "Message JSON is nested too deeply"),
        (
            minimal(Trigger={"Metrics": nested(31)}),
            "Message JSON is nested deeper than 32 levels",
        ),
        (minimal(AlarmDescription="a\u0000b"), "Message JSON contains a NUL character"),
        (
            minimal(Trigger={"Unit": "\ud800"}),
            "Message JSON contains a lone surrogate (invalid Unicode)",
        ),
        (
            '{"\\udfff": 1, "AlarmName": "x"}',
            "Message JSON contains a lone surrogate (invalid Unicode)",
        ),
    ],
)
def test_not_an_alarm_reasons(message: str, reason: str) -> None:
    with pytest.raises(NotAnAlarm) as caught:
        parse_alarm(message)
    assert caught.value.reason == reason
    assert str(caught.value) == reason


def test_nesting_up_to_the_limit_is_accepted() -> None:
    # message object (1) > Trigger (2) > Metrics (3..32)
    alarm = parse_alarm(minimal(Trigger={"Metrics": nested(30)}))
    assert_sound(alarm)


def test_long_values_are_shortened_in_reasons() -> None:
    with pytest.raises(NotAnAlarm) as caught:
        parse_alarm(minimal(NewStateValue="X" * 10_000))
    assert len(caught.value.reason) < 200
    assert "..." in caught.value.reason


def test_sns_envelope_itself_is_not_an_alarm() -> None:
    with pytest.raises(NotAnAlarm) as caught:
        parse_alarm(fixture_text("sns_envelope_cloudtrail_changes_alarm.json"))
    assert caught.value.reason == "JSON has no AlarmName/NewStateValue"


# --- fuzzing ------------------------------------------------------------------------

ODD_VALUES: list[object] = [
    None,
    True,
    False,
    0,
    -1,
    3.5,
    10**40,
    "",
    " ",
    "ALARM",
    "OK",
    "\u0000",
    "\ud800",
    "é☃\U0001f6a8",
    "arn:aws:cloudwatch:eu-west-1:1:alarm:",
    "arn:aws:cloudwatch:eu-west-1:1:alarm:\ud800",
    "2026-11-21T13:06:06Z",
    [],
    [None, {}],
    {},
    {"Metrics": [None, 1, {"ReturnData": True}]},
    {"Metrics": [{"ReturnData": True, "MetricStat": {"Metric": None}}]},
    {"Dimensions": [None, {"name": []}], "Threshold": [], "Period": {}},
    {"a": [[[[[[[[[[{}]]]]]]]]]]},
]

ALARM_KEYS = [
    "AlarmName",
    "AlarmDescription",
    "AWSAccountId",
    "NewStateValue",
    "NewStateReason",
    "StateChangeTime",
    "Region",
    "AlarmArn",
    "OldStateValue",
    "Trigger",
]

TRIGGER_KEYS = [
    "MetricName",
    "Namespace",
    "Statistic",
    "StatisticType",
    "ExtendedStatistic",
    "Dimensions",
    "Period",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "ComparisonOperator",
    "Threshold",
    "ThresholdMetricId",
    "Metrics",
]


def mutate_structure(rng: random.Random, data: dict[str, Any]) -> dict[str, Any]:
    data = json.loads(json.dumps(data))
    for _ in range(rng.randint(1, 4)):
        target = data
        keys = ALARM_KEYS
        if rng.random() < 0.4:
            if not isinstance(data.get("Trigger"), dict):
                data["Trigger"] = {}
            target, keys = data["Trigger"], TRIGGER_KEYS
        key = rng.choice(keys)
        if rng.random() < 0.2:
            target.pop(key, None)
        else:
            target[key] = copy.deepcopy(rng.choice(ODD_VALUES))
    return data


def mutate_text(rng: random.Random, text: str) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 8)):
        position = rng.randrange(len(chars) + 1)
        action = rng.random()
        if action < 0.3 and chars:
            del chars[min(position, len(chars) - 1)]
        elif action < 0.6:
            chars.insert(position, rng.choice('{}[]",:0 \\ntruefalsnul\u0000\ud800é'))
        elif chars:
            chars[min(position, len(chars) - 1)] = chr(rng.randrange(0x30000))
    if rng.random() < 0.1:
        chars = chars[: rng.randrange(len(chars) + 1)]
    return "".join(chars)


def random_text(rng: random.Random) -> str:
    alphabet = '{}[]":,0123456789.-+eETZ \t\nabcdefghijklmnopqrstuvwxyz\\/\u0000\ud800é'
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 60)))


def test_only_not_an_alarm_escapes() -> None:
    rng = random.Random(20261121)
    bases = [fixture_json(name) for name in FIXTURE_NAMES if name.startswith("alarm_message")]
    bases.append(json.loads(alarm_message("sns_envelope_cloudtrail_changes_alarm.json")))
    texts = [json.dumps(base) for base in bases]
    parsed = rejected = 0
    for iteration in range(4000):
        kind = iteration % 3
        if kind == 0:
            message = json.dumps(mutate_structure(rng, rng.choice(bases)))
        elif kind == 1:
            message = mutate_text(rng, rng.choice(texts))
        else:
            message = random_text(rng)
        try:
            alarm = parse_alarm(message)
        except NotAnAlarm as exc:
            assert exc.reason
            json.dumps(exc.reason, ensure_ascii=False).encode("utf-8")  # storable
            rejected += 1
        else:
            assert_sound(alarm)
            parsed += 1
    # The loop must exercise both outcomes to mean anything.
    assert parsed > 500
    assert rejected > 500
