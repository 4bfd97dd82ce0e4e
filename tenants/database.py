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


def _server_options(settings_dict: dict[str, Any]) -> dict[str, Any]:
    return {
        key.lower(): settings_dict[key]
        for key in ("HOST", "PORT", "USER", "PASSWORD")
        if settings_dict.get(key)
    }


def database_ensure_exists(settings_dict: dict[str, Any]) -> bool:
    """Create the database `settings_dict` names unless it exists; True if it was created."""
    name = settings_dict["NAME"]
    options = _server_options(settings_dict)
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


def database_disconnect_others(settings_dict: dict[str, Any], name: str) -> int:
    """End every other session connected to database `name`; return how many were ended.

    For dropping a database (the test database at the end of a run) that a killed server
    process or a pool thread may still hold open: PostgreSQL refuses to drop it otherwise.
    """
    with psycopg.connect(dbname="postgres", autocommit=True, **_server_options(settings_dict)) as (
        maintenance
    ):
        ended = maintenance.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchone()
    return int(ended[0]) if ended else 0
