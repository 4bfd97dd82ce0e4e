"""Starting helper processes (tests and benchmarks): a free port, waiting until one answers,
stopping it.

One place for what every process-backed test and benchmark needs (the simulated model
provider, daphne or uvicorn, nginx, a Celery worker): each waits by polling its own readiness
check and fails at once if the process died.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable

# The limits of every ASGI server that serves AURA, daphne or uvicorn.
# A message limit above AURA's own 1 MiB event limit, so that an oversized event gets a clear
# error event (beyond 2 MiB the server drops the connection itself).
WEBSOCKET_MAX_MESSAGE_BYTES = 2 * 2**20
# A keepalive ping this often, and a connection whose pong is this late is dropped (daphne's
# defaults, given to uvicorn as well).
WEBSOCKET_PING_INTERVAL_S = 20
WEBSOCKET_PING_TIMEOUT_S = 30
# How long an application may run on after its client left (daphne) or after shutdown began
# (uvicorn): longer than AURA_SHUTDOWN_GRACE_SECONDS, so that a session's close() is never cut
# short.
APPLICATION_CLOSE_TIMEOUT_S = 30

# daphne as the Procfile runs it.
DAPHNE_FLAGS = (
    "--websocket-max-message-size",
    str(WEBSOCKET_MAX_MESSAGE_BYTES),
    "--websocket-max-frame-size",
    str(WEBSOCKET_MAX_MESSAGE_BYTES),
    "--ping-interval",
    str(WEBSOCKET_PING_INTERVAL_S),
    "--ping-timeout",
    str(WEBSOCKET_PING_TIMEOUT_S),
    "--application-close-timeout",
    str(APPLICATION_CLOSE_TIMEOUT_S),
)

# uvicorn with the same limits, on uvloop and httptools. uvicorn's defaults that daphne does not
# share are turned off: compression (permessage-deflate, CPU per frame that daphne never
# spends), believing X-Forwarded-For from loopback (core/client_address.py decides which proxy
# to believe) and the lifespan protocol (Channels' router has no lifespan application).
UVICORN_FLAGS = (
    "--loop",
    "uvloop",
    "--http",
    "httptools",
    "--ws",
    "websockets",
    "--ws-max-size",
    str(WEBSOCKET_MAX_MESSAGE_BYTES),
    "--ws-ping-interval",
    str(WEBSOCKET_PING_INTERVAL_S),
    "--ws-ping-timeout",
    str(WEBSOCKET_PING_TIMEOUT_S),
    "--ws-per-message-deflate",
    "false",
    "--timeout-graceful-shutdown",
    str(APPLICATION_CLOSE_TIMEOUT_S),
    "--no-proxy-headers",
    "--lifespan",
    "off",
)

ASGI_SERVERS = ("daphne", "uvicorn")
ASGI_APPLICATION = "aura_project.asgi:application"


def asgi_server_command(
    server: str, port: int | str, *, host: str = "127.0.0.1", application: str = ASGI_APPLICATION
) -> list[str]:
    """The command that serves `application` on `host:port` with `server` (one of
    `ASGI_SERVERS`) and the limits above, in this virtualenv's Python."""
    if server == "daphne":
        return [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            host,
            "-p",
            str(port),
            *DAPHNE_FLAGS,
            application,
        ]
    if server == "uvicorn":
        return [
            sys.executable,
            "-m",
            "uvicorn",
            "--host",
            host,
            "--port",
            str(port),
            *UVICORN_FLAGS,
            application,
        ]
    raise ValueError(f"unknown ASGI server {server!r} (one of {', '.join(ASGI_SERVERS)})")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def listening(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:`port`."""
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


def answers(url: str) -> bool:
    """Whether an HTTP GET of `url` succeeds (a health check)."""
    try:
        with urllib.request.urlopen(url, timeout=1) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


def wait_until_ready(
    process: subprocess.Popen[bytes],
    ready: Callable[[], bool],
    *,
    name: str,
    timeout_s: float,
    interval_s: float = 0.05,
) -> None:
    """Poll `ready()` until it holds; raise if `process` exits first or `timeout_s` passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with code {process.returncode}")
        if ready():
            return
        time.sleep(interval_s)
    raise TimeoutError(f"{name} was not ready within {timeout_s} s")


def stop(process: subprocess.Popen[bytes], *, timeout_s: float = 10) -> None:
    """SIGTERM (a graceful stop), SIGKILL if the process outlasts `timeout_s`."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
