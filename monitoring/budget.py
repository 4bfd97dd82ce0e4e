"""Monthly budgets: how much of it an organization has spent, and the hard stop."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django_tenants.utils import schema_context

from core.errors import AuraError
from monitoring.selectors import usage_month_to_date_cost
from tenants.models import Organization


class BudgetExceededError(AuraError):
    """The organization has spent its monthly budget: no new sessions, open ones end."""

    code = "budget_exceeded"
    # OpenAI's type for an exhausted quota, so that standard clients recognise it.
    error_type = "insufficient_quota"


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    budget_usd: Decimal | None
    spent_usd: Decimal
    warning_percent: int

    @property
    def used_percent(self) -> float | None:
        if not self.budget_usd:
            return None if self.budget_usd is None else 100.0
        return float(self.spent_usd / self.budget_usd * 100)

    @property
    def exceeded(self) -> bool:
        return self.budget_usd is not None and self.spent_usd >= self.budget_usd

    @property
    def warning(self) -> bool:
        used = self.used_percent
        return used is not None and used >= self.warning_percent and not self.exceeded

    @property
    def state(self) -> str:
        """`unlimited` (no budget), `ok`, `warning` (past the warning share) or `exceeded`."""
        if self.budget_usd is None:
            return "unlimited"
        return "exceeded" if self.exceeded else "warning" if self.warning else "ok"

    def error(self) -> BudgetExceededError:
        return BudgetExceededError(
            f"This organization has spent its monthly budget of ${self.budget_usd} "
            f"(${self.spent_usd.quantize(Decimal('0.01'))} this month); new sessions are "
            "refused until the budget is raised or the month ends."
        )


def budget_status(organization: Organization, *, now: datetime | None = None) -> BudgetStatus:
    """The organization's month so far against its budget (reads its own schema)."""
    spent = Decimal(0)
    if organization.monthly_budget_usd is not None:
        with schema_context(organization.schema_name):
            spent = usage_month_to_date_cost(now=now)
    return BudgetStatus(
        budget_usd=organization.monthly_budget_usd,
        spent_usd=spent,
        warning_percent=organization.budget_warning_percent,
    )
