"""The publishable key of an organization's demo page (`/` on its own domain).

A key's plaintext is shown once and only its hash is stored, yet the demo page must print the
key on every visit. Rather than store a plaintext, the demo key is derived: an HMAC of the
organization's slug under SECRET_KEY gives its prefix and secret, so every web process computes
the same key and the database keeps only its hash, like any other key. A publishable key is
public by design (it sits in the page), may only open voice sessions, and only from its allowed
origins. Those come from configuration, never from a request: each of the organization's
domains in each form of AURA_DEMO_PAGE_ORIGINS (`http://{domain}:8000` by default), kept in
step with it when the page is served. A request's Host header is the client's to write, so a
page served under another host or port shows no widget rather than widening the key. An
administrator who revokes the key turns the demo page's widget off; it is not silently
recreated.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django_tenants.utils import get_public_schema_name, schema_context

from tenants.keys import PREFIX_RANDOM_CHARS, hash_key, parse_prefix
from tenants.models import ApiKey, Domain, Organization

logger = logging.getLogger(__name__)

DEMO_KEY_NAME = "Demo page widget"
_PREFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _derive(organization: Organization, purpose: str) -> bytes:
    message = f"aura.demo-widget-key:{organization.slug}:{purpose}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).digest()


def demo_widget_key_plaintext(organization: Organization) -> str:
    """The organization's demo key, `pk_<8 chars>_<43 chars>` like every generated key."""
    prefix_bytes = _derive(organization, "prefix")
    random_part = "".join(
        _PREFIX_ALPHABET[byte % len(_PREFIX_ALPHABET)]
        for byte in prefix_bytes[:PREFIX_RANDOM_CHARS]
    )
    secret = base64.urlsafe_b64encode(_derive(organization, "secret")).decode().rstrip("=")
    return f"{ApiKey.Kind.PUBLISHABLE}_{random_part}_{secret}"


@dataclass(frozen=True, slots=True)
class DemoWidget:
    key: str
    origins: list[str]


def demo_widget_origins(organization: Organization) -> list[str]:
    """Where the demo page may use its key: every configured form of every domain."""
    with schema_context(get_public_schema_name()):
        domains = list(
            Domain.objects.filter(tenant=organization)
            .order_by("-is_primary", "domain")
            .values_list("domain", flat=True)
        )
    origins = (
        template.replace("{domain}", domain).lower()
        for template in settings.AURA_DEMO_PAGE_ORIGINS
        for domain in domains
    )
    return list(dict.fromkeys(origins))


def demo_widget_key_ensure(*, organization: Organization) -> DemoWidget | None:
    """The demo key with its origins as configured, its row created or brought in step;
    None if it was revoked."""
    plaintext = demo_widget_key_plaintext(organization)
    prefix = parse_prefix(plaintext)
    assert prefix is not None  # the derivation follows the format parse_prefix reads
    origins = demo_widget_origins(organization)
    # Keys are rows of the public schema, whatever schema the request runs in.
    with schema_context(get_public_schema_name()):
        if _ensure(organization, plaintext, prefix, origins) is None:
            return None
    return DemoWidget(key=plaintext, origins=origins)


def _ensure(
    organization: Organization, plaintext: str, prefix: str, origins: list[str]
) -> str | None:
    existing = ApiKey.objects.filter(prefix=prefix).first()
    if existing is not None and existing.allowed_origins == origins:
        # The usual visit: nothing to write.
        return plaintext if _is_demo_key(existing, organization, plaintext) else None
    for _ in range(2):
        try:
            with transaction.atomic():
                api_key = ApiKey.objects.select_for_update().filter(prefix=prefix).first()
                if api_key is None:
                    ApiKey.objects.create(
                        organization=organization,
                        kind=ApiKey.Kind.PUBLISHABLE,
                        name=DEMO_KEY_NAME,
                        prefix=prefix,
                        secret_hash=hash_key(plaintext),
                        scopes=["realtime"],
                        allowed_origins=origins,
                    )
                    logger.info(
                        "demo widget key created",
                        extra={"organization": organization.slug, "origins": origins},
                    )
                    return plaintext
                if not _is_demo_key(api_key, organization, plaintext):
                    return None
                if api_key.allowed_origins != origins:
                    api_key.allowed_origins = origins
                    api_key.save(update_fields=["allowed_origins"])
                return plaintext
        except IntegrityError:
            # Another request created it in the meantime: read it again.
            continue
    return None


def _is_demo_key(api_key: ApiKey, organization: Organization, plaintext: str) -> bool:
    return (
        api_key.organization_id == organization.pk
        and hmac.compare_digest(api_key.secret_hash, hash_key(plaintext))
        and api_key.is_usable()
    )
