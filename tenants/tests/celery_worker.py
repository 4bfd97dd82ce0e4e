"""A real Celery worker process for tests, consuming this test run's own queue."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from aura_project.celery import app

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 60.0


@contextlib.contextmanager
def run_celery_worker(
    *,
    database_name: str,
    queue: str,
    output: IO[bytes] | None = None,
    extra_env: dict[str, str] | None = None,
) -> Iterator[str]:
    """Start a solo worker on `queue` against the test database; yield its node name.

    `--purge` drops what an interrupted earlier run may have left on the queue. The worker's
    stdout and stderr go to `output` when given (to read what it logged).
    """
    node_name = f"{queue}@localhost"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "aura_project.settings.test",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database_name}",
        "PYTHONUNBUFFERED": "1",
        # The suite's simulated model providers listen on loopback: allowed as an operator
        # would allow a self-hosted model server (tests of the rule itself clear this).
        "AURA_PROVIDER_ALLOWED_HOSTS": "127.0.0.1",
        **(extra_env or {}),
    }
    command = [
        *(sys.executable, "-m", "celery", "-A", "aura_project", "worker"),
        *("--pool", "solo", "--queues", queue, "--hostname", node_name, "--loglevel", "INFO"),
        *("--purge", "--without-gossip", "--without-mingle", "--without-heartbeat"),
    ]
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=output, stderr=output)
    try:
        _wait_until_ready(process, node_name)
        yield node_name
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _wait_until_ready(process: subprocess.Popen[bytes], node_name: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Celery worker exited with code {process.returncode}")
        if app.control.ping(destination=[node_name], timeout=0.5):
            return
    raise TimeoutError(f"the Celery worker did not answer within {STARTUP_TIMEOUT_S} s")
