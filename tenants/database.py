"""Creating the platform's PostgreSQL database on first set-up.

`make run` on a fresh machine finds a PostgreSQL server but not yet AURA's database; Django's
`migrate` cannot create it, so set-up does, through the server's maintenance database.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql


class DatabaseSetupError(Exception):
    """The database is missing and could not be created; the message says what to do."""


def database_ensure_exists(settings_dict: dict[str, Any]) -> bool:
    """Create the database `settings_dict` names unless it exists; True if it was created."""
    name = settings_dict["NAME"]
    options: dict[str, Any] = {
        key.lower(): settings_dict[key]
        for key in ("HOST", "PORT", "USER", "PASSWORD")
        if settings_dict.get(key)
    }
    try:
        with psycopg.connect(dbname="postgres", autocommit=True, **options) as maintenance:
            exists = maintenance.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if exists:
                return False
            maintenance.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            return True
    except psycopg.Error as error:
        raise DatabaseSetupError(
            f"database {name!r} does not exist and could not be created ({error}). Create it "
            f"yourself (createdb {name}) or point DATABASE_URL at an existing database."
        ) from error
