"""A real daphne process serving AURA against the test database, for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from core.processes import DAPHNE_FLAGS, answers, free_port, stop
from core.processes import wait_until_ready as until_ready

REPO_ROOT = Path(__file__).resolve().parents[3]
STARTUP_TIMEOUT_S = 60.0


@dataclass
class DaphneProcess:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def websocket_base_url(self) -> str:
        """What the openai SDK takes as `websocket_base_url`."""
        return f"ws://127.0.0.1:{self.port}/v1"


@contextlib.contextmanager
def run_daphne(
    *, database_name: str, extra_env: dict[str, str] | None = None
) -> Iterator[DaphneProcess]:
    """Start daphne on a free port with the test settings and database; stop it afterwards."""
    server = start_daphne(database_name=database_name, extra_env=extra_env)
    try:
        wait_until_ready(server)
        yield server
    finally:
        stop_daphne(server)


def start_daphne(*, database_name: str, extra_env: dict[str, str] | None = None) -> DaphneProcess:
    """Start daphne without waiting for it (several can start side by side)."""
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "aura_project.settings.test",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database_name}",
        "PYTHONUNBUFFERED": "1",
        # As honcho sets it for the Procfile: the demo page's origins follow the served port.
        "PORT": str(port),
        # The suite's simulated model providers listen on loopback: allowed as an operator
        # would allow a self-hosted model server (tests of the rule itself clear this).
        "AURA_PROVIDER_ALLOWED_HOSTS": "127.0.0.1",
        **(extra_env or {}),
    }
    command = [
        sys.executable,
        "-m",
        "daphne",
        "-b",
        "127.0.0.1",
        "-p",
        str(port),
        *DAPHNE_FLAGS,
        "aura_project.asgi:application",
    ]
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env)
    return DaphneProcess(process=process, port=port)


def stop_daphne(server: DaphneProcess, *, timeout_s: float = 30) -> None:
    """SIGTERM (the graceful shutdown), SIGKILL if it outlasts `timeout_s`."""
    stop(server.process, timeout_s=timeout_s)


def wait_until_ready(server: DaphneProcess) -> None:
    health_url = server.http_url + "/healthz"
    until_ready(
        server.process,
        lambda: answers(health_url),
        name="daphne",
        timeout_s=STARTUP_TIMEOUT_S,
        interval_s=0.1,
    )
