from __future__ import annotations

import datetime as dt

from django import template

from reports.formatting import duration_words as _duration_words

register = template.Library()


@register.filter
def duration_words(value: dt.timedelta | None) -> str:
    return _duration_words(value)
