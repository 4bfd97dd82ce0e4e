"""Builds the provider a route names: cloud ones over OpenAI's protocol, or the local models.

Providers:
    openai              api.openai.com (or OPENAI_BASE_URL), key from the route or OPENAI_API_KEY
    grok                xAI at https://api.x.ai/v1 (or XAI_BASE_URL), key from the route or
                        XAI_API_KEY; chat only
                        A route with a base_url of its own gets no environment key: the
                        operator's keys reach the operator's endpoints only (see
                        `RouteConfig.key_fallback`)
    openai_compatible   any server speaking the protocol (vLLM, Ollama, llama.cpp server) at the
                        route's base_url; the key is optional
    local               the embedded models (llama.cpp, faster-whisper, Piper), loaded once per
                        process; the first use blocks while the model loads, so warm them up
                        at startup

A route that cannot be used raises `ProviderUnavailableError`; the router skips it and says why.
"""

from __future__ import annotations

import os

from voice.engine.config import RouteConfig
from voice.engine.errors import ProviderUnavailableError
from voice.engine.llm.base import LanguageModel
from voice.engine.llm.openai_compatible import MaxTokensParameter, OpenAICompatibleLLM
from voice.engine.net.openai_client import OpenAIEndpoint
from voice.engine.stt.base import SpeechToText
from voice.engine.stt.openai import OpenAISTT
from voice.engine.tts.base import TextToSpeech
from voice.engine.tts.openai import OpenAITTS

GROK_BASE_URL = "https://api.x.ai/v1"
# Local OpenAI-compatible servers ignore the key, but the SDK insists on having one.
PLACEHOLDER_API_KEY = "not-needed"

_KEY_VARIABLES = {"openai": "OPENAI_API_KEY", "grok": "XAI_API_KEY"}


def llm_from_route(route: RouteConfig) -> LanguageModel:
    """The language model for a route.

    Raises:
        ProviderUnavailableError: Unknown provider, missing key or base URL, local model missing.
    """
    if route.provider == "local":
        return _local_llm(route)
    tokens_parameter: MaxTokensParameter = (
        "max_completion_tokens" if route.provider == "openai" else "max_tokens"
    )
    return OpenAICompatibleLLM(
        endpoint=_endpoint(route),
        max_output_tokens=route.max_output_tokens,
        temperature=route.temperature,
        max_tokens_parameter=tokens_parameter,
    )


def stt_from_route(route: RouteConfig) -> SpeechToText:
    """The speech-to-text model for a route (see `llm_from_route` for errors)."""
    if route.provider == "local":
        return _local_stt(route)
    _no_speech_api(route, "speech-to-text")
    return OpenAISTT(
        endpoint=_endpoint(route),
    )


def tts_from_route(route: RouteConfig) -> TextToSpeech:
    """The text-to-speech model for a route (see `llm_from_route` for errors)."""
    if route.provider == "local":
        return _local_tts(route)
    _no_speech_api(route, "text-to-speech")
    return OpenAITTS(
        endpoint=_endpoint(route),
    )


def _endpoint(route: RouteConfig) -> OpenAIEndpoint:
    """Where and with which key a cloud or OpenAI-compatible route is called.

    The operator's key goes to the operator's endpoint only: a route with a base_url of its
    own (an organization chose it) is called with the route's key or none at all.
    """
    if route.provider == "openai_compatible":
        if not route.base_url:
            raise _unavailable(route, "an openai_compatible route needs a base_url", "missing_url")
        return _called_at(route, route.base_url, route.api_key or PLACEHOLDER_API_KEY)
    variable = _KEY_VARIABLES.get(route.provider)
    if variable is None:
        known = ", ".join(["local", "openai_compatible", *_KEY_VARIABLES])
        raise _unavailable(
            route, f"unknown provider {route.provider!r} (known: {known})", "unknown_provider"
        )
    if route.api_key:
        return _called_at(
            route, route.base_url or _platform_base_url(route.provider), route.api_key
        )
    return _called_at(route, _platform_base_url(route.provider), _platform_key(route, variable))


def _called_at(route: RouteConfig, base_url: str | None, api_key: str) -> OpenAIEndpoint:
    return OpenAIEndpoint(
        provider=route.provider,
        model=route.model,
        api_key=api_key,
        base_url=base_url,
        public_only=route.public_only,
        timeout_s=route.timeout_s,
    )


def _platform_key(route: RouteConfig, variable: str) -> str:
    """The operator's key for a route to the operator's own endpoint, if it may have it."""
    if route.key_fallback == "unreadable":
        raise _unavailable(
            route,
            f"the organization's {route.provider} key cannot be decrypted: store it again",
            "credential_unreadable",
        )
    if route.base_url is not None:
        raise _unavailable(
            route,
            f"no API key for this base_url: store the organization's {route.provider} key "
            f"(the server's {variable} is sent to the server's own endpoint only)",
            "missing_api_key",
        )
    api_key = os.environ.get(variable) if route.key_fallback == "platform" else None
    if not api_key:
        raise _unavailable(
            route, f"no API key: set it on the route or in {variable}", "missing_api_key"
        )
    return api_key


def _platform_base_url(provider: str) -> str | None:
    if provider == "grok":
        return os.environ.get("XAI_BASE_URL") or GROK_BASE_URL
    # None lets the SDK use OPENAI_BASE_URL or its default.
    return None


def _no_speech_api(route: RouteConfig, stage: str) -> None:
    if route.provider == "grok":
        raise _unavailable(
            route, f"grok offers no {stage} over OpenAI's protocol", "unsupported_stage"
        )


def _unavailable(route: RouteConfig, message: str, code: str) -> ProviderUnavailableError:
    return ProviderUnavailableError(message, provider=route.provider, retryable=False, code=code)


def _local_llm(route: RouteConfig) -> LanguageModel:
    try:
        from voice.engine.llm.llama_cpp import LlamaCppLLM
    except ImportError as error:
        raise _unavailable(route, f"local LLM unavailable: {error}", "missing_package") from error
    return LlamaCppLLM.shared()


def _local_stt(route: RouteConfig) -> SpeechToText:
    try:
        from voice.engine.stt.local_whisper import LocalWhisperSTT
    except ImportError as error:
        raise _unavailable(route, f"local STT unavailable: {error}", "missing_package") from error
    return LocalWhisperSTT.shared()


def _local_tts(route: RouteConfig) -> TextToSpeech:
    try:
        from voice.engine.tts.piper import PiperTTS
    except ImportError as error:
        raise _unavailable(route, f"local TTS unavailable: {error}", "missing_package") from error
    return PiperTTS.shared()
