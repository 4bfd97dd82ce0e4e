"""Money: usage priced by the table in settings (AURA_PRICES), in Decimal US dollars."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

logger = logging.getLogger(__name__)

MICRO = Decimal("0.000001")
THOUSAND = Decimal(1000)
SIXTY = Decimal(60)
_warned: set[tuple[str, str]] = set()


def price_entry(stage: str, provider: str, model: str) -> Mapping[str, str]:
    """The table's entry for a stage and route: exact, then "provider/*", then "*"; else {}."""
    table: Mapping[str, Mapping[str, Mapping[str, str]]] = settings.AURA_PRICES
    prices = table.get(stage, {})
    for key in (f"{provider}/{model}", f"{provider}/*", "*"):
        if key in prices:
            return prices[key]
    if (stage, f"{provider}/{model}") not in _warned:
        _warned.add((stage, f"{provider}/{model}"))
        logger.warning("no price for %s %s/%s: counted as free", stage, provider, model)
    return {}


def _rate(entry: Mapping[str, str], name: str) -> Decimal:
    return Decimal(str(entry.get(name, "0")))


def _amount(usage: Mapping[str, object], name: str) -> Decimal:
    return Decimal(str(usage.get(name) or 0))


def usage_cost(usage: Mapping[str, object]) -> Decimal:
    """The price of one usage record (the engine's `UsageRecord.as_dict()` shape)."""
    stage, provider, model = str(usage["stage"]), str(usage["provider"]), str(usage["model"])
    entry = price_entry(stage, provider, model)
    if not entry:
        return Decimal(0)
    cost = Decimal(0)
    if stage == "llm":
        cost += _amount(usage, "prompt_tokens") / THOUSAND * _rate(entry, "prompt_per_1k_tokens")
        cost += (
            _amount(usage, "completion_tokens")
            / THOUSAND
            * _rate(entry, "completion_per_1k_tokens")
        )
    elif stage == "stt":
        seconds = _amount(usage, "stt_seconds")
        cost += seconds / SIXTY * _rate(entry, "per_minute")
    elif stage == "tts":
        characters = _amount(usage, "tts_characters")
        cost += characters / THOUSAND * _rate(entry, "per_1k_characters")
    else:
        seconds = _amount(usage, "audio_seconds")
        cost += seconds / SIXTY * _rate(entry, "per_minute")
    return cost.quantize(MICRO, rounding=ROUND_HALF_UP)
