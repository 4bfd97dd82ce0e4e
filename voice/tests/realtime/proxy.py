"""nginx (Debian's package) in front of daphne processes, as deployed, for end-to-end tests.

The generated configuration includes the deployment's own `deploy/nginx/aura-http.conf` and
`aura-locations.conf`, so the tests exercise the proxy rules production uses (WebSocket
upgrade, timeouts, the /metrics block); only the upstream list and the file paths differ.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.processes import free_port, listening, stop, wait_until_ready
from voice.tests.realtime.server import REPO_ROOT

NGINX_DIR = REPO_ROOT / "deploy" / "nginx"
STARTUP_TIMEOUT_S = 15.0


def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found is None:
        raise RuntimeError("nginx is not installed: run `make ops-tools` (Debian's nginx)")
    return found


@dataclass
class NginxProcess:
    process: subprocess.Popen[bytes]
    port: int
    prefix: Path

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def websocket_base_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1"

    @property
    def access_log(self) -> Path:
        return self.prefix / "access.log"


def nginx_config(prefix: Path, *, listen_port: int, upstream_ports: Sequence[int]) -> str:
    servers = "\n".join(f"        server 127.0.0.1:{port};" for port in upstream_ports)
    # As root, workers would otherwise run as nobody and could not write under pytest's tmp.
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp_paths = "\n".join(
        f"    {kind}_temp_path {prefix / (kind + '_temp')};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""{user}daemon off;
worker_processes 1;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} info;
events {{
    worker_connections 512;
}}
http {{
    include {NGINX_DIR / "aura-http.conf"};
    access_log {prefix / "access.log"} aura;
{temp_paths}
    upstream aura_voice {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{listen_port};
        include {NGINX_DIR / "aura-locations.conf"};
    }}
}}
"""


def write_config(prefix: Path, *, listen_port: int, upstream_ports: Sequence[int]) -> Path:
    prefix.mkdir(parents=True, exist_ok=True)
    path = prefix / "nginx.conf"
    path.write_text(nginx_config(prefix, listen_port=listen_port, upstream_ports=upstream_ports))
    return path


def check_config(path: Path) -> subprocess.CompletedProcess[str]:
    """`nginx -t` on a configuration: syntax and every included file."""
    return subprocess.run(
        [
            nginx_binary(),
            "-t",
            "-p",
            str(path.parent),
            "-c",
            str(path),
            "-e",
            str(path.parent / "error.log"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


@contextlib.contextmanager
def run_nginx(prefix: Path, *, upstream_ports: Sequence[int]) -> Iterator[NginxProcess]:
    """nginx in the foreground (a child of the test) proxying to `upstream_ports`."""
    port = free_port()
    config = write_config(prefix, listen_port=port, upstream_ports=upstream_ports)
    process = subprocess.Popen(
        [nginx_binary(), "-p", str(prefix), "-c", str(config), "-e", str(prefix / "error.log")]
    )
    try:
        wait_until_ready(
            process, lambda: listening(port), name="nginx", timeout_s=STARTUP_TIMEOUT_S
        )
        yield NginxProcess(process=process, port=port, prefix=prefix)
    finally:
        stop(process)
