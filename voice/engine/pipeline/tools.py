"""Function calling: the tools an agent offers, and running the calls the model makes.

Three kinds of tool, one registry:
- built-ins, implemented here (the date and time in a timezone, ending the conversation);
- client tools, described by the client in `session.update` and run by the client: the
  transport forwards the call and the client answers with a `function_call_output`;
- other server tools (a tenant's HTTP webhooks), run through the `ToolExecutor` port.

A failing call never fails the response: the model gets the error as the tool's result and
can say so. Arguments are model output, hence untrusted: parsed, size-capped and checked
against the tool's schema before anything runs.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from voice.engine.config import ToolSpec
from voice.engine.errors import InvalidRequestError, ToolError
from voice.engine.llm.base import ToolCall
from voice.engine.pipeline.tool_schema import validate_arguments
from voice.engine.ports import ToolExecutor

logger = logging.getLogger(__name__)

MAX_ARGUMENTS_BYTES = 16_384
# A tool result goes into the prompt: a runaway webhook must not flood the context.
MAX_OUTPUT_CHARS = 8_000
END_CONVERSATION = "end_conversation"
CURRENT_TIME = "get_current_time"

Arguments = Mapping[str, object]
BuiltinFunction = Callable[[Arguments], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class ToolResult:
    call_id: str
    name: str
    output: str  # JSON text, as the model will read it
    ok: bool


# --- built-ins ----------------------------------------------------------------------------


async def _current_time(arguments: Arguments) -> str:
    name = arguments.get("timezone") or "UTC"
    if not isinstance(name, str):
        raise ToolError("timezone must be a string such as Europe/Paris")
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ToolError(
            f"unknown timezone {name!r}; use an IANA name such as Europe/Paris"
        ) from error
    now = datetime.now(zone)
    spoken = f"{now:%A} {now.day} {now:%B %Y}, {now:%H:%M}"
    return json.dumps(
        {"timezone": name, "iso": now.isoformat(timespec="seconds"), "spoken": spoken}
    )


async def _end_conversation(arguments: Arguments) -> str:
    # The response notices the call by name and hangs up once the goodbye has been heard.
    return json.dumps({"ended": True})


BUILTINS: dict[str, tuple[ToolSpec, BuiltinFunction]] = {
    CURRENT_TIME: (
        ToolSpec(
            name=CURRENT_TIME,
            description="The current date and time, in a timezone (default UTC).",
            parameters={
                "type": "object",
                "properties": {
                    "timezone": {
                        "type": "string",
                        "description": "IANA timezone name, such as Europe/Paris.",
                    }
                },
            },
        ),
        _current_time,
    ),
    END_CONVERSATION: (
        ToolSpec(
            name=END_CONVERSATION,
            description="End the call after saying goodbye, when the user is done.",
            parameters={
                "type": "object",
                "properties": {"reason": {"type": "string"}},
            },
        ),
        _end_conversation,
    ),
}


def builtin_specs(names: Iterable[str]) -> tuple[ToolSpec, ...]:
    """The specs of the named built-ins; an unknown name is a configuration error."""
    specs = []
    for name in names:
        if name not in BUILTINS:
            known = ", ".join(sorted(BUILTINS))
            raise InvalidRequestError(
                f"unknown built-in tool {name!r} (known: {known})", param="builtin_tools"
            )
        specs.append(BUILTINS[name][0])
    return tuple(specs)


# --- the registry -------------------------------------------------------------------------


class ToolRegistry:
    """The tools of one session, and the runner of the calls the model makes to them."""

    def __init__(self, specs: Iterable[ToolSpec] = (), *, executor: ToolExecutor | None = None):
        self._specs = {spec.name: spec for spec in specs}
        self._executor = executor

    @property
    def specs(self) -> tuple[ToolSpec, ...]:
        return tuple(self._specs.values())

    def replace_specs(self, specs: Iterable[ToolSpec]) -> None:
        """`session.update` changed the tools: later calls see the new set."""
        self._specs = {spec.name: spec for spec in specs}

    def is_client_tool(self, name: str) -> bool:
        spec = self._specs.get(name)
        return spec is not None and spec.kind == "client"

    async def execute_many(self, calls: Sequence[ToolCall]) -> list[ToolResult]:
        """Run server-side calls concurrently; results in the order of the calls."""
        return list(await asyncio.gather(*(self.execute(call) for call in calls)))

    async def execute(self, call: ToolCall) -> ToolResult:
        spec = self._specs.get(call.name)
        if spec is None or spec.kind != "server":
            return _failed(call, f"there is no tool named {call.name!r}")
        try:
            arguments = parse_arguments(call.arguments, spec)
            async with asyncio.timeout(spec.timeout_s):
                output = await self._run(spec, arguments, call.id)
        except ToolError as error:
            return _failed(call, error.message)
        except TimeoutError:
            return _failed(call, f"the tool did not answer within {spec.timeout_s:g} s")
        except Exception:
            logger.exception("tool %s crashed", call.name)
            return _failed(call, "the tool failed unexpectedly")
        return ToolResult(call.id, call.name, _capped(output), ok=True)

    async def _run(self, spec: ToolSpec, arguments: Arguments, call_id: str) -> str:
        builtin = BUILTINS.get(spec.name)
        if builtin is not None:
            return await builtin[1](arguments)
        if self._executor is None:
            raise ToolError(f"the tool {spec.name!r} is not available in this session")
        return await self._executor.execute(spec.name, arguments, call_id=call_id)


def parse_arguments(text: str, spec: ToolSpec) -> Arguments:
    """The call's arguments as an object that matches the tool's schema."""
    if len(text.encode()) > MAX_ARGUMENTS_BYTES:
        raise ToolError(f"arguments exceed {MAX_ARGUMENTS_BYTES} bytes")
    try:
        arguments = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as error:
        raise ToolError(f"arguments are not valid JSON: {error.msg}") from error
    if not isinstance(arguments, dict):
        raise ToolError("arguments must be a JSON object")
    validate_arguments(arguments, spec.parameters)
    return arguments


def _failed(call: ToolCall, message: str) -> ToolResult:
    logger.info("tool call %s (%s) failed: %s", call.id, call.name, message)
    return ToolResult(call.id, call.name, json.dumps({"error": message}), ok=False)


def _capped(output: str) -> str:
    if len(output) <= MAX_OUTPUT_CHARS:
        return output
    return output[:MAX_OUTPUT_CHARS] + " …(truncated)"
