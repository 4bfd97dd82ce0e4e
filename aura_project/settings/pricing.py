"""Usage and money: what each stage costs, per provider and model."""

from __future__ import annotations

from .environment import env

# Prices in US dollars (strings: they become Decimals), keyed by stage, then "provider/model",
# falling back to "provider/*", then "*". The embedded local models cost nothing; audio_in /
# audio_out are the platform's own per-minute fees (none by default). Extend or override
# without a deploy through AURA_PRICES_JSON (the same shape, merged per stage). Sources: the
# providers' public price lists; keep them current (docs/api/usage-and-billing.md).
AURA_PRICES: dict[str, dict[str, dict[str, str]]] = {
    "llm": {
        "local/*": {"prompt_per_1k_tokens": "0", "completion_per_1k_tokens": "0"},
        "openai/gpt-4o-mini": {
            "prompt_per_1k_tokens": "0.00015",
            "completion_per_1k_tokens": "0.0006",
        },
        "openai/gpt-4o": {"prompt_per_1k_tokens": "0.0025", "completion_per_1k_tokens": "0.01"},
        "openai/gpt-4.1-mini": {
            "prompt_per_1k_tokens": "0.0004",
            "completion_per_1k_tokens": "0.0016",
        },
        "grok/grok-3-mini": {
            "prompt_per_1k_tokens": "0.0003",
            "completion_per_1k_tokens": "0.0005",
        },
    },
    "stt": {
        "local/*": {"per_minute": "0"},
        "openai/whisper-1": {"per_minute": "0.006"},
        "openai/gpt-4o-mini-transcribe": {"per_minute": "0.003"},
        "openai/gpt-4o-transcribe": {"per_minute": "0.006"},
    },
    "tts": {
        "local/*": {"per_1k_characters": "0"},
        "openai/tts-1": {"per_1k_characters": "0.015"},
        "openai/tts-1-hd": {"per_1k_characters": "0.03"},
        "openai/gpt-4o-mini-tts": {"per_1k_characters": "0.012"},
    },
    "audio_in": {"*": {"per_minute": "0"}},
    "audio_out": {"*": {"per_minute": "0"}},
}
for _stage, _prices in env.json("AURA_PRICES_JSON", default={}).items():
    AURA_PRICES.setdefault(_stage, {}).update(_prices)
