"""Where settings come from: the process environment, and a `.env` file beside manage.py if any."""

from __future__ import annotations

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
ENV_FILE = BASE_DIR / ".env"
# Optional: containers and CI configure the environment directly. django-environ would log
# "... doesn't exist" for a missing file, once per process, daphne's and Celery's included.
if ENV_FILE.is_file():
    environ.Env.read_env(ENV_FILE, overwrite=False)
