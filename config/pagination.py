from __future__ import annotations

from rest_framework.pagination import LimitOffsetPagination


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    """?limit= and ?offset=, with a ceiling so one request cannot load every row."""

    default_limit = 50
    max_limit = 500
