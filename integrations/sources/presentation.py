"""Each source presents its own details: the incident page asks the integration's kind
for the function that lays out what that kind's parser stored on an incident.

A new source adds one line to PRESENTERS: its function returns an object with a
``template`` (rendered on the incident page with it as ``facts``), or None when the
details are not its own (then the page shows the raw details alone)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from integrations.sources import cloudwatch


class Facts(Protocol):
    """What a presenter returns: anything with the template that shows it."""

    @property
    def template(self) -> str: ...


Presenter = Callable[[Any], Facts | None]

# Integration.Kind value -> its presenter. An Amazon SNS integration carries CloudWatch
# alarms (and the odd message published by hand, which alarm_facts leaves raw).
PRESENTERS: dict[str, Presenter] = {
    "aws_sns": cloudwatch.alarm_facts,
}


def incident_facts(*, kind: str, details: Any) -> Facts | None:
    """The details of an incident from an integration of ``kind``, laid out for a
    person; None when that kind has no presenter or the details are not its own."""
    presenter = PRESENTERS.get(kind)
    return presenter(details) if presenter is not None else None
