"""Organizations (tenants), their domains and API keys: all in the public schema."""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.utils import timezone
from django_tenants.models import DomainMixin, TenantMixin


class Organization(TenantMixin):
    class Plan(models.TextChoices):
        FREE = "free", "Free"
        PRO = "pro", "Pro"
        ENTERPRISE = "enterprise", "Enterprise"

    class Status(models.TextChoices):
        # Created through the platform API: its schema is being built by a Celery task.
        PROVISIONING = "provisioning", "Provisioning"
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        # Provisioning failed (logged); the slug and domain stay reserved until deleted.
        FAILED = "failed", "Failed"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=50, unique=True)
    plan = models.CharField(max_length=20, choices=Plan.choices, default=Plan.FREE)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Spending limit per calendar month (UTC) in US dollars; none means no limit. At
    # `budget_warning_percent` of it sessions are warned; at 100 % new sessions are refused
    # and open ones end after their current turn.
    monthly_budget_usd = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    budget_warning_percent = models.PositiveSmallIntegerField(default=80)
    # Digest of the tenant migrations its schema holds (tenants/migration_state.py): the
    # start-up check compares it with the code's in one query, whatever the tenant count.
    migration_digest = models.CharField(max_length=64, blank=True, default="", editable=False)

    # The schema is created by `organization_create`, never implicitly by save().
    auto_create_schema = False
    auto_drop_schema = False

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class Domain(DomainMixin):
    def __str__(self) -> str:
        return self.domain


# What people may see of a key, in the admin and in the API: everything but the secret's hash.
API_KEY_VISIBLE_FIELDS = (
    "prefix",
    "name",
    "kind",
    "scopes",
    "allowed_origins",
    "allowed_agents",
    "auto_rotate",
    "created_at",
    "expires_at",
    "revoked_at",
    "last_used_at",
    "replaced_by",
)


class ApiKey(models.Model):
    """A key that resolves to one organization. Only a hash of the secret is stored."""

    class Kind(models.TextChoices):
        SECRET = "sk", "Secret"
        PUBLISHABLE = "pk", "Publishable"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="api_keys"
    )
    kind = models.CharField(max_length=2, choices=Kind.choices)
    name = models.CharField(max_length=100, blank=True)
    # The visible start of the key (e.g. "sk_3kT9xQ2a"), unique, used for lookup and display.
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list, blank=True)
    allowed_origins = models.JSONField(default=list, blank=True)
    # Publishable keys only: the names of the agents the key may open sessions with; empty
    # means the organization's default agent only.
    allowed_agents = models.JSONField(default=list, blank=True)
    auto_rotate = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    replaced_by = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replaces"
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["organization", "kind"])]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.get_kind_display()})"

    def is_usable(self, at: datetime | None = None) -> bool:
        now = at or timezone.now()
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > now


class ApiKeyEvent(models.Model):
    """The audit log of API keys: every lifecycle event, who caused it, never a secret."""

    class Action(models.TextChoices):
        CREATED = "created", "Created"
        ROTATED = "rotated", "Rotated"
        REVOKED = "revoked", "Revoked"
        EXPIRED = "expired", "Expired"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="api_key_events"
    )
    # Kept when the key row is deleted: the prefix still says which key it was.
    api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    key_prefix = models.CharField(max_length=16)
    action = models.CharField(max_length=10, choices=Action.choices)
    # "system:auto-rotate", "system:expiry", "admin:<username>", "api:<key prefix>", ...
    actor = models.CharField(max_length=120, default="system")
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "created_at"])]

    def __str__(self) -> str:
        return f"{self.key_prefix} {self.action} by {self.actor}"
