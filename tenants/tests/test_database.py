"""First set-up creates the platform database when the server has none (tenants/database.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.db import connection
from psycopg import sql

from tenants.database import (
    DatabaseSetupError,
    database_disconnect_others,
    database_ensure_exists,
)


@pytest.fixture
def fresh_name() -> Iterator[dict[str, Any]]:
    settings_dict = {**connection.settings_dict, "NAME": f"aura_probe_{uuid.uuid4().hex[:8]}"}
    yield settings_dict
    with psycopg.connect(
        dbname="postgres",
        host=settings_dict["HOST"],
        port=settings_dict["PORT"] or None,
        user=settings_dict["USER"],
        autocommit=True,
    ) as maintenance:
        maintenance.execute(
            sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(settings_dict["NAME"]))
        )


def test_a_missing_database_is_created_once(fresh_name: dict[str, Any]) -> None:
    assert database_ensure_exists(fresh_name) is True
    assert database_ensure_exists(fresh_name) is False
    with psycopg.connect(
        dbname=fresh_name["NAME"], host=fresh_name["HOST"], user=fresh_name["USER"]
    ) as created:
        assert created.execute("SELECT current_database()").fetchone() == (fresh_name["NAME"],)


def test_a_hostile_name_is_quoted_not_executed(fresh_name: dict[str, Any]) -> None:
    fresh_name["NAME"] = fresh_name["NAME"] + '"; DROP DATABASE postgres; --'
    assert database_ensure_exists(fresh_name) is True
    assert database_ensure_exists({**fresh_name, "NAME": "postgres"}) is False


def test_an_unreachable_server_is_explained() -> None:
    settings_dict = {**connection.settings_dict, "NAME": "aura_nowhere", "PORT": 9}
    with pytest.raises(DatabaseSetupError, match="createdb aura_nowhere"):
        database_ensure_exists(settings_dict)


def test_other_sessions_on_a_database_are_ended_so_it_can_be_dropped(
    fresh_name: dict[str, Any],
) -> None:
    database_ensure_exists(fresh_name)
    lingering = psycopg.connect(
        dbname=fresh_name["NAME"], host=fresh_name["HOST"], user=fresh_name["USER"]
    )
    try:
        assert database_disconnect_others(fresh_name, fresh_name["NAME"]) == 1
        with pytest.raises(psycopg.OperationalError):
            lingering.execute("SELECT 1")
        assert database_disconnect_others(fresh_name, fresh_name["NAME"]) == 0
    finally:
        lingering.close()
