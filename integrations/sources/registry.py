"""Which parser reads which integration kind's requests.

Adding a kind is adding one module in ``integrations.sources`` with
``parse(body, *, content_type="") -> list[AlertEvent]`` and one line here.
(``aws_sns`` goes through the SNS envelope and signature check first: see ``sns.py``.)
"""

from __future__ import annotations

from typing import Final, Protocol

from integrations.sources import alertmanager, opsgenie, pagerduty, webhook
from integrations.sources.events import AlertEvent

__all__ = ["PARSERS", "Parser", "parser_for"]


class Parser(Protocol):
    def __call__(self, body: bytes, *, content_type: str = "") -> list[AlertEvent]: ...


PARSERS: Final[dict[str, Parser]] = {
    "pagerduty": pagerduty.parse,
    "alertmanager": alertmanager.parse,
    "opsgenie": opsgenie.parse,
    "webhook": webhook.parse,
}


def parser_for(kind: str) -> Parser:
    """The parser for an integration kind; KeyError for a kind without one."""
    return PARSERS[kind]
