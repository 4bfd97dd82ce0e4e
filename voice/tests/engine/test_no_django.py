"""The engine is framework-free: importing all of it loads neither Django nor Channels."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]

IMPORT_EVERYTHING = """
import json, pkgutil, importlib, sys
import voice.engine
modules = [m.name for m in pkgutil.walk_packages(voice.engine.__path__, "voice.engine.")]
for name in modules:
    importlib.import_module(name)
loaded = sorted(
    n for n in sys.modules
    if n.split(".")[0] in ("django", "channels", "rest_framework", "django_tenants")
)
print(json.dumps({"modules": modules, "framework": loaded}))
"""


def test_importing_every_engine_module_loads_no_django_or_channels() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERYTHING],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT)},
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert "voice.engine.pipeline.session" in report["modules"]
    assert "voice.engine.events" in report["modules"]
    assert report["framework"] == []
