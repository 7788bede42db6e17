"""A bundled library of CloudTrail records to try filter patterns and detections on.

Each ``<id>.json`` file beside this module holds ``{"title", "record"}``: one CloudTrail
record written from the documented record fields, with documentation account ids
(111122223333, 123456789012) and documentation IP addresses (192.0.2.x, 198.51.100.x,
203.0.113.x). None of it is real account data.

A :class:`CloudTrailSample` gives the record as CloudWatch Logs stores it (``message``:
the JSON on one line, what a metric filter sees) and, through
:func:`as_eventbridge_event`, as EventBridge delivers it to an SNS topic.

This module is pure: no Django, no database, no network.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

__all__ = [
    "DETAIL_TYPES",
    "SAMPLES",
    "CloudTrailSample",
    "as_eventbridge_event",
    "eventbridge_event",
    "sample_by_id",
]

_FOLDER: Final = Path(__file__).resolve().parent

# EventBridge's detail-type for each CloudTrail eventType.
DETAIL_TYPES: Final[dict[str, str]] = {
    "AwsApiCall": "AWS API Call via CloudTrail",
    "AwsConsoleSignIn": "AWS Console Sign In via CloudTrail",
    "AwsConsoleAction": "AWS Console Action via CloudTrail",
    "AwsServiceEvent": "AWS Service Event via CloudTrail",
}

# EventBridge event ids are UUIDs; deriving them from the CloudTrail eventID keeps the
# envelope of a sample the same on every call.
_EVENT_ID_NAMESPACE: Final = uuid.UUID("0f3c2d4e-6a7b-4c8d-9e0f-1a2b3c4d5e6f")


@dataclass(frozen=True)
class CloudTrailSample:
    id: str
    title: str
    message: str
    """The record as one line of JSON, exactly what CloudWatch Logs stores as the event."""

    @property
    def record(self) -> dict[str, Any]:
        """The record as a fresh dict (callers may change it without touching the library)."""
        record: dict[str, Any] = json.loads(self.message)
        return record


def _load(path: Path) -> CloudTrailSample:
    data = json.loads(path.read_text(encoding="utf-8"))
    # CloudTrail writes compact JSON; metric filters run over that text.
    message = json.dumps(data["record"], separators=(",", ":"), ensure_ascii=False)
    return CloudTrailSample(id=path.stem, title=data["title"], message=message)


SAMPLES: Final[tuple[CloudTrailSample, ...]] = tuple(
    _load(path) for path in sorted(_FOLDER.glob("*.json"))
)
_BY_ID: Final[dict[str, CloudTrailSample]] = {sample.id: sample for sample in SAMPLES}


def sample_by_id(sample_id: str) -> CloudTrailSample:
    """The sample with this id; ``KeyError`` naming it when there is none."""
    try:
        return _BY_ID[sample_id]
    except KeyError:
        raise KeyError(f"no CloudTrail sample with id {sample_id!r}") from None


def eventbridge_event(record: dict[str, Any]) -> dict[str, Any]:
    """Wrap a CloudTrail record the way EventBridge delivers it ("detail" is the record).

    The source is ``aws.`` and the service part of ``eventSource``
    (``signin.amazonaws.com`` -> ``aws.signin``), as EventBridge names CloudTrail events.
    """
    service = str(record["eventSource"]).split(".", 1)[0]
    return {
        "version": "0",
        "id": str(uuid.uuid5(_EVENT_ID_NAMESPACE, str(record["eventID"]))),
        "detail-type": DETAIL_TYPES[record["eventType"]],
        "source": f"aws.{service}",
        "account": record["recipientAccountId"],
        "time": record["eventTime"],
        "region": record["awsRegion"],
        "resources": [],
        "detail": record,
    }


def as_eventbridge_event(sample: CloudTrailSample) -> dict[str, Any]:
    """The sample as an EventBridge event, the payload the EventBridge path receives."""
    return eventbridge_event(sample.record)
