"""The settings package: a `.env` file beside manage.py is optional and read when present."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO_ROOT

# Imports the settings logging at INFO (as daphne and Celery do); prints the SECRET_KEY read.
IMPORT_SETTINGS = """
import logging
logging.basicConfig(level=logging.INFO, format="LOG %(levelname)s %(name)s %(message)s")
from aura_project.settings import base
print("SECRET_KEY", base.SECRET_KEY)
"""


def import_settings_in(checkout: Path) -> subprocess.CompletedProcess[str]:
    """Import a copy of the settings whose BASE_DIR is `checkout` (so its .env is the one used)."""
    shutil.copytree(REPO_ROOT / "aura_project" / "settings", checkout / "aura_project" / "settings")
    (checkout / "aura_project" / "__init__.py").write_text("")
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    return subprocess.run(
        [sys.executable, "-c", IMPORT_SETTINGS],
        cwd=checkout,
        env={**env, "PYTHONPATH": str(checkout)},
        capture_output=True,
        text=True,
        check=True,
    )


def test_without_a_env_file_nothing_is_logged_about_it(tmp_path: Path) -> None:
    done = import_settings_in(tmp_path)

    assert ".env" not in done.stdout + done.stderr
    assert not [line for line in done.stdout.splitlines() if line.startswith("LOG")]
    assert "SECRET_KEY dev-insecure-secret-key-change-me" in done.stdout


def test_a_env_file_is_read_when_present(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SECRET_KEY=from-the-env-file\n")

    done = import_settings_in(tmp_path)

    assert "SECRET_KEY from-the-env-file" in done.stdout
