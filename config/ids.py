"""Ids in query parameters: one rule for every page and API filter."""

from __future__ import annotations

# The largest value a 64-bit id column holds; anything bigger cannot name a row and
# would make the database driver raise (SQLite: OverflowError, PostgreSQL: DataError).
MAX_ID = 2**63 - 1


def parse_id(raw: str | None) -> int | None:
    """An id from a query parameter (or a keyset cursor, where 0 means "before every
    row"), or None when it is not one: "abc", "-1", "²", or a number no column can hold.
    Spaces around it are ignored. ``str.isdigit`` alone is not enough: "²".isdigit() is
    true but int("²") raises, and so does int() of 5,000 digits."""
    text = (raw or "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_ID)):
        return None
    value = int(text)
    return value if value <= MAX_ID else None
