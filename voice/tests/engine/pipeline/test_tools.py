"""Function calling: the registry runs the model's calls safely (voice/engine/pipeline/tools.py).

Arguments are model output, so every check here is one a hostile or confused model can hit.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from voice.engine.config import ToolSpec
from voice.engine.errors import InvalidRequestError, ToolError
from voice.engine.llm.base import ToolCall
from voice.engine.pipeline.tools import (
    MAX_ARGUMENTS_BYTES,
    MAX_OUTPUT_CHARS,
    ToolRegistry,
    builtin_specs,
)

ORDER_SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {"order": {"type": "string"}, "count": {"type": "integer"}},
    "required": ["order"],
}
LOOKUP = ToolSpec(name="lookup_order", description="", parameters=ORDER_SCHEMA, timeout_s=0.5)
CLIENT = ToolSpec(name="open_map", description="", parameters={}, kind="client")


class OrderDesk:
    """A webhook port that answers from a dict, slowly when asked to, or fails on command."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.calls: list[tuple[str, Mapping[str, object], str]] = []

    async def execute(self, name: str, arguments: Mapping[str, object], *, call_id: str) -> str:
        self.calls.append((name, arguments, call_id))
        await asyncio.sleep(self.delay_s)
        order = arguments["order"]
        if order == "boom":
            raise RuntimeError("database password is hunter2")
        if order == "refused":
            raise ToolError("the order service refused the request")
        if order == "huge":
            return "x" * (MAX_OUTPUT_CHARS * 3)
        return json.dumps({"order": order, "status": "shipped"})


def call(arguments: str, name: str = "lookup_order", call_id: str = "call_1") -> ToolCall:
    return ToolCall(id=call_id, name=name, arguments=arguments)


def error_of(output: str) -> str:
    return str(json.loads(output)["error"])


async def test_a_webhook_tool_gets_parsed_arguments_and_its_result_goes_back() -> None:
    desk = OrderDesk()
    registry = ToolRegistry([LOOKUP], executor=desk)
    result = await registry.execute(call('{"order": "A-17", "count": 2}'))
    assert result.ok
    assert json.loads(result.output) == {"order": "A-17", "status": "shipped"}
    assert desk.calls == [("lookup_order", {"order": "A-17", "count": 2}, "call_1")]


async def test_the_current_time_built_in_answers_in_the_asked_timezone() -> None:
    registry = ToolRegistry(builtin_specs(["get_current_time"]))
    result = await registry.execute(call('{"timezone": "Asia/Tokyo"}', name="get_current_time"))
    answer = json.loads(result.output)
    stamp = datetime.fromisoformat(answer["iso"])
    assert stamp.utcoffset() == datetime.now(ZoneInfo("Asia/Tokyo")).utcoffset()
    assert abs((stamp - datetime.now(ZoneInfo("UTC"))).total_seconds()) < 5


async def test_an_unknown_timezone_is_explained_to_the_model() -> None:
    registry = ToolRegistry(builtin_specs(["get_current_time"]))
    result = await registry.execute(call('{"timezone": "Mars/Base"}', name="get_current_time"))
    assert not result.ok
    assert "unknown timezone" in error_of(result.output)


def test_an_unknown_built_in_is_a_configuration_error() -> None:
    with pytest.raises(InvalidRequestError, match="unknown built-in tool 'rm_rf'"):
        builtin_specs(["rm_rf"])


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('"A-17"', "must be a JSON object"),
        ("{}", "missing required arguments: order"),
        ('{"order": 17}', "'order' must be of type string"),
        ('{"order": "A", "count": true}', "'count' must be of type integer"),
        ('{"order": "' + "a" * MAX_ARGUMENTS_BYTES + '"}', "exceed"),
    ],
)
async def test_bad_arguments_never_reach_the_webhook(arguments: str, message: str) -> None:
    desk = OrderDesk()
    result = await ToolRegistry([LOOKUP], executor=desk).execute(call(arguments))
    assert not result.ok
    assert message in error_of(result.output)
    assert desk.calls == []


async def test_a_tool_the_agent_does_not_offer_is_not_run() -> None:
    registry = ToolRegistry([LOOKUP], executor=OrderDesk())
    result = await registry.execute(call("{}", name="end_conversation"))
    assert "no tool named 'end_conversation'" in error_of(result.output)


async def test_a_client_tool_is_left_to_the_client() -> None:
    registry = ToolRegistry([LOOKUP, CLIENT], executor=OrderDesk())
    assert registry.is_client_tool("open_map")
    assert not registry.is_client_tool("lookup_order")
    assert not (await registry.execute(call("{}", name="open_map"))).ok


async def test_a_slow_webhook_times_out_with_a_clear_result() -> None:
    registry = ToolRegistry([LOOKUP], executor=OrderDesk(delay_s=5))
    started = time.monotonic()
    result = await registry.execute(call('{"order": "A-17"}'))
    assert time.monotonic() - started < 1.5
    assert error_of(result.output) == "the tool did not answer within 0.5 s"


async def test_a_crashing_webhook_reveals_nothing_of_its_internals() -> None:
    result = await ToolRegistry([LOOKUP], executor=OrderDesk()).execute(call('{"order": "boom"}'))
    assert error_of(result.output) == "the tool failed unexpectedly"
    assert "hunter2" not in result.output


async def test_a_tool_error_message_is_passed_to_the_model() -> None:
    registry = ToolRegistry([LOOKUP], executor=OrderDesk())
    result = await registry.execute(call('{"order": "refused"}'))
    assert error_of(result.output) == "the order service refused the request"


async def test_a_runaway_result_is_capped() -> None:
    result = await ToolRegistry([LOOKUP], executor=OrderDesk()).execute(call('{"order": "huge"}'))
    assert len(result.output) < MAX_OUTPUT_CHARS + 20


async def test_server_tools_without_a_webhook_port_fail_politely() -> None:
    result = await ToolRegistry([LOOKUP]).execute(call('{"order": "A-17"}'))
    assert "not available" in error_of(result.output)


async def test_parallel_calls_run_concurrently_and_keep_their_order() -> None:
    registry = ToolRegistry([LOOKUP], executor=OrderDesk(delay_s=0.3))
    calls = [call(json.dumps({"order": f"A-{n}"}), call_id=f"call_{n}") for n in range(4)]
    started = time.monotonic()
    results = await registry.execute_many(calls)
    assert time.monotonic() - started < 0.9
    assert [r.call_id for r in results] == ["call_0", "call_1", "call_2", "call_3"]
    assert [json.loads(r.output)["order"] for r in results] == ["A-0", "A-1", "A-2", "A-3"]
