"""Fixtures shared by the whole suite: two organizations on real PostgreSQL schemas."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tenants.models import Organization

# The adversarial suite's tally of attack cases, printed at the end of every run that has any.
pytest_plugins = ("aura_project.tests.attacks",)

REPO_ROOT = Path(__file__).resolve().parent
TEST_AUDIO = REPO_ROOT / "testdata" / "audio"
# alpha and beta for most tests; gamma only where a test needs an organization that no other
# test's sessions touch (per-organization counts in Redis, such as the session cap).
TEST_ORGANIZATIONS = ("alpha", "beta", "gamma")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None) -> Iterator[None]:
    """pytest-django's test database, which it drops at the end of the run.

    A daphne or Celery process that a test killed, or a pool thread, can still hold a
    connection then, and PostgreSQL refuses to drop a database in use: end those first.
    """
    yield
    from django.db import connection

    from tenants.database import database_disconnect_others

    connection.close()
    database_disconnect_others(connection.settings_dict, connection.settings_dict["NAME"])


@pytest.fixture(scope="session")
def tenant_schemas(django_db_setup: None, django_db_blocker: Any) -> None:
    """Create the test organizations' schemas once per run (a schema costs ~2 s to migrate)."""
    from tenants.models import Organization
    from tenants.services import organization_create

    with django_db_blocker.unblock():
        for slug in TEST_ORGANIZATIONS:
            if not Organization.objects.filter(slug=slug).exists():
                organization_create(slug=slug, name=slug.title())


def _ensure_organization(slug: str) -> Organization:
    # Transactional tests flush the public tables but not the schemas: put the rows back.
    from tenants.models import Domain, Organization
    from tenants.services import schema_name_for

    organization = Organization.objects.filter(slug=slug).first()
    if organization is None:
        organization = Organization.objects.create(
            schema_name=schema_name_for(slug), slug=slug, name=slug.title()
        )
        Domain.objects.create(domain=f"{slug}.localhost", tenant=organization, is_primary=True)
    return organization


@pytest.fixture(autouse=True)
def _start_in_public_schema(request: pytest.FixtureRequest) -> None:
    """A test client request leaves the connection in its tenant's schema: start each test clean."""
    if "django_db_setup" not in request.fixturenames and not request.node.get_closest_marker(
        "django_db"
    ):
        return
    from tenants.db import use_public_schema

    use_public_schema()


@pytest.fixture
def org_alpha(tenant_schemas: None, db: None) -> Organization:
    return _ensure_organization("alpha")


@pytest.fixture
def org_beta(tenant_schemas: None, db: None) -> Organization:
    return _ensure_organization("beta")


@pytest.fixture
def org_gamma(tenant_schemas: None, db: None) -> Organization:
    return _ensure_organization("gamma")


@pytest.fixture
def celery_worker_process(transactional_db: None, tenant_schemas: None) -> Iterator[str]:
    """A real worker consuming this run's queue (its tasks see only committed rows)."""
    from django.conf import settings
    from django.db import connection

    from tenants.tests.celery_worker import run_celery_worker

    with run_celery_worker(
        database_name=connection.settings_dict["NAME"], queue=settings.CELERY_TASK_DEFAULT_QUEUE
    ) as node_name:
        yield node_name
