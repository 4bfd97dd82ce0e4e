"""What every endpoint of bench/openai_simulator.py shares: its settings, the directives a
model string carries, the request log, planned failures and delays, and the admin endpoints."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from aiohttp import web

REQUEST_LOG_LIMIT = 2_000
DEFAULT_REPLY = "Hello! This is the simulated assistant speaking."
DEFAULT_TRANSCRIPT = "hello from the simulator"


@dataclass(slots=True)
class SimulatorSettings:
    reply: str = DEFAULT_REPLY
    transcript: str = DEFAULT_TRANSCRIPT
    first_token_ms: float = 50.0
    inter_token_ms: float = 5.0


@dataclass(slots=True)
class Directives:
    """What one request's model string asks the simulator to do."""

    fail_status: int | None = None
    fail_first: int | None = None
    first_token_ms: float | None = None
    inter_token_ms: float | None = None
    stop_after_tokens: int | None = None
    stop_halfway: bool = False
    garbage: bool = False
    wrong_shape: bool = False
    error_event: bool = False
    tool_name: str | None = None
    tool_arguments: str = "{}"
    say: str | None = None


@dataclass(slots=True)
class RequestRecord:
    id: int
    path: str
    model: str
    stream: bool
    started_at: float
    # "running", "completed", "failed" (error status sent), "server_closed" (on command),
    # "client_closed" (the client went away before the answer was complete).
    outcome: str = "running"
    status: int = 200
    tokens_sent: int = 0
    finished_at: float | None = None
    # The Authorization header as received, so tests can check which key reached this host.
    authorization: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


def parse_directives(model: str) -> Directives:
    directives = Directives()
    for part in model.split("+"):
        name, _, value = part.partition(":")
        if name.startswith("fail-") and name[5:].isdigit():
            directives.fail_status = int(name[5:])
        elif name == "fail-first" and value.isdigit():
            directives.fail_first = int(value)
        elif name == "slow-first-token" and value.replace(".", "", 1).isdigit():
            directives.first_token_ms = float(value)
        elif name == "inter-token" and value.replace(".", "", 1).isdigit():
            directives.inter_token_ms = float(value)
        elif name == "stop-halfway":
            directives.stop_halfway = True
        elif name == "stop-after" and value.isdigit():
            directives.stop_after_tokens = int(value)
        elif name == "garbage":
            directives.garbage = True
        elif name == "wrong-shape":
            directives.wrong_shape = True
        elif name == "error-event":
            directives.error_event = True
        elif name == "tool-call":
            tool_name, _, arguments = value.partition(":")
            directives.tool_name = tool_name
            directives.tool_arguments = arguments or "{}"
        elif name == "say":
            directives.say = value
    return directives


def error_body(message: str, *, error_type: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type, "param": None, "code": code}}


class SimulatorBase:
    """The request log and the behaviour on command that the endpoints share."""

    def __init__(self, settings: SimulatorSettings) -> None:
        self.settings = settings
        self.records: list[RequestRecord] = []
        self.counts: Counter[str] = Counter()
        # Seconds of audio received for transcription (what a cloud STT bills), all requests.
        self.transcribed_audio_s = 0.0
        self._fail_first_seen: Counter[str] = Counter()
        self._next_id = 0

    # -- bookkeeping ------------------------------------------------------------------------

    def _record(self, request: web.Request, model: str, *, stream: bool) -> RequestRecord:
        self._next_id += 1
        record = RequestRecord(
            id=self._next_id,
            path=request.path,
            model=model,
            stream=stream,
            started_at=time.time(),
            authorization=request.headers.get("Authorization", ""),
        )
        self.counts[model] += 1
        self.records.append(record)
        del self.records[:-REQUEST_LOG_LIMIT]
        return record

    def _finish(self, record: RequestRecord, outcome: str, status: int = 200) -> None:
        record.outcome = outcome
        record.status = status
        record.finished_at = time.time()

    def _planned_failure(self, model: str, directives: Directives) -> int | None:
        if directives.fail_status is not None:
            return directives.fail_status
        if directives.fail_first is not None:
            self._fail_first_seen[model] += 1
            if self._fail_first_seen[model] <= directives.fail_first:
                return 500
        return None

    def _error_response(self, record: RequestRecord, status: int) -> web.Response:
        self._finish(record, "failed", status)
        headers = {"retry-after": "1"} if status == 429 else {}
        error_type = "rate_limit_error" if status == 429 else "server_error"
        message = f"simulated failure with status {status}"
        if status == 401:
            # As OpenAI words it: the start and end of the key that was refused.
            key = record.authorization.removeprefix("Bearer ")
            message = f"Incorrect API key provided: {key[:3]}****{key[-4:]}. {message}"
        body = error_body(message, error_type=error_type)
        return web.json_response(body, status=status, headers=headers)

    async def _first_token_delay(self, directives: Directives) -> None:
        delay_ms = directives.first_token_ms
        await asyncio.sleep((self.settings.first_token_ms if delay_ms is None else delay_ms) / 1e3)

    async def _inter_token_delay(self, directives: Directives) -> None:
        delay_ms = directives.inter_token_ms
        await asyncio.sleep((self.settings.inter_token_ms if delay_ms is None else delay_ms) / 1e3)

    # -- admin ------------------------------------------------------------------------------

    async def admin_requests(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "counts": dict(self.counts),
                "transcribed_audio_s": self.transcribed_audio_s,
                "requests": [asdict(r) for r in self.records],
            }
        )

    async def admin_reset(self, request: web.Request) -> web.Response:
        self.records.clear()
        self.counts.clear()
        self.transcribed_audio_s = 0.0
        self._fail_first_seen.clear()
        return web.json_response({"ok": True})

    async def admin_config(self, request: web.Request) -> web.Response:
        changes = await request.json()
        for name, value in changes.items():
            if not hasattr(self.settings, name):
                return web.json_response(
                    error_body(f"unknown setting {name}", error_type="invalid_request_error"),
                    status=400,
                )
            setattr(self.settings, name, type(getattr(self.settings, name))(value))
        return web.json_response(asdict(self.settings))

    async def admin_health(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True})
