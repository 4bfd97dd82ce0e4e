"""Starting helper processes (tests and benchmarks): a free port, waiting until one answers,
stopping it.

One place for what every process-backed test and benchmark needs (the simulated model
provider, daphne, nginx, a Celery worker): each waits by polling its own readiness check and
fails at once if the process died.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable

# daphne as the Procfile runs it: a message limit above AURA's own 1 MiB event limit, so that an
# oversized event gets a clear error event (beyond 2 MiB daphne drops the connection itself); a
# close timeout longer than AURA_SHUTDOWN_GRACE_SECONDS, so that a session's close() is never cut
# short.
DAPHNE_FLAGS = (
    "--websocket-max-message-size",
    "2097152",
    "--websocket-max-frame-size",
    "2097152",
    "--application-close-timeout",
    "30",
)


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
