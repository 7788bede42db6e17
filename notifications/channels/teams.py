"""Microsoft Teams, through a Workflows webhook (the Office 365 connectors are retired).

In Teams, a channel's owner adds the Workflows template "Post to a channel when a webhook
request is received" and pastes the URL it gives into Klaxon: that URL is the
destination. Workflows accepts a message whose attachment is an Adaptive Card
(``contentType: application/vnd.microsoft.card.adaptive``) and answers 202. The card
shows the incident and buttons that open Klaxon's signed acknowledge / resolve links in
the browser (Workflows cards cannot call back into Klaxon themselves).

The URL is user input: it is SSRF-checked and pinned like an outgoing webhook
(``KLAXON_WEBHOOK_ALLOW_PRIVATE``), with the ``KLAXON_WEBHOOK_TIMEOUT`` timeout."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Self

from notifications import ssrf
from notifications.channels import http
from notifications.channels.base import Channel, Delivery, OutgoingMessage, register

CARD_VERSION = "1.4"  # what Teams renders on desktop, web and mobile
DESCRIPTION_CHARS = 1000


def _facts(message: OutgoingMessage) -> list[dict[str, str]]:
    incident = message.incident
    if incident is None:
        return []
    facts = [("State", incident.state.capitalize())]
    if incident.severity:
        facts.append(("Severity", incident.severity))
    if incident.integration:
        facts.append(("Integration", incident.integration))
    if incident.opened_at is not None:
        facts.append(("Opened", f"{incident.opened_at:%Y-%m-%d %H:%M} UTC"))
    return [{"title": title, "value": value} for title, value in facts]


def _actions(message: OutgoingMessage) -> list[dict[str, str]]:
    incident = message.incident
    actions: list[dict[str, str]] = []
    if incident is None:
        return actions
    if incident.state == "triggered" and message.acknowledge_url:
        actions.append(
            {"type": "Action.OpenUrl", "title": "Acknowledge", "url": message.acknowledge_url}
        )
    if incident.state != "resolved" and message.resolve_url:
        actions.append({"type": "Action.OpenUrl", "title": "Resolve", "url": message.resolve_url})
    if incident.url:
        actions.append({"type": "Action.OpenUrl", "title": "Open in Klaxon", "url": incident.url})
    return actions


def adaptive_card(message: OutgoingMessage) -> dict[str, Any]:
    """The Adaptive Card for ``message``."""
    incident = message.incident
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": message.headline(),
            "size": "Large",
            "weight": "Bolder",
            "wrap": True,
            "color": "Attention" if incident and incident.state == "triggered" else "Default",
        }
    ]
    if message.text:
        body.append({"type": "TextBlock", "text": message.text, "wrap": True})
    if facts := _facts(message):
        body.append({"type": "FactSet", "facts": facts})
    if incident and incident.description:
        description = incident.description[:DESCRIPTION_CHARS]
        body.append({"type": "TextBlock", "text": description, "wrap": True, "isSubtle": True})
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
        "msteams": {"width": "Full"},
    }
    if actions := _actions(message):
        card["actions"] = actions
    return card


def workflows_payload(message: OutgoingMessage) -> dict[str, Any]:
    """The body a Workflows webhook takes: a message with the card attached."""
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": adaptive_card(message),
            }
        ],
    }


@register
class TeamsChannel(Channel):
    kind = "teams"

    def __init__(
        self,
        *,
        allow_private: bool = False,
        timeout: float = 5.0,
        resolver: ssrf.Resolver = ssrf.system_resolver,
    ) -> None:
        self.allow_private = allow_private
        self.timeout = timeout
        self.resolver = resolver

    @classmethod
    def from_settings(cls, options: Mapping[str, str] | None = None) -> Self:
        return cls(**http.target_settings())

    def send(self, message: OutgoingMessage) -> Delivery:
        payload = json.dumps(workflows_payload(message)).encode()
        record, headers = http.post(
            message.destination,
            body=payload,
            headers={"Content-Type": "application/json"},
            timeout=self.timeout,
            allow_private=self.allow_private,
            resolver=self.resolver,
            what="the Teams workflow",
            gone="the workflow was deleted or turned off, or its URL changed",
        )
        return Delivery(
            # Power Automate names the run it started; keep it for support requests.
            provider_id=headers.get("x-ms-workflow-run-id", ""),
            provider_status=str(record.status_code),
            subject=message.headline(),
            body=message.text,
            response=record,
        )
