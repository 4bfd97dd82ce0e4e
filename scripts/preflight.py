"""Say in one line what is missing before serving or testing, instead of a traceback later.

Standard library only: it runs before the virtualenv has Django.
"""

from __future__ import annotations

import os
import socket
import sys
from urllib.parse import urlsplit

CHECKS = (
    (
        "PostgreSQL",
        "DATABASE_URL",
        "postgres://postgres@127.0.0.1:5432/aura",
        5432,
        "start it (Debian: pg_ctlcluster 15 main start; Docker: "
        "docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:16) "
        "or point DATABASE_URL at one",
    ),
    (
        "Redis",
        "REDIS_URL",
        "redis://127.0.0.1:6379/0",
        6379,
        "start it (Debian: redis-server --daemonize yes; "
        "Docker: docker run -d -p 6379:6379 redis:7) or point REDIS_URL at one",
    ),
)


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def main() -> int:
    if sys.version_info[:2] != (3, 11):
        print(
            f"AURA needs Python 3.11; this is {sys.version.split()[0]}. "
            "Set PYTHON=/path/to/python3.11."
        )
        return 1
    missing = 0
    for name, variable, default, default_port, how in CHECKS:
        url = urlsplit(os.environ.get(variable, default))
        host, port = url.hostname or "127.0.0.1", url.port or default_port
        if not reachable(host, port):
            print(f"{name} is not reachable at {host}:{port} ({variable}): {how}.")
            missing += 1
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
