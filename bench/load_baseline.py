"""The A side of an A/B run (`bench.load --baseline-rev`): another revision's tree, database
and benchmark organization, set up with that revision's own code."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.load_setup import ENV, REPO_ROOT


def baseline_database_url() -> str:
    """This run's database with `_baseline` appended, created anew: a database another
    revision migrated holds tenant schemas this one's code does not know (or lacks ones it
    needs), and `migrate_schemas --shared` only brings the public schema along."""
    import psycopg
    from django.conf import settings

    database = settings.DATABASES["default"]
    name = f"{database['NAME']}_baseline"
    params = {
        "host": database["HOST"],
        "port": database["PORT"] or 5432,
        "user": database["USER"],
        "password": database["PASSWORD"] or None,
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    password = f":{params['password']}" if params["password"] else ""
    return f"postgres://{params['user']}{password}@{params['host']}:{params['port']}/{name}"


def prepare_baseline(tree: Path, simulator_url: str) -> tuple[dict[str, str], str]:
    """The baseline tree's environment (its own database, migrated by its own code) and an
    API key of the benchmark organization provisioned there by its own `provision`."""
    env = {**ENV, "PYTHONPATH": str(tree), "DATABASE_URL": baseline_database_url()}
    python = [sys.executable]
    subprocess.run(
        [*python, "manage.py", "migrate_schemas", "--shared", "-v", "0"],
        cwd=tree,
        env=env,
        check=True,
    )
    # `provision` moved from bench/load.py to bench/load_setup.py; older trees have it there.
    script = (
        "try:\n    from bench.load_setup import provision\n"
        "except ImportError:\n    from bench.load import provision\n"
        f"print(provision({simulator_url!r}))"
    )
    provisioned = subprocess.run(
        [*python, "-c", script], cwd=tree, env=env, check=True, capture_output=True, text=True
    )
    return env, provisioned.stdout.strip().splitlines()[-1]


@contextmanager
def checkout(revision: str) -> Iterator[Path]:
    """A detached worktree of `revision` in a temporary directory, removed afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="aura-baseline-")) / "tree"
    git = ["git", "-C", str(REPO_ROOT)]
    subprocess.run([*git, "worktree", "add", "--detach", str(directory), revision], check=True)
    try:
        yield directory
    finally:
        subprocess.run([*git, "worktree", "remove", "--force", str(directory)], check=False)
        shutil.rmtree(directory.parent, ignore_errors=True)
