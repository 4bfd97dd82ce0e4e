"""A real daphne (or uvicorn) process serving AURA against the test database, for end-to-end
tests."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from core.processes import answers, asgi_server_command, free_port, stop
from core.processes import wait_until_ready as until_ready

REPO_ROOT = Path(__file__).resolve().parents[3]
STARTUP_TIMEOUT_S = 60.0


@dataclass
class DaphneProcess:
    process: subprocess.Popen[bytes]
    port: int
    # Where its output goes, when a test reads it (else the test run's own output).
    log: Path | None = None
    server: str = "daphne"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def websocket_base_url(self) -> str:
        """What the openai SDK takes as `websocket_base_url`."""
        return f"ws://127.0.0.1:{self.port}/v1"


@contextlib.contextmanager
def run_daphne(
    *,
    database_name: str,
    extra_env: dict[str, str] | None = None,
    server: str = "daphne",
    log: Path | None = None,
) -> Iterator[DaphneProcess]:
    """Start daphne (or `server`, one of core.processes.ASGI_SERVERS) on a free port with the
    test settings and database; stop it afterwards."""
    process = start_daphne(database_name=database_name, extra_env=extra_env, server=server, log=log)
    try:
        wait_until_ready(process)
        yield process
    finally:
        stop_daphne(process)


def start_daphne(
    *,
    database_name: str,
    extra_env: dict[str, str] | None = None,
    server: str = "daphne",
    log: Path | None = None,
) -> DaphneProcess:
    """Start daphne (or `server`) without waiting for it (several can start side by side)."""
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
    command = asgi_server_command(server, port)
    if log is None:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env)
    else:
        with log.open("ab") as output:
            process = subprocess.Popen(
                command, cwd=REPO_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
            )
    return DaphneProcess(process=process, port=port, log=log, server=server)


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
