"""Durations in words for the Reports page and its charts."""

from __future__ import annotations

import datetime as dt

NO_VALUE = "—"


def duration_words(value: dt.timedelta | None) -> str:
    """A duration as a person reads it, to the nearest second: "42 s", "4 min 12 s",
    "1 h 03 min", "2 d 05 h". Only the two largest units are kept; a mean of hours is
    not more useful to the second. None (nothing to average) is a dash."""
    if value is None:
        return NO_VALUE
    seconds = round(value.total_seconds())
    if seconds < 0:  # only from clocks that disagree; say it rather than hide it
        return "-" + duration_words(dt.timedelta(seconds=-seconds))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours:02d} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"
