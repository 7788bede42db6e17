"""What the Inbound Log shows of a stored body: pretty JSON, with the UnsubscribeURL
masked (anyone who opens it silently unsubscribes the endpoint)."""

from __future__ import annotations

import json
import re
from typing import Any

_UNSUBSCRIBE_KEYS = ("UnsubscribeURL", "UnsubscribeUrl")
_UNSUBSCRIBE_IN_TEXT = re.compile(r"(Action=Unsubscribe[^\s\"]*SubscriptionArn=)[^\s\"&]+")
MASK = "(masked: opening this link would unsubscribe Klaxon)"


def masked_json(data: Any) -> Any:
    if isinstance(data, dict):
        return {
            key: MASK if key in _UNSUBSCRIBE_KEYS and value else masked_json(value)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [masked_json(item) for item in data]
    return data


def display_body(body: str) -> str:
    """The stored body for people: indented JSON when it is JSON, the Message too."""
    try:
        data = json.loads(body)
    except ValueError:
        return _UNSUBSCRIBE_IN_TEXT.sub(r"\1" + "…masked", body)
    if isinstance(data, dict) and isinstance(data.get("Message"), str):
        try:
            inner = json.loads(data["Message"])
        except ValueError:
            inner = None
        if isinstance(inner, dict | list):
            data = {**data, "Message": inner}
    return json.dumps(masked_json(data), indent=2, ensure_ascii=False)


def display_headers(headers: dict[str, str]) -> str:
    return "\n".join(f"{k}: {v}" for k, v in sorted(headers.items()))
