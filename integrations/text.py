"""Text every database can store and every page can encode.

Anyone can post to an inbound URL, so the Inbound Log holds hostile text. Two kinds of
character break it: NUL (PostgreSQL text and jsonb refuse it) and lone UTF-16
surrogates (U+D800-U+DFFF on their own, which a JSON escape such as ``"\\ud800"``
decodes to and which no UTF-8 encoder accepts: the database driver when storing, the
response when rendering). Both become U+FFFD, the replacement character, so the rest
stays readable. Used when a row is written and again when one is shown, because rows
written before this existed (or by hand) must render too."""

from __future__ import annotations

import re
from typing import Any

_INVALID = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def valid_text(text: str) -> str:
    """``text`` with NUL and lone surrogates replaced by U+FFFD."""
    return _INVALID.sub(REPLACEMENT, text)


def valid_data(value: Any) -> Any:
    """JSON-like ``value`` (dicts, lists, strings, numbers) with every string, keys
    included, made ``valid_text``. Walks with a stack, so any nesting depth is fine."""
    # (source container, its copy) pairs whose items are still to be copied.
    pending: list[tuple[Any, Any]] = []

    def copy_of(item: Any) -> Any:
        if isinstance(item, str):
            return valid_text(item)
        if isinstance(item, dict):
            target: Any = {}
        elif isinstance(item, list):
            target = []
        else:
            return item
        pending.append((item, target))
        return target

    result = copy_of(value)
    while pending:
        source, target = pending.pop()
        if isinstance(source, dict):
            for key, item in source.items():
                target[valid_text(key) if isinstance(key, str) else key] = copy_of(item)
        else:
            target.extend(copy_of(item) for item in source)
    return result
