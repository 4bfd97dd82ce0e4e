"""Stored secrets under one key or several (core/encryption.py): the first encrypts,
every one decrypts, and a key that is not a Fernet key is named."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import Fernet

from core.encryption import DecryptionError, decrypt, encrypt, parse_keys, reencrypt

KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()


def test_the_first_key_encrypts_and_every_key_decrypts(settings: Any) -> None:
    settings.AURA_ENCRYPTION_KEY = KEY_A
    under_a = encrypt("whsec-under-a")
    settings.AURA_ENCRYPTION_KEY = f"{KEY_B}, {KEY_A}"
    under_b = encrypt("whsec-under-b")
    assert decrypt(under_a) == "whsec-under-a"
    assert decrypt(under_b) == "whsec-under-b"

    settings.AURA_ENCRYPTION_KEY = KEY_B
    assert decrypt(under_b) == "whsec-under-b"
    with pytest.raises(DecryptionError):
        decrypt(under_a)


def test_reencrypt_moves_a_secret_to_the_first_key_once(settings: Any) -> None:
    settings.AURA_ENCRYPTION_KEY = KEY_A
    under_a = encrypt("sk-tenant")
    settings.AURA_ENCRYPTION_KEY = f"{KEY_B},{KEY_A}"
    under_b = reencrypt(under_a)
    assert under_b is not None
    assert reencrypt(under_b) is None  # already under the first key: nothing to do
    settings.AURA_ENCRYPTION_KEY = KEY_B
    assert decrypt(under_b) == "sk-tenant"


def test_a_secret_no_key_opens_is_refused_not_rewritten(settings: Any) -> None:
    settings.AURA_ENCRYPTION_KEY = KEY_A
    under_a = encrypt("sk-tenant")
    settings.AURA_ENCRYPTION_KEY = KEY_B
    with pytest.raises(DecryptionError, match="any configured key"):
        reencrypt(under_a)


def test_without_a_configured_key_one_derived_from_secret_key_is_used(settings: Any) -> None:
    settings.AURA_ENCRYPTION_KEY = ""
    derived = encrypt("legacy")
    assert decrypt(derived) == "legacy"
    settings.AURA_ENCRYPTION_KEY = KEY_A
    with pytest.raises(DecryptionError):
        reencrypt(derived)
    moved = reencrypt(derived, also_secret_key_derived=True)
    assert moved is not None
    assert decrypt(moved) == "legacy"


def test_a_malformed_key_is_named_by_its_position() -> None:
    assert parse_keys(f" {KEY_A} ,, {KEY_B} ") == [KEY_A, KEY_B]
    assert parse_keys("") == []
    with pytest.raises(ValueError, match="key 2 of AURA_ENCRYPTION_KEY is not a Fernet key"):
        parse_keys(f"{KEY_A},not-a-key")
