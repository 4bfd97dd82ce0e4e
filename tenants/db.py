"""Running ORM code for a tenant from async code, without leaking schemas between tenants.

A thread-pool thread keeps the schema its connection last had, so "the current tenant" must
never be assumed across an `await`: every call enters the schema for exactly that call, inside
the worker thread, and restores the previous one after it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, cast

from asgiref.sync import sync_to_async
from django.db import close_old_connections, connection
from django_tenants.utils import get_public_schema_name, schema_context

P = ParamSpec("P")
T = TypeVar("T")


def _call_in_schema(schema_name: str, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    # The same hygiene as channels' database_sync_to_async: drop connections that went stale.
    close_old_connections()
    try:
        with schema_context(schema_name):
            return fn(*args, **kwargs)
    finally:
        close_old_connections()


async def in_schema(
    schema_name: str, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
) -> T:
    """Await `fn(*args, **kwargs)` run in a worker thread inside `schema_name`.

    Not thread-sensitive: with hundreds of sessions, funnelling every query through Django's
    one "main" thread would queue them all; each call sets its schema itself, so any pool
    thread will do.
    """
    return await sync_to_async(_call_in_schema, thread_sensitive=False)(
        schema_name, fn, *args, **kwargs
    )


async def in_public_schema(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    return await in_schema(get_public_schema_name(), fn, *args, **kwargs)


def use_public_schema() -> None:
    """Point this thread's connection at the public schema (where tenants are rows)."""
    cast(Any, connection).set_schema_to_public()


def current_schema_name() -> str:
    return cast(str, cast(Any, connection).schema_name)
