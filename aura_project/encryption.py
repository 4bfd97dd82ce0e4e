"""Encrypting secrets that AURA must be able to read back (webhook signing secrets, tenants'
provider keys), with Fernet from the `cryptography` package: authenticated, versioned, and
maintained by people who do this for a living.

API keys are different: they are only ever compared, so they are hashed (tenants/keys.py).
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


class DecryptionError(Exception):
    """Stored ciphertext that the configured key cannot open (the key changed, or tampering)."""


def _fernet() -> Fernet:
    # AURA_ENCRYPTION_KEY (a Fernet key) should be set in production, so that rotating
    # SECRET_KEY does not make stored secrets unreadable; otherwise one is derived from it.
    configured: str = settings.AURA_ENCRYPTION_KEY
    if configured:
        return Fernet(configured.encode())
    digest = hashlib.sha256(b"aura-encryption:" + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken as error:
        raise DecryptionError("stored secret cannot be decrypted with the current key") from error
