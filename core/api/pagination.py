"""Every list is paginated the same way: `?limit=&offset=`, at most 100 items a page."""

from __future__ import annotations

from rest_framework.pagination import LimitOffsetPagination


class AuraPagination(LimitOffsetPagination):
    default_limit = 20
    max_limit = 100
