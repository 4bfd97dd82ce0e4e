"""Which settings each entry point runs with: production never runs development settings by
accident (manage.py, asgi.py, wsgi.py, celery.py, the Procfile, the image)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter with no settings module named unless given."""
    clean = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "AURA_ENV"}}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_development_settings_refuse_to_load_in_production():
    refused = python(
        "import django; django.setup()",
        DJANGO_SETTINGS_MODULE="aura_project.settings.dev",
        AURA_ENV="production",
    )
    allowed = python(
        "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)",
        DJANGO_SETTINGS_MODULE="aura_project.settings.dev",
        DEBUG="true",
    )

    assert refused.returncode != 0
    assert "refuses to run where AURA_ENV=production" in refused.stderr
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout.strip() == "True"


def test_manage_py_in_production_refuses_the_development_default():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=REPO_ROOT,
        env={k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
        | {"AURA_ENV": "production"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "set DJANGO_SETTINGS_MODULE=aura_project.settings.prod" in result.stderr


@pytest.mark.parametrize(
    "code",
    [
        "import aura_project.asgi",
        "import aura_project.wsgi",
        "import aura_project.celery; from django.conf import settings; settings.DEBUG",
    ],
)
def test_serving_entry_points_default_to_production_settings(code):
    # Without a settings module, a server or worker gets the production settings, which refuse
    # to start without a real secret rather than serve with development's.
    result = python(code, SECRET_KEY="")
    assert result.returncode != 0
    assert "SECRET_KEY must be set to a long random value in production" in result.stderr


def test_the_procfile_names_no_settings_and_runs_none_unless_told():
    procfile = (REPO_ROOT / "Procfile").read_text().splitlines()
    for line in procfile:
        name, command = line.split(":", 1)
        result = subprocess.run(
            ["sh", "-c", command],
            cwd=REPO_ROOT,
            env={k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode != 0, name
        assert "must name the settings" in result.stderr, name
    makefile = (REPO_ROOT / "Makefile").read_text()
    run_target = makefile[makefile.index("\nrun:") :].split("\n\n")[0]
    assert "DJANGO_SETTINGS_MODULE=$${DJANGO_SETTINGS_MODULE:-aura_project.settings.dev}" in (
        run_target
    )


def test_the_image_says_production():
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert re.search(r"DJANGO_SETTINGS_MODULE=aura_project\.settings\.prod\b", dockerfile)
    assert re.search(r"\bAURA_ENV=production\b", dockerfile)
    # The development compose file runs the same image with development settings on purpose.
    dev_compose = (REPO_ROOT / "docker-compose.dev.yml").read_text()
    assert "DJANGO_SETTINGS_MODULE: aura_project.settings.dev" in dev_compose
    assert "AURA_ENV: development" in dev_compose
