"""A local server that speaks OpenAI's HTTP protocol, with misbehaviour on command.

Cloud providers (OpenAI, xAI) cannot be reached from tests or benchmarks, so the real `openai`
SDK talks to this instead. Run it with `python -m bench.openai_simulator --port 8765`.

Endpoints:
    POST /v1/chat/completions     streamed (SSE) or plain chat completions, tool calls included
    POST /v1/audio/transcriptions multipart upload; answers a configurable transcript
    POST /v1/audio/speech         response_format=pcm only: a 24 kHz PCM16 tone, streamed
    GET  /_sim/requests           request counts and a log (was the stream closed by the client?)
    POST /_sim/reset              forget the log and the `fail-first` counters
    POST /_sim/config             change reply, transcript and delays at run time (JSON body)

The `model` field selects misbehaviour, so each request is deterministic. Directives are
joined with "+" (for example "gpt-4o-mini+slow-first-token:300"); unknown parts are plain names:
    fail-<status>            answer that HTTP status (500, 429 with retry-after, 401, ...)
    fail-first:<n>           fail the first n requests with this exact model string with 500
    slow-first-token:<ms>    wait this long before the first byte
    inter-token:<ms>         wait this long between streamed tokens (or audio chunks)
    stop-halfway             close a stream after half the reply, without finish or [DONE]
    stop-after:<n>           close a stream after n text tokens (0: before any text)
    garbage                  send an event that is not JSON
    wrong-shape              send JSON events that are not chunk objects
    error-event              send an {"error": ...} event mid-stream, as OpenAI does when overloaded
    tool-call:<name>:<json>  call a tool (arguments sent verbatim, so they may be invalid JSON);
                             once a tool result is in the request, answer with text quoting it
    say:<text>               reply (or transcript) with this text instead of the default
"""

import argparse
import asyncio
import json
import logging
import math
import time
import uuid
from typing import Any

from aiohttp import web

from bench.simulator_audio import AudioEndpoints
from bench.simulator_base import (
    DEFAULT_REPLY,
    DEFAULT_TRANSCRIPT,
    Directives,
    RequestRecord,
    SimulatorSettings,
    error_body,
    parse_directives,
)

logger = logging.getLogger(__name__)


def split_tokens(text: str) -> list[str]:
    """Split text into word-sized tokens that join back to exactly the text."""
    words = text.split(" ")
    return [word + " " for word in words[:-1]] + [words[-1]] if words[-1] else words[:-1]


class Simulator(AudioEndpoints):
    """Request handlers plus the state the admin endpoints report."""

    def application(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self.chat_completions)
        app.router.add_post("/v1/audio/transcriptions", self.transcriptions)
        app.router.add_post("/v1/audio/speech", self.speech)
        app.router.add_get("/_sim/requests", self.admin_requests)
        app.router.add_post("/_sim/reset", self.admin_reset)
        app.router.add_post("/_sim/config", self.admin_config)
        app.router.add_get("/_sim/health", self.admin_health)
        return app

    # -- chat completions -------------------------------------------------------------------

    async def chat_completions(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return web.json_response(
                error_body("request body is not JSON", error_type="invalid_request_error"),
                status=400,
            )
        model = str(body.get("model", ""))
        stream = bool(body.get("stream", False))
        record = self._record(request, model, stream=stream)
        directives = parse_directives(model)
        record.detail.update(
            message_count=len(body.get("messages", [])),
            tools=[tool.get("function", {}).get("name") for tool in body.get("tools", [])],
            **{
                name: body[name]
                for name in ("tool_choice", "temperature", "max_tokens", "max_completion_tokens")
                if name in body
            },
        )
        failure = self._planned_failure(model, directives)
        try:
            await self._first_token_delay(directives)
            if failure is not None:
                return self._error_response(record, failure)
            if not stream:
                return self._complete(record, body, directives)
            return await self._stream(request, record, body, directives)
        except asyncio.CancelledError:
            # The handler is cancelled when the client disconnects (handler_cancellation).
            self._finish(record, "client_closed")
            raise

    def _answer(self, body: dict[str, Any], directives: Directives) -> tuple[str, str | None]:
        """Return (text, tool name to call or None) for this conversation."""
        messages = body.get("messages", [])
        tool_results = [m for m in messages if isinstance(m, dict) and m.get("role") == "tool"]
        if directives.tool_name is not None and not tool_results:
            return "", directives.tool_name
        if tool_results:
            return f"The tool said: {tool_results[-1].get('content', '')}", None
        return (directives.say if directives.say is not None else self.settings.reply), None

    def _usage(self, body: dict[str, Any], completion_tokens: int) -> dict[str, int]:
        prompt_words = sum(
            len(str(message.get("content") or "").split())
            for message in body.get("messages", [])
            if isinstance(message, dict)
        )
        return {
            "prompt_tokens": prompt_words,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_words + completion_tokens,
        }

    def _complete(
        self, record: RequestRecord, body: dict[str, Any], directives: Directives
    ) -> web.Response:
        text, tool_name = self._answer(body, directives)
        message: dict[str, Any] = {"role": "assistant", "content": text or None}
        if tool_name is not None:
            message["tool_calls"] = [
                {
                    "id": f"call_{uuid.uuid4().hex[:12]}",
                    "type": "function",
                    "function": {"name": tool_name, "arguments": directives.tool_arguments},
                }
            ]
        tokens = len(split_tokens(text)) if text else 1
        self._finish(record, "completed")
        return web.json_response(
            {
                "id": f"chatcmpl-{uuid.uuid4().hex}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": record.model,
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "finish_reason": "tool_calls" if tool_name else "stop",
                        "logprobs": None,
                    }
                ],
                "usage": self._usage(body, tokens),
            }
        )

    async def _stream(
        self,
        request: web.Request,
        record: RequestRecord,
        body: dict[str, Any],
        directives: Directives,
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        chunk_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())

        async def send(choices: list[dict[str, Any]], **extra: Any) -> None:
            payload = {
                "id": chunk_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": record.model,
                "system_fingerprint": "fp_simulator",
                "choices": choices,
                **extra,
            }
            await response.write(f"data: {json.dumps(payload)}\n\n".encode())

        try:
            hostile = self._hostile_event(directives)
            if hostile is not None:
                await response.write(b"data: " + hostile + b"\n\n")
                self._finish(record, "server_closed")
                return response
            await send([{"index": 0, "delta": {"role": "assistant", "content": ""}}])
            text, tool_name = self._answer(body, directives)
            pieces: int | None
            if tool_name is not None:
                pieces = await self._send_tool_call(send, tool_name, directives)
                finish_reason = "tool_calls"
            else:
                pieces = await self._send_text(send, record, text, directives)
                if pieces is None:
                    self._finish(record, "server_closed")
                    return response
                finish_reason = "stop"
            await send([{"index": 0, "delta": {}, "finish_reason": finish_reason}])
            options = body.get("stream_options") or {}
            if options.get("include_usage"):
                await send([], usage=self._usage(body, pieces))
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
            self._finish(record, "completed")
        except ConnectionResetError:
            self._finish(record, "client_closed")
        return response

    def _hostile_event(self, directives: Directives) -> bytes | None:
        if directives.garbage:
            return b"{this is not json"
        if directives.wrong_shape:
            return b'[1, 2, "three"]'
        if directives.error_event:
            body = error_body("The server is overloaded", error_type="server_error")
            return json.dumps(body).encode()
        return None

    async def _send_text(
        self, send: Any, record: RequestRecord, text: str, directives: Directives
    ) -> int | None:
        """Stream the text token by token; None when told to stop early (no finish sent)."""
        tokens = split_tokens(text)
        stop_after = directives.stop_after_tokens
        if directives.stop_halfway:
            stop_after = len(tokens) // 2
        for position, token in enumerate(tokens):
            if stop_after is not None and position >= stop_after:
                return None
            if position:
                await self._inter_token_delay(directives)
            await send([{"index": 0, "delta": {"content": token}, "finish_reason": None}])
            record.tokens_sent += 1
        return None if stop_after is not None else len(tokens)

    async def _send_tool_call(self, send: Any, name: str, directives: Directives) -> int:
        arguments = directives.tool_arguments
        call_id = f"call_{uuid.uuid4().hex[:12]}"
        head = {
            "index": 0,
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": ""},
        }
        await send([{"index": 0, "delta": {"tool_calls": [head]}, "finish_reason": None}])
        piece_chars = max(1, math.ceil(len(arguments) / 3))
        for start in range(0, len(arguments), piece_chars):
            await self._inter_token_delay(directives)
            piece = {"index": 0, "function": {"arguments": arguments[start : start + piece_chars]}}
            await send([{"index": 0, "delta": {"tool_calls": [piece]}, "finish_reason": None}])
        return 1 + math.ceil(len(arguments) / piece_chars)


async def serve(host: str, port: int, settings: SimulatorSettings) -> None:
    """Serve until cancelled."""
    runner = web.AppRunner(
        Simulator(settings).application(), handler_cancellation=True, access_log=None
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    await site.start()
    logger.info("OpenAI simulator listening on http://%s:%d/v1", host, port)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--first-token-ms", type=float, default=50.0)
    parser.add_argument("--inter-token-ms", type=float, default=5.0)
    parser.add_argument("--reply", default=DEFAULT_REPLY)
    parser.add_argument("--transcript", default=DEFAULT_TRANSCRIPT)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = SimulatorSettings(
        reply=args.reply,
        transcript=args.transcript,
        first_token_ms=args.first_token_ms,
        inter_token_ms=args.inter_token_ms,
    )
    try:
        asyncio.run(serve(args.host, args.port, settings))
    except KeyboardInterrupt:
        logger.info("simulator stopped")


if __name__ == "__main__":
    main()
