"""Writes of organization admins: invitations to an organization's own admin site."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_tenants.utils import get_public_schema_name, schema_context

from core.errors import InvalidRequestError
from tenants.models import Organization

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AdminInvite:
    """An organization admin's one-time link to choose a password (never the password)."""

    username: str
    email: str
    created: bool
    set_password_url: str
    expires_at: datetime


def _organization_url(organization: Organization, path: str) -> str:
    port = f":{settings.AURA_PUBLIC_PORT}" if settings.AURA_PUBLIC_PORT else ""
    return f"{settings.AURA_PUBLIC_SCHEME}://{organization.get_primary_domain()}{port}{path}"


def organization_admin_url(organization: Organization) -> str:
    """Where an organization's admin signs in."""
    return _organization_url(organization, "/admin/")


def organization_admin_invite(*, organization: Organization, email: str, actor: str) -> AdminInvite:
    """Create (or reset) an organization's admin in its schema; return a set-password link.

    The user is a superuser of the organization's own admin site only (its users live in its
    schema). A reset makes the old password unusable at once. The link is Django's
    password-reset token on the organization's domain: valid for PASSWORD_RESET_TIMEOUT
    seconds, and spent as soon as a password is set (the token hashes the password).
    """
    email = _checked_admin_email(email)
    if organization.schema_name == get_public_schema_name() or organization.status not in (
        Organization.Status.ACTIVE,
        Organization.Status.SUSPENDED,
    ):
        raise InvalidRequestError(
            f"the organization {organization.slug!r} is {organization.status}: "
            "it has no admin site yet",
            code="invalid_status",
        )
    with schema_context(organization.schema_name), transaction.atomic():
        user, created = _admin_user_reset(email)
        path = reverse(
            "admin:set_password",
            urlconf=settings.ROOT_URLCONF,
            kwargs={
                "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                "token": default_token_generator.make_token(user),
            },
        )
    logger.info(
        "organization admin invited",
        extra={"organization": organization.slug, "new_user": created, "actor": actor},
    )
    return AdminInvite(
        username=user.get_username(),
        email=email,
        created=created,
        set_password_url=_organization_url(organization, path),
        expires_at=timezone.now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT),
    )


def _checked_admin_email(email: str) -> str:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError as error:
        raise InvalidRequestError(f"{email!r} is not an email address", param="email") from error
    return email


def _admin_user_reset(email: str) -> tuple[User, bool]:
    """The active superuser named `email` in the current schema, with no usable password."""
    user, created = User.objects.get_or_create(username=email, defaults={"email": email})
    user.email = email
    user.is_active = True
    user.is_staff = True
    user.is_superuser = True
    user.set_unusable_password()
    user.save()
    return user, created
