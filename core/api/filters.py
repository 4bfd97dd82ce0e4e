"""Filters shared by the API's lists."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import django_filters
from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 date-time, compared in UTC.

    Python accepts UTC offsets up to ±23:59, PostgreSQL only up to ±15:59: the value is
    converted to UTC before it reaches the database.
    """

    def filter(self, qs: QuerySet[Any], value: datetime | None) -> QuerySet[Any]:
        if value is not None:
            try:
                value = value.astimezone(UTC)
            except (OverflowError, ValueError) as error:
                # Bound to a FilterSet field, so named; the stubs allow an unbound filter's None.
                field = str(self.field_name)
                raise ValidationError({field: ["date-time out of range"]}) from error
        return super().filter(qs, value)
