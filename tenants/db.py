"""Running ORM code for a tenant from async code, without leaking schemas between tenants.

A thread-pool thread keeps the schema its connection last had, so "the current tenant" must
never be assumed across an `await`: every call enters the schema for exactly that call, inside
the worker thread, and restores the previous one after it.

The calls run in a pool of their own (AURA_DATABASE_WORKERS threads), not in the event loop's
default executor: anything else blocking there (a DNS lookup that never answers, say) cannot
hold up every tenant's queries, and the pool's size bounds the database connections this
process opens (Django keeps one per thread).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar, cast

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, connection
from django_tenants.utils import get_public_schema_name, schema_context

P = ParamSpec("P")
T = TypeVar("T")

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def database_executor() -> ThreadPoolExecutor:
    """The process's pool for ORM calls from async code, created at first use."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = _new_pool(settings.AURA_DATABASE_WORKERS)
        return _executor


def configure_database_pool(*, workers: int) -> None:
    """Replace the pool with one of `workers` threads (calls in flight finish on the old one)."""
    global _executor
    with _executor_lock:
        previous, _executor = _executor, _new_pool(workers)
    if previous is not None:
        previous.shutdown(wait=False)


def _new_pool(workers: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="aura-db")


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
    """Await `fn(*args, **kwargs)` run in a database worker thread inside `schema_name`.

    Not thread-sensitive: with hundreds of sessions, funnelling every query through Django's
    one "main" thread would queue them all; each call sets its schema itself, so any thread of
    the pool will do.
    """
    call = sync_to_async(_call_in_schema, thread_sensitive=False, executor=database_executor())
    return await call(schema_name, fn, *args, **kwargs)


async def in_public_schema(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    return await in_schema(get_public_schema_name(), fn, *args, **kwargs)


def use_public_schema() -> None:
    """Point this thread's connection at the public schema (where tenants are rows)."""
    cast(Any, connection).set_schema_to_public()


def current_schema_name() -> str:
    return cast(str, cast(Any, connection).schema_name)
