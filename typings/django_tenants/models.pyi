from types import TracebackType
from typing import ClassVar

from _typeshed import Incomplete
from django.db import models
from django.db.models.expressions import Combinable
from django.http import HttpRequest

class TenantMixin(models.Model):
    auto_drop_schema: ClassVar[bool]
    auto_create_schema: ClassVar[bool]
    clone_mode: ClassVar[str]
    schema_name: models.CharField[str | int | Combinable, str]
    # Set by the middleware to the host the tenant was found by.
    domain_url: str | None
    domain_subfolder: str | None

    class Meta:
        abstract: ClassVar[bool]

    def __enter__(self) -> None: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None: ...
    def save(self, verbosity: int = 1, *args: Incomplete, **kwargs: Incomplete) -> None: ...
    # django-tenants puts force_drop before Model.delete's own arguments.
    def delete(  # type: ignore[override]
        self, force_drop: bool = False, *args: Incomplete, **kwargs: Incomplete
    ) -> tuple[int, dict[str, int]]: ...
    def activate(self) -> None: ...
    @classmethod
    def deactivate(cls) -> None: ...
    def create_schema(
        self, check_if_exists: bool = False, sync_schema: bool = True, verbosity: int = 1
    ) -> bool | None: ...
    def get_primary_domain(self) -> DomainMixin | None: ...
    def reverse(self, request: HttpRequest, view_name: str) -> str: ...
    def get_tenant_type(self) -> str: ...
    def get_base_schema(self) -> str | bool: ...

class DomainMixin(models.Model):
    domain: models.CharField[str | int | Combinable, str]
    tenant: models.ForeignKey[TenantMixin | Combinable, TenantMixin]
    is_primary: models.BooleanField[bool | Combinable, bool]

    class Meta:
        abstract: ClassVar[bool]

def __getattr__(name: str) -> Incomplete: ...
