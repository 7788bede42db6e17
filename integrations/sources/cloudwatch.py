"""Parse Amazon CloudWatch alarm state-change messages.

When a CloudWatch alarm changes state it publishes to an SNS topic, and the SNS
``Notification`` carries the alarm as a JSON *string* in its ``Message`` field.
:func:`parse_alarm` turns that string into a :class:`CloudWatchAlarm`, or raises
:class:`NotAnAlarm` with a short reason suitable for the Inbound Log.

This module is pure: no Django, no database, no network.  Whatever string it is
given, the only exception that leaves :func:`parse_alarm` is :class:`NotAnAlarm`.

The source also presents what it stored: :func:`alarm_facts` reads the details
:meth:`CloudWatchAlarm.details` wrote on an incident back into :class:`AlarmFacts` for
the incident page (``integrations/sources/presentation.py`` picks it by kind).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, ClassVar, Final
from urllib.parse import quote

__all__ = [
    "ALARM",
    "ALARM_STATES",
    "INSUFFICIENT_DATA",
    "OK",
    "AlarmFacts",
    "CloudWatchAlarm",
    "NotAnAlarm",
    "alarm_facts",
    "parse_alarm",
    "parse_state_change_time",
]

ALARM: Final = "ALARM"
OK: Final = "OK"
INSUFFICIENT_DATA: Final = "INSUFFICIENT_DATA"
ALARM_STATES: Final[tuple[str, ...]] = (ALARM, OK, INSUFFICIENT_DATA)

# How CloudWatch's ComparisonOperator values read to a human: as plain text in the
# metric summary stored on an incident, and as a symbol and in words on its page.
OPERATORS: Final[dict[str, tuple[str, str, str]]] = {
    "GreaterThanOrEqualToThreshold": (">=", "≥", "greater than or equal to"),
    "GreaterThanThreshold": (">", ">", "greater than"),
    "LessThanThreshold": ("<", "<", "less than"),
    "LessThanOrEqualToThreshold": ("<=", "≤", "less than or equal to"),
    # Anomaly-detection alarms compare against a band instead of a number.
    "LessThanLowerOrGreaterThanUpperThreshold": (
        "outside band",
        "outside",
        "outside the anomaly band",
    ),
    "LessThanLowerThreshold": ("below band", "below", "below the anomaly band"),
    "GreaterThanUpperThreshold": ("above band", "above", "above the anomaly band"),
}

_TIMESTAMP_RE: Final = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})"
    r"T(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})"
    r"(?:\.(?P<fraction>[0-9]{1,9}))?"
    r"(?:Z|(?P<sign>[+-])(?P<offset_hours>[0-9]{2}):?(?P<offset_minutes>[0-9]{2}))"
)

# arn:<partition>:cloudwatch:<region>:<account>:alarm:<name>; a name may contain ':'.
_ALARM_ARN_RE: Final = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):cloudwatch:(?P<region>[^:]*):[^:]*:alarm:.+",
    re.DOTALL,
)
# Region codes such as eu-west-1, us-gov-west-1, ap-southeast-5.  Anything else is
# ignored so that a crafted ARN cannot steer the console link to another host.
_REGION_CODE_RE: Final = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}")

_REASON_VALUE_LIMIT: Final = 80

# Real alarm messages nest about five levels deep.  Refusing much deeper ones keeps
# recursive consumers (json.dumps, repr, template rendering) safe.
MAX_NESTING: Final = 32
# Text that Postgres cannot store (NUL) or that is not valid Unicode (lone surrogates).
_UNSTORABLE_RE: Final = re.compile("[\x00\ud800-\udfff]")


class NotAnAlarm(Exception):
    """The SNS Message is not a CloudWatch alarm state change we can use."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


@dataclass(frozen=True)
class CloudWatchAlarm:
    """One CloudWatch alarm state change, as carried in an SNS Message."""

    alarm_name: str
    alarm_description: str
    account_id: str
    region: str
    region_code: str
    alarm_arn: str
    new_state: str
    old_state: str
    reason: str
    state_change_time: datetime
    trigger: dict[str, Any] = field(default_factory=dict, hash=False)
    raw: dict[str, Any] = field(default_factory=dict, hash=False, repr=False)

    @property
    def dedup_key(self) -> str:
        """Identifies the alarm across state changes: its ARN when it has one."""
        if self.alarm_arn:
            return self.alarm_arn
        return f"{self.alarm_name}|{self.account_id}|{self.region}"

    @property
    def metric_summary(self) -> str:
        """A short human description of what the alarm watches, '' without a Trigger."""
        trigger = self.trigger
        if not trigger:
            return ""
        threshold_id = _scalar_text(trigger.get("ThresholdMetricId"))
        metrics = trigger.get("Metrics")
        if isinstance(metrics, list) and metrics:
            subject = _describe_metric_math(metrics, threshold_id)
        else:
            subject = _describe_metric(
                trigger.get("MetricName"),
                trigger.get("Namespace"),
                trigger.get("Dimensions"),
                _statistic(trigger),
            )
        operator = _scalar_text(trigger.get("ComparisonOperator"))
        operator = OPERATORS[operator][0] if operator in OPERATORS else operator
        threshold = threshold_id or _scalar_text(trigger.get("Threshold"))
        window = _describe_window(trigger)
        return " ".join(part for part in (subject, operator, threshold, window) if part)

    @property
    def console_url(self) -> str:
        """Link to the alarm in the AWS console, '' when the ARN gives no region."""
        if not self.region_code:
            return ""
        match = _ALARM_ARN_RE.fullmatch(self.alarm_arn)
        if match is None or match["partition"] != "aws":
            return ""
        name = quote(self.alarm_name, safe="", errors="replace")
        return (
            f"https://{self.region_code}.console.aws.amazon.com/cloudwatch/home"
            f"?region={self.region_code}#alarmsV2:alarm/{name}"
        )

    def details(self) -> dict[str, object]:
        """The alarm's fields as a JSON-serialisable dict, for storing on an incident."""
        return {
            "alarm_name": self.alarm_name,
            "description": self.alarm_description,
            "account_id": self.account_id,
            "region": self.region,
            "region_code": self.region_code,
            "alarm_arn": self.alarm_arn,
            "new_state": self.new_state,
            "old_state": self.old_state,
            "reason": self.reason,
            "state_change_time": self.state_change_time.isoformat(),
            "metric_summary": self.metric_summary,
            "console_url": self.console_url,
            "trigger": dict(self.trigger),
        }


def parse_state_change_time(value: str) -> datetime:
    """Parse a CloudWatch StateChangeTime into a timezone-aware UTC datetime.

    Accepts ``2018-07-03T14:23:28.949+0000`` (what CloudWatch sends),
    ``2026-11-21T13:06:06.716Z``, with or without fractional seconds, and offsets
    written ``+0000`` or ``+00:00``.  Raises ValueError for anything else,
    including timestamps without a zone.
    """
    if not isinstance(value, str):
        raise ValueError(f"not a timestamp: {value!r}")
    match = _TIMESTAMP_RE.fullmatch(value)
    if match is None:
        raise ValueError(f"not a timestamp: {value!r}")
    offset = timedelta(0)
    if match["sign"] is not None:
        hours, minutes = int(match["offset_hours"]), int(match["offset_minutes"])
        if hours > 23 or minutes > 59:
            raise ValueError(f"not a timestamp (bad UTC offset): {value!r}")
        offset = timedelta(hours=hours, minutes=minutes)
        if match["sign"] == "-":
            offset = -offset
    # Digits past microseconds are dropped, not rounded.
    microsecond = int((match["fraction"] or "").ljust(6, "0")[:6])
    try:
        local = datetime(
            int(match["year"]),
            int(match["month"]),
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"]),
            microsecond,
            tzinfo=timezone(offset),
        )
        return local.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"not a timestamp: {value!r}") from exc


def parse_alarm(message: str) -> CloudWatchAlarm:
    """Parse the SNS ``Message`` string of a CloudWatch alarm notification.

    Raises NotAnAlarm (and nothing else) when the message is not one.
    """
    data = _decode_object(message)

    missing = [key for key in ("AlarmName", "NewStateValue") if data.get(key) is None]
    if missing:
        raise NotAnAlarm(f"JSON has no {'/'.join(missing)}")

    name_value = data["AlarmName"]
    if isinstance(name_value, bool) or not isinstance(name_value, str | int | float):
        raise NotAnAlarm(f"AlarmName {_show(name_value)} is not a string")
    alarm_name = _text(name_value)
    if not alarm_name.strip():
        raise NotAnAlarm("AlarmName is empty")

    new_state = data["NewStateValue"]
    if not isinstance(new_state, str) or new_state not in ALARM_STATES:
        raise NotAnAlarm(
            f"NewStateValue {_show(new_state)} is not one of {', '.join(ALARM_STATES)}"
        )

    if "StateChangeTime" not in data:
        raise NotAnAlarm("StateChangeTime (absent) is not a timestamp")
    time_value = data["StateChangeTime"]
    try:
        state_change_time = parse_state_change_time(time_value)
    except ValueError:
        raise NotAnAlarm(f"StateChangeTime {_show(time_value)} is not a timestamp") from None

    alarm_arn = _text(data.get("AlarmArn"))
    trigger = data.get("Trigger")
    return CloudWatchAlarm(
        alarm_name=alarm_name,
        alarm_description=_text(data.get("AlarmDescription")),
        account_id=_text(data.get("AWSAccountId")),
        region=_text(data.get("Region")),
        region_code=_region_code(alarm_arn),
        alarm_arn=alarm_arn,
        new_state=new_state,
        old_state=_text(data.get("OldStateValue")),
        reason=_text(data.get("NewStateReason")),
        state_change_time=state_change_time,
        trigger=trigger if isinstance(trigger, dict) else {},
        raw=data,
    )


# --- decoding -------------------------------------------------------------------


class _NonFiniteNumber(ValueError):
    pass


def _reject_constant(name: str) -> float:
    raise _NonFiniteNumber(name)


def _finite_float(literal: str) -> float:
    number = float(literal)
    if not math.isfinite(number):
        raise _NonFiniteNumber(literal)
    return number


def _decode_object(message: str) -> dict[str, Any]:
    if not isinstance(message, str):
        raise NotAnAlarm("Message is not a string")
    text = message.removeprefix("\ufeff")
    if not text.strip():
        raise NotAnAlarm("Message is empty")
    try:
        data = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except _NonFiniteNumber as exc:
        raise NotAnAlarm(f"Message JSON has a non-finite number ({exc})") from None
    except RecursionError:
        raise NotAnAlarm("Message JSON is nested too deeply") from None
    except ValueError:
        raise NotAnAlarm("Message is not JSON") from None
    if not isinstance(data, dict):
        raise NotAnAlarm(f"Message JSON is {_json_kind(data)}, not an object")
    _check_storable(data)
    return data


def _check_storable(data: dict[str, Any]) -> None:
    """Refuse JSON nested deeper than MAX_NESTING or holding NUL / lone surrogates."""
    pending: list[tuple[object, int]] = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            found = _UNSTORABLE_RE.search(value)
            if found is None:
                continue
            if found.group() == "\x00":
                raise NotAnAlarm("Message JSON contains a NUL character")
            raise NotAnAlarm("Message JSON contains a lone surrogate (invalid Unicode)")
        if isinstance(value, dict):
            children: list[object] = [*value.keys(), *value.values()]
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > MAX_NESTING:
            raise NotAnAlarm(f"Message JSON is nested deeper than {MAX_NESTING} levels")
        pending.extend((child, depth + 1) for child in children)


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "null"


def _text(value: object) -> str:
    """A JSON value as text: strings as they are, null as '', anything else as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _show(value: object) -> str:
    """A JSON value as it appears in a NotAnAlarm reason: JSON, ASCII, bounded length."""
    try:
        shown = json.dumps(value, ensure_ascii=True)
    except (TypeError, ValueError, RecursionError):
        shown = "(unprintable)"
    if len(shown) > _REASON_VALUE_LIMIT:
        shown = shown[: _REASON_VALUE_LIMIT - 3] + "..."
    return shown


def _region_code(alarm_arn: str) -> str:
    match = _ALARM_ARN_RE.fullmatch(alarm_arn)
    if match is None or not _REGION_CODE_RE.fullmatch(match["region"]):
        return ""
    return match["region"]


# --- metric summary ---------------------------------------------------------------


def _scalar_text(value: object) -> str:
    """Text for a string or number, '' for anything else (null, bool, list, object)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    return repr(value)


def _statistic(trigger: dict[str, Any]) -> str:
    extended = _scalar_text(trigger.get("ExtendedStatistic"))
    if extended and trigger.get("StatisticType") != "Statistic":
        return extended
    return _statistic_name(_scalar_text(trigger.get("Statistic")))


def _statistic_name(statistic: str) -> str:
    """CloudWatch sends SUM, AVERAGE, SAMPLE_COUNT...; the console says Sum, SampleCount."""
    if statistic.isupper() or "_" in statistic:
        return "".join(part.capitalize() for part in statistic.split("_"))
    return statistic


def _describe_dimensions(dimensions: object) -> list[str]:
    if not isinstance(dimensions, list):
        return []
    described = []
    for dimension in dimensions:
        if not isinstance(dimension, dict):
            continue
        # SNS messages use name/value; the CloudWatch API spells them Name/Value.
        name = _scalar_text(dimension.get("name", dimension.get("Name")))
        value = _scalar_text(dimension.get("value", dimension.get("Value")))
        if name:
            described.append(f"{name}={value}")
    return described


def _describe_metric(name: object, namespace: object, dimensions: object, stat: str) -> str:
    qualifiers = [_scalar_text(namespace), *_describe_dimensions(dimensions)]
    inside = ", ".join(part for part in qualifiers if part)
    parts = [_scalar_text(name), f"({inside})" if inside else "", stat]
    return " ".join(part for part in parts if part)


def _describe_metric_math(metrics: list[Any], threshold_id: str) -> str:
    queries = [query for query in metrics if isinstance(query, dict)]
    chosen = [query for query in queries if query.get("ReturnData") is True]
    if not chosen:
        chosen = [query for query in queries if "ReturnData" not in query]
    # For anomaly-detection alarms the band is the threshold, not the subject.
    subjects = [q for q in chosen if not threshold_id or q.get("Id") != threshold_id]
    described = [text for text in map(_describe_query, subjects or chosen) if text]
    return ", ".join(described) or "metric math"


def _describe_query(query: dict[str, Any]) -> str:
    expression = _scalar_text(query.get("Expression"))
    if expression:
        return expression
    stat = query.get("MetricStat")
    if isinstance(stat, dict):
        metric = stat.get("Metric")
        if isinstance(metric, dict):
            return _describe_metric(
                metric.get("MetricName"),
                metric.get("Namespace"),
                metric.get("Dimensions"),
                _statistic_name(_scalar_text(stat.get("Stat"))),
            )
    return _scalar_text(query.get("Label")) or _scalar_text(query.get("Id"))


def _describe_window(trigger: dict[str, Any]) -> str:
    periods = _scalar_text(trigger.get("EvaluationPeriods"))
    seconds = _scalar_text(trigger.get("Period"))
    if not periods or not seconds:
        return ""
    datapoints = _scalar_text(trigger.get("DatapointsToAlarm"))
    if datapoints and datapoints != periods:
        return f"for {datapoints} of {periods} x {seconds} s"
    return f"for {periods} x {seconds} s"


# --- Presentation: the stored details, laid out for a person -----------------------


def _number(value: Any) -> str:
    """3.0 -> "3", 0.25 -> "0.25"; anything else as text."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value) if value not in (None, "") else ""
    return f"{value:g}"


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds <= 0:
        return ""
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def _moment(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:  # not ISO 8601, or impossible (month 13)
        return None


@dataclass(frozen=True)
class AlarmFacts:
    """A CloudWatch alarm laid out for a person at 3 a.m."""

    # The incident page includes this template to show them.
    template: ClassVar[str] = "integrations/facts/cloudwatch_alarm.html"

    metric: str
    statistic: str
    threshold: str
    threshold_words: str
    evaluation: str
    reason: str
    transition: str
    changed_at: datetime | None
    account: str
    region: str
    arn: str
    console_url: str


def alarm_facts(details: Any) -> AlarmFacts | None:
    """The human fields of a CloudWatch alarm stored on an incident (what
    ``CloudWatchAlarm.details`` wrote), or None when the details are not from one. Details
    are JSON from outside (and from rows older than this code): every field is optional
    and of any type."""
    if not isinstance(details, dict) or not (details.get("alarm_arn") or details.get("trigger")):
        return None
    trigger = details.get("trigger") if isinstance(details.get("trigger"), dict) else {}
    assert isinstance(trigger, dict)
    metric = ""
    if trigger.get("MetricName"):
        metric = str(trigger["MetricName"])
        if trigger.get("Namespace"):
            metric += f" ({trigger['Namespace']})"
        dimensions = trigger.get("Dimensions")
        if isinstance(dimensions, list):
            pairs = [
                f"{d.get('name') or d.get('Name')}={d.get('value') or d.get('Value')}"
                for d in dimensions
                if isinstance(d, dict)
            ]
            if pairs:
                metric += " " + ", ".join(pairs)
    metric = metric or str(details.get("metric_summary") or "")
    statistic = str(trigger.get("Statistic") or trigger.get("ExtendedStatistic") or "")
    period = _duration(trigger.get("Period"))
    if statistic:
        statistic = statistic.title() if statistic.isupper() else statistic
        statistic += f" over {period}" if period else ""
    operator = str(trigger.get("ComparisonOperator") or "")
    _, symbol, words = OPERATORS.get(operator, (operator, operator, operator))
    limit = _number(trigger.get("Threshold")) or str(trigger.get("ThresholdMetricId") or "")
    threshold = f"{symbol} {limit}".strip() if limit or symbol else ""
    evaluations = trigger.get("EvaluationPeriods")
    needed = trigger.get("DatapointsToAlarm") or evaluations
    evaluation = ""
    if isinstance(evaluations, int) and isinstance(needed, int):
        evaluation = f"{needed} of the last {evaluations} period{'s' if evaluations != 1 else ''}"
        evaluation += f" of {period}" if period else ""
    region = str(details.get("region") or "")
    code = str(details.get("region_code") or "")
    old, new = details.get("old_state"), details.get("new_state")
    return AlarmFacts(
        metric=metric,
        statistic=statistic,
        threshold=threshold,
        threshold_words=f"{words} {limit}".strip() if limit else "",
        evaluation=evaluation,
        reason=str(details.get("reason") or ""),
        transition=f"{old} → {new}" if old and new else str(new or ""),
        changed_at=_moment(details.get("state_change_time")),
        account=str(details.get("account_id") or ""),
        region=f"{region} ({code})" if region and code and code != region else region or code,
        arn=str(details.get("alarm_arn") or ""),
        # Built by the parser from the ARN, https on console.aws.amazon.com only.
        console_url=str(details.get("console_url") or ""),
    )
