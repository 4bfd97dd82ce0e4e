"""A new organization's schema: a copy of a migrated template schema, not a migration run.

Migrating a fresh schema plans and applies every tenant migration one by one (~0.5 s on 2
cores, most of it Python). Copying the tables of a template schema that was migrated once is
a few dozen catalog statements. The template (`AURA_TENANT_TEMPLATE_SCHEMA`) is rebuilt by
migrations whenever the code's tenant migrations change, so a copy is always exactly what
migrating would have built: the same tables, constraint and index names, identity columns and
the same rows of `django_migrations`, content types and permissions.

django-tenants ships a copier (`clone_schema`, a 4,500-line PL/pgSQL function that it
re-creates at every call); measured here it was 2.5 times slower than this one, which copies
only what tenant schemas hold (tables, constraints, indexes, identity sequences, rows) and
refuses a template with anything else (views, functions, triggers, plain sequences).
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass

from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django_tenants.utils import schema_exists

from tenants.db import use_public_schema
from tenants.migration_state import code_digest, schema_digest

logger = logging.getLogger(__name__)

# Constraint kinds in the order they can be added: keys before the foreign keys that use them.
_CONSTRAINT_ORDER = "CASE contype WHEN 'p' THEN 0 WHEN 'u' THEN 1 WHEN 'x' THEN 2 ELSE 3 END"


class TemplateUnsupportedError(RuntimeError):
    """The template holds an object this copier does not copy."""


@dataclass(frozen=True, slots=True)
class SchemaLayout:
    tables: tuple[str, ...]
    constraints: tuple[tuple[str, str, str], ...]  # (table, name, definition)
    indexes: tuple[str, ...]  # CREATE INDEX statements, unqualified
    identities: tuple[tuple[str, str], ...]  # (table, column)
    tables_with_rows: tuple[str, ...]


def template_schema() -> str:
    return str(settings.AURA_TENANT_TEMPLATE_SCHEMA)


def _lock_id(name: str) -> int:
    return zlib.crc32(f"aura-template:{name}".encode())


def schema_build(schema_name: str) -> None:
    """Create `schema_name` with every tenant table, from the template when there is one.

    Runs inside the caller's transaction, so a failure leaves no schema behind.
    """
    template = template_schema()
    if template:
        try:
            template_ensure(template)
            schema_copy(template, schema_name)
            return
        except TemplateUnsupportedError:
            logger.exception("the template schema cannot be copied; migrating instead")
    _schema_migrate_new(schema_name)


def _schema_migrate_new(schema_name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {connection.ops.quote_name(schema_name)}")
    call_command(
        "migrate_schemas", tenant=True, schema_name=schema_name, interactive=False, verbosity=0
    )
    use_public_schema()


def template_ensure(template: str) -> None:
    """Make sure the template holds exactly the code's tenant migrations, rebuilding it if not.

    Copies share a lock with each other and wait for a rebuild, which takes it alone.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [_lock_id(template)])
    if _template_current(template):
        return
    with connection.cursor() as cursor:
        # Upgrading a shared lock to an exclusive one would deadlock two upgraders: take the
        # exclusive one under a second key that only rebuilders use, then check again.
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_id(template) + 1])
    if _template_current(template):
        return
    logger.info("rebuilding the tenant template schema %s", template)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {connection.ops.quote_name(template)} CASCADE")
    _schema_migrate_new(template)


def _template_current(template: str) -> bool:
    return schema_exists(template) and schema_digest(template) == code_digest()


def schema_copy(source: str, target: str) -> None:
    """Create schema `target` as a copy of `source`: structure, names and rows."""
    layout = _layout(source)
    quoted_source = connection.ops.quote_name(source)
    quoted_target = connection.ops.quote_name(target)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {quoted_target}")
        for table in layout.tables:
            name = connection.ops.quote_name(table)
            cursor.execute(
                f"CREATE TABLE {quoted_target}.{name} (LIKE {quoted_source}.{name} "
                "INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING GENERATED INCLUDING STORAGE)"
            )
        # Definitions were read with the template alone on the search path, so they name its
        # tables unqualified: run them with the new schema alone on it.
        cursor.execute("SELECT set_config('search_path', %s, true)", [quoted_target])
        for table, name, definition in layout.constraints:
            cursor.execute(
                f"ALTER TABLE {connection.ops.quote_name(table)} "
                f"ADD CONSTRAINT {connection.ops.quote_name(name)} {definition}"
            )
        for statement in layout.indexes:
            cursor.execute(statement)
        for table in layout.tables_with_rows:
            name = connection.ops.quote_name(table)
            cursor.execute(
                f"INSERT INTO {name} OVERRIDING SYSTEM VALUE SELECT * FROM {quoted_source}.{name}"
            )
        for table, column in layout.identities:
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, %s), "
                f"COALESCE((SELECT max({connection.ops.quote_name(column)}) "
                f"FROM {connection.ops.quote_name(table)}), 0) + 1, false)",
                [connection.ops.quote_name(table), column],
            )
    # django-tenants sets the search path again at the next cursor.
    use_public_schema()


def _layout(source: str) -> SchemaLayout:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('search_path', %s, true)", [connection.ops.quote_name(source)]
        )
        _refuse_what_is_not_copied(cursor, source)
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = %s::regnamespace "
            "AND relkind = 'r' ORDER BY relname",
            [source],
        )
        tables = tuple(row[0] for row in cursor.fetchall())
        cursor.execute(
            "SELECT c.relname, k.conname, pg_get_constraintdef(k.oid) "
            "FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
            "WHERE k.connamespace = %s::regnamespace AND k.contype IN ('p', 'u', 'x', 'c', 'f') "
            f"ORDER BY {_CONSTRAINT_ORDER}, k.conname",
            [source],
        )
        constraints = tuple((str(t), str(n), str(d)) for t, n, d in cursor.fetchall())
        cursor.execute(
            "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relnamespace = %s::regnamespace "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) "
            "ORDER BY c.relname",
            [source],
        )
        indexes = tuple(_unqualified(row[0], source) for row in cursor.fetchall())
        cursor.execute(
            "SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "WHERE c.relnamespace = %s::regnamespace AND c.relkind = 'r' AND a.attidentity <> '' "
            "ORDER BY c.relname",
            [source],
        )
        identities = tuple((str(t), str(c)) for t, c in cursor.fetchall())
        with_rows = []
        for table in tables:
            name = connection.ops.quote_name(table)
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {name})")
            if _scalar(cursor):
                with_rows.append(table)
    return SchemaLayout(tables, constraints, indexes, identities, tuple(with_rows))


def _refuse_what_is_not_copied(cursor: CursorWrapper, source: str) -> None:
    checks = {
        "views or other relations": "SELECT count(*) FROM pg_class WHERE relnamespace = "
        "%s::regnamespace AND relkind NOT IN ('r', 'i', 'S')",
        "functions": "SELECT count(*) FROM pg_proc WHERE pronamespace = %s::regnamespace",
        "triggers": "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "WHERE c.relnamespace = %s::regnamespace AND NOT t.tgisinternal",
        "sequences not owned by an identity column": "SELECT count(*) FROM pg_class s "
        "WHERE s.relnamespace = %s::regnamespace AND s.relkind = 'S' AND NOT EXISTS ("
        "SELECT 1 FROM pg_depend d WHERE d.objid = s.oid AND d.deptype = 'i')",
    }
    for what, query in checks.items():
        cursor.execute(query, [source])
        if _scalar(cursor):
            raise TemplateUnsupportedError(f"the template schema {source} has {what}")


def _scalar(cursor: CursorWrapper) -> object:
    row = cursor.fetchone()
    return row[0] if row else None


def _unqualified(index_definition: str, schema: str) -> str:
    """`CREATE INDEX n ON schema.t ...` as `... ON t ...`: PostgreSQL always qualifies the
    table in an index definition, whatever the search path."""
    for spelling in (schema, connection.ops.quote_name(schema)):
        qualified = f" ON {spelling}."
        if qualified in index_definition:
            return index_definition.replace(qualified, " ON ", 1)
    raise TemplateUnsupportedError(f"unexpected index definition: {index_definition}")
