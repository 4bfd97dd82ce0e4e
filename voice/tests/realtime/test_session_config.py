import pytest

from voice.engine.config import AgentConfig, AudioFormat, ToolSpec
from voice.engine.errors import InvalidRequestError
from voice.realtime.session_config import apply_session_update, session_json

from .conformance import assert_conforms


def test_the_reported_session_is_valid_for_the_sdk():
    config = AgentConfig(
        tools=(
            ToolSpec(
                name="open_door", description="Opens", parameters={"type": "object"}, kind="client"
            ),
        )
    )
    session = session_json(config, model="aura-local")
    assert_conforms({"type": "session.created", "event_id": "e1", "session": session})
    assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert [tool["name"] for tool in session["tools"]] == ["open_door"]


def test_a_session_update_changes_only_what_it_names():
    config = AgentConfig(instructions="Old.")
    updated = apply_session_update(
        config,
        {
            "type": "realtime",
            "instructions": "Be brief.",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcmu"},
                    "turn_detection": {"type": "server_vad", "silence_duration_ms": 800},
                },
                "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "joe"},
            },
            "tools": [
                {"type": "function", "name": "lookup_order", "parameters": {"type": "object"}}
            ],
            "tool_choice": "required",
            "max_output_tokens": 200,
        },
    )
    assert updated.instructions == "Be brief."
    assert updated.input_format == AudioFormat(encoding="pcmu", sample_rate_hz=8000)
    assert updated.turn_detection is not None
    assert updated.turn_detection.silence_duration_ms == 800
    assert updated.tools[0].kind == "client"
    assert updated.tool_choice == "required"
    assert updated.max_output_tokens == 200
    assert updated.llm_routes == config.llm_routes
    assert config.instructions == "Old."


def test_turn_detection_null_switches_to_manual_commits():
    updated = apply_session_update(AgentConfig(), {"audio": {"input": {"turn_detection": None}}})
    assert updated.turn_detection is None


def test_server_side_tools_survive_a_client_tools_update():
    server_tool = ToolSpec(name="get_current_time", description="", parameters={}, kind="server")
    updated = apply_session_update(AgentConfig(tools=(server_tool,)), {"tools": []})
    assert updated.tools == (server_tool,)


@pytest.mark.parametrize(
    ("session", "param"),
    [
        ("not an object", "session"),
        ({"voice_clone": True}, "session"),
        ({"type": "transcription"}, "session.type"),
        ({"instructions": 42}, "session.instructions"),
        ({"instructions": "x" * 40_000}, "session.instructions"),
        ({"audio": {"input": {"format": {"type": "audio/opus"}}}}, "session.audio.input.format"),
        (
            {"audio": {"input": {"format": {"type": "audio/pcm", "rate": 44100}}}},
            "session.audio.input.format.rate",
        ),
        # Found by the fuzz: a list or an object where a format name is due, a float rate.
        ({"audio": {"output": {"format": {"type": ["audio/pcm"]}}}}, "session.audio.output.format"),
        ({"audio": {"input": {"format": {"type": {"a": 1}}}}}, "session.audio.input.format"),
        (
            {"audio": {"input": {"format": {"type": "audio/pcm", "rate": [24000]}}}},
            "session.audio.input.format.rate",
        ),
        (
            {"audio": {"input": {"format": {"type": "audio/pcm", "rate": 24000.0}}}},
            "session.audio.input.format.rate",
        ),
        ({"audio": {"input": {"turn_detection": {"type": "semantic_vad"}}}}, "turn_detection.type"),
        ({"audio": {"output": {"voice": ""}}}, "session.audio.output.voice"),
        ({"audio": "loud"}, "session.audio"),
        ({"tools": {"name": "x"}}, "session.tools"),
        ({"tools": [{"type": "function", "name": "rm -rf /"}]}, "session.tools[0].name"),
        ({"tools": [{"type": "mcp", "name": "x"}]}, "session.tools[0]"),
        ({"tools": [{"name": "a"}, {"name": "a"}]}, "session.tools"),
        ({"tools": [{"name": "t"}] * 65}, "session.tools"),
        ({"tool_choice": "sometimes"}, "session.tool_choice"),
        ({"max_output_tokens": 0}, "session.max_output_tokens"),
        ({"max_output_tokens": True}, "session.max_output_tokens"),
        ({"output_modalities": ["audio", "video"]}, "session.output_modalities"),
    ],
)
def test_bad_session_updates_are_refused_naming_the_field(session, param):
    with pytest.raises(InvalidRequestError) as caught:
        apply_session_update(AgentConfig(), session)
    assert caught.value.param == param


def test_the_transcription_prompt_language_and_noise_reduction_are_applied_and_reported():
    updated = apply_session_update(
        AgentConfig(),
        {
            "audio": {
                "input": {
                    "transcription": {
                        "model": "gpt-4o-transcribe",
                        "language": "en-US",
                        "prompt": "Quorvex customer support.",
                    },
                    "noise_reduction": {"type": "far_field"},
                }
            }
        },
    )
    assert updated.transcription_prompt == "Quorvex customer support."
    assert updated.language == "en-US"
    assert updated.noise_reduction == "far_field"

    session = session_json(updated, model="aura-local")
    assert_conforms({"type": "session.updated", "event_id": "e2", "session": session})
    assert session["audio"]["input"]["transcription"] == {
        "model": "tiny.en",
        "language": "en-US",
        "prompt": "Quorvex customer support.",
    }
    assert session["audio"]["input"]["noise_reduction"] == {"type": "far_field"}


def test_noise_reduction_null_turns_it_off_and_is_reported_as_null():
    near = apply_session_update(
        AgentConfig(), {"audio": {"input": {"noise_reduction": {"type": "near_field"}}}}
    )
    off = apply_session_update(near, {"audio": {"input": {"noise_reduction": None}}})
    assert near.noise_reduction == "near_field"
    assert off.noise_reduction is None
    assert session_json(off, model="m")["audio"]["input"]["noise_reduction"] is None


def test_a_transcription_update_without_a_prompt_keeps_the_prompt():
    with_prompt = apply_session_update(
        AgentConfig(), {"audio": {"input": {"transcription": {"prompt": "Quorvex."}}}}
    )
    updated = apply_session_update(
        with_prompt, {"audio": {"input": {"transcription": {"language": "de"}}}}
    )
    assert (updated.transcription_prompt, updated.language) == ("Quorvex.", "de")


NOISE = "session.audio.input.noise_reduction"


@pytest.mark.parametrize(
    ("audio_input", "param"),
    [
        ({"noise_reduction": {"type": "studio"}}, "session.audio.input.noise_reduction"),
        ({"noise_reduction": "near_field"}, "session.audio.input.noise_reduction"),
        (
            {"noise_reduction": {"type": "near_field", "x": 1}},
            "session.audio.input.noise_reduction",
        ),
        ({"transcription": "Quorvex"}, "session.audio.input.transcription"),
        ({"transcription": {"prompt": 7}}, "session.audio.input.transcription.prompt"),
        ({"transcription": {"prompt": "x" * 1001}}, "session.audio.input.transcription.prompt"),
        ({"transcription": {"language": "english!"}}, "session.audio.input.transcription.language"),
        ({"transcription": {"language": ["en"]}}, "session.audio.input.transcription.language"),
        ({"transcription": {"model": 5}}, "session.audio.input.transcription.model"),
        ({"transcription": {"hotwords": "x"}}, "session.audio.input.transcription"),
    ],
)
def test_bad_transcription_and_noise_settings_are_refused_naming_the_field(audio_input, param):
    config = AgentConfig()
    with pytest.raises(InvalidRequestError) as refused:
        apply_session_update(config, {"audio": {"input": audio_input}})
    assert refused.value.param == param


@pytest.mark.parametrize(
    ("session", "message"),
    [
        # An object's unknown fields come before its other faults.
        ({"instructions": 5, "voice_clone": True}, "unknown session fields: voice_clone"),
        (
            {"audio": {"input": {"turn_detection": {"threshold": 2, "eagerness": "high"}}}},
            "unknown turn_detection fields: eagerness",
        ),
        # Then the fields in the order they are documented.
        ({"tools": "x", "audio": "loud"}, "session.tools must be a list of at most 64 tools"),
        (
            {"tools": [{"name": "a"}, {"name": "a"}, {"type": "mcp"}]},
            "session.tools[2] must be a function tool",
        ),
        (
            {"tools": [{"name": "t", "description": 5, "parameters": []}]},
            "session.tools[0].parameters must be a JSON schema object",
        ),
        # Both audio.input and audio.output are objects before either's fields are read.
        (
            {"audio": {"input": {"format": {"type": "audio/opus"}}, "output": 5}},
            "session.audio.input and .output must be objects",
        ),
    ],
)
def test_of_several_faults_the_first_in_the_documented_order_is_reported(session, message):
    with pytest.raises(InvalidRequestError) as refused:
        apply_session_update(AgentConfig(), session)
    assert refused.value.message == message


def test_null_means_unchanged_nowhere_but_where_it_has_a_meaning():
    limited = apply_session_update(AgentConfig(), {"max_output_tokens": 100})
    assert apply_session_update(limited, {"max_output_tokens": None}).max_output_tokens is None
    assert apply_session_update(limited, {"audio": None, "model": None}) == limited
    assert apply_session_update(limited, {"audio": {"input": None, "output": 0}}) == limited
    for field in ("instructions", "tools", "tool_choice", "output_modalities"):
        with pytest.raises(InvalidRequestError) as refused:
            apply_session_update(limited, {field: None})
        assert refused.value.param == f"session.{field}"
