"""The one error the filter-pattern engine raises."""

from __future__ import annotations


class FilterPatternError(ValueError):
    """An invalid filter pattern: what was wrong or expected, and where.

    ``position`` is a 0-based character offset into the pattern text as given (leading
    spaces included), so a caller can point at it: ``pattern[:position]`` is the part
    that was understood.
    """

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"position {position}: {message}")
        self.message = message
        self.position = position
