import pytest

from voice.agent_config import routes_from_json, turn_detection_from_json
from voice.engine.errors import InvalidRequestError


def test_routes_become_engine_route_configs_in_order():
    routes = routes_from_json(
        "llm",
        [
            {"provider": "openai", "model": "gpt-4o-mini", "first_token_budget_ms": 800},
            {"provider": "local", "model": "gemma3-270m"},
        ],
    )
    assert [(route.provider, route.model) for route in routes] == [
        ("openai", "gpt-4o-mini"),
        ("local", "gemma3-270m"),
    ]
    assert routes[0].first_token_budget_ms == 800


@pytest.mark.parametrize(
    ("stage", "routes", "message"),
    [
        ("llm", [], "non-empty list"),
        ("llm", "local", "non-empty list"),
        ("llm", [{"provider": "skynet", "model": "x"}], "provider must be one of"),
        ("tts", [{"provider": "grok", "model": "x"}], "provider must be one of"),
        ("llm", [{"provider": "local"}], "model name"),
        ("llm", [{"provider": "local", "model": "m", "api_key": "sk-..."}], "unknown route fields"),
        ("llm", [{"provider": "openai_compatible", "model": "m"}], "needs a base_url"),
        ("llm", [{"provider": "openai", "model": "m", "base_url": "file:///etc/passwd"}], "http"),
        (
            "llm",
            [{"provider": "local", "model": "m", "first_token_budget_ms": -5}],
            "first_token_budget_ms",
        ),
        ("llm", [{"provider": "local", "model": "m", "timeout_s": True}], "timeout_s"),
        ("llm", [{"provider": "local", "model": "m"}] * 6, "at most 5"),
        ("llm", [None], "object"),
    ],
)
def test_bad_routes_are_refused_with_a_clear_message(stage, routes, message):
    with pytest.raises(InvalidRequestError, match=message):
        routes_from_json(stage, routes)


def test_turn_detection_follows_openai_server_vad_with_its_defaults():
    config = turn_detection_from_json({"type": "server_vad", "silence_duration_ms": 700})
    assert config is not None
    assert config.silence_duration_ms == 700
    assert config.prefix_padding_ms == 300
    assert config.create_response is True
    assert turn_detection_from_json(None) is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"type": "semantic_vad"}, "server_vad"),
        ({"threshold": 2}, "threshold"),
        ({"silence_duration_ms": "fast"}, "silence_duration_ms"),
        ({"vad": "magic"}, "webrtc or silero"),
        ({"eagerness": "high"}, "unknown turn_detection fields"),
        ([], "object or null"),
    ],
)
def test_bad_turn_detection_is_refused(value, message):
    with pytest.raises(InvalidRequestError, match=message):
        turn_detection_from_json(value)


@pytest.mark.parametrize(
    ("routes", "message"),
    [
        # A list's length before its routes, a route's unknown fields before its other faults.
        ([{"provider": "local", "model": 5}] * 6, "llm_routes may hold at most 5 routes"),
        (
            [{"provider": "skynet", "timeout_s": 0, "api_key": "k"}],
            "unknown route fields: api_key",
        ),
        # Then the fields in order: provider, model, base_url, the numbers.
        (
            [{"provider": "skynet", "model": ""}],
            "llm provider must be one of local, openai, grok, openai_compatible",
        ),
        (
            [{"provider": "openai_compatible", "model": "m", "timeout_s": 0}],
            "an openai_compatible route needs a base_url",
        ),
        (
            [{"provider": "local", "model": "m", "first_token_budget_ms": 1, "timeout_s": 0}],
            "first_token_budget_ms must be a number from 50 to 60000",
        ),
    ],
)
def test_of_several_route_faults_the_first_in_the_documented_order_is_reported(routes, message):
    with pytest.raises(InvalidRequestError) as refused:
        routes_from_json("llm", routes)
    assert refused.value.message == message


def test_routes_given_in_code_as_a_tuple_are_read_like_a_list():
    (route,) = routes_from_json("tts", ({"provider": "local", "model": "en_US-joe-medium"},))
    assert (route.provider, route.model, route.timeout_s) == ("local", "en_US-joe-medium", 30.0)
