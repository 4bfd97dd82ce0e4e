"""Encrypting secrets that AURA must be able to read back (webhook signing secrets, tenants'
provider keys), with Fernet from the `cryptography` package: authenticated, versioned, and
maintained by people who do this for a living.

AURA_ENCRYPTION_KEY holds one Fernet key or several, comma-separated: the first encrypts, every
one decrypts (MultiFernet), so a key is rotated without downtime: put the new key first, run
`manage.py reencrypt_secrets`, then drop the old one (docs/deployment/installation-guide.md).
Production requires it; elsewhere a key derived from SECRET_KEY stands in when it is unset.

API keys are different: they are only ever compared, so they are hashed (tenants/keys.py).
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class DecryptionError(Exception):
    """Stored ciphertext that the configured key cannot open (the key changed, or tampering)."""


def parse_keys(configured: str) -> list[str]:
    """The keys of an AURA_ENCRYPTION_KEY value, in order.

    Raises:
        ValueError: one of them is not a Fernet key (32 url-safe base64-encoded bytes).
    """
    keys = [key.strip() for key in configured.split(",") if key.strip()]
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError) as error:
            raise ValueError(
                f"key {position} of AURA_ENCRYPTION_KEY is not a Fernet key "
                "(32 url-safe base64-encoded bytes)"
            ) from error
    return keys


def key_derived_from_secret_key() -> str:
    """The key used when AURA_ENCRYPTION_KEY is unset (development, and deployments from
    before it was required in production)."""
    digest = hashlib.sha256(b"aura-encryption:" + settings.SECRET_KEY.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def _configured_keys() -> list[str]:
    return parse_keys(settings.AURA_ENCRYPTION_KEY) or [key_derived_from_secret_key()]


def _keyring(*, also_secret_key_derived: bool = False) -> MultiFernet:
    keys = _configured_keys()
    if also_secret_key_derived and key_derived_from_secret_key() not in keys:
        keys.append(key_derived_from_secret_key())
    return MultiFernet([Fernet(key.encode()) for key in keys])


def _current_key() -> Fernet:
    return Fernet(_configured_keys()[0].encode())


def encrypt(plaintext: str) -> str:
    return _keyring().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return _keyring().decrypt(ciphertext.encode()).decode()
    except InvalidToken as error:
        raise DecryptionError("stored secret cannot be decrypted with the current key") from error


def reencrypt(ciphertext: str, *, also_secret_key_derived: bool = False) -> str | None:
    """`ciphertext` encrypted under the current (first) key, or None if it already is.

    `also_secret_key_derived` lets the key derived from SECRET_KEY open it too: for secrets
    stored before AURA_ENCRYPTION_KEY was set.

    Raises:
        DecryptionError: no configured key opens it.
    """
    token = ciphertext.encode()
    try:
        _current_key().decrypt(token)
        return None
    except InvalidToken:
        pass
    try:
        return _keyring(also_secret_key_derived=also_secret_key_derived).rotate(token).decode()
    except InvalidToken as error:
        raise DecryptionError(
            "stored secret cannot be decrypted with any configured key"
        ) from error
