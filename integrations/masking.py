"""What the Inbound Log shows of a stored body: pretty JSON, with the UnsubscribeURL
masked (anyone who opens it silently unsubscribes the endpoint)."""

from __future__ import annotations

import json
import re
from typing import Any

from integrations.text import valid_text

_UNSUBSCRIBE_KEY = "unsubscribeurl"
# Both patterns run in linear time: a body is attacker-controlled text of up to 256 KiB.
_URL = re.compile(r"https?://[^\s\"'<>\\]+", re.IGNORECASE)
_SUBSCRIPTION_ARN_VALUE = re.compile(r"(SubscriptionArn=)[^&#]*", re.IGNORECASE)
MASK = "(masked: opening this link would unsubscribe Klaxon)"


def masked_json(data: Any) -> Any:
    if isinstance(data, dict):
        return {
            key: MASK if key.lower() == _UNSUBSCRIBE_KEY and value else masked_json(value)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [masked_json(item) for item in data]
    return data


def mask_text(text: str) -> str:
    """Mask the SubscriptionArn of any unsubscribe link written out in ``text``."""
    return _URL.sub(_mask_link, text)


def _mask_link(match: re.Match[str]) -> str:
    url = match.group()
    if "action=unsubscribe" not in url.lower():
        return url
    return _SUBSCRIPTION_ARN_VALUE.sub(r"\1…masked", url)


def display_body(body: str) -> str:
    """The stored body for people: indented JSON when it is JSON, the Message too.

    Always valid text: a JSON escape such as "\ud800" in the stored body decodes to a
    lone surrogate that no page or API answer could encode (see integrations.text)."""
    try:
        shown = _pretty(body)
    except (ValueError, RecursionError):  # not JSON, or nested too deep to walk
        shown = mask_text(body)
    return valid_text(shown)


def _pretty(body: str) -> str:
    data = json.loads(body)
    if isinstance(data, dict) and isinstance(data.get("Message"), str):
        try:
            inner = json.loads(data["Message"])
        except ValueError:
            inner = None
        if isinstance(inner, dict | list):
            data = {**data, "Message": inner}
    # The text pass as well: the link can also sit inside a string (a hand-published
    # Message, a JSON string body), where the key-based mask does not reach.
    return mask_text(json.dumps(masked_json(data), indent=2, ensure_ascii=False))


def display_headers(headers: Any) -> str:
    """One "Name: value" line per stored header (anything else stored there as text)."""
    if not isinstance(headers, dict):
        return valid_text(str(headers))
    lines = sorted(f"{k}: {v}" for k, v in headers.items())
    return valid_text("\n".join(lines))
