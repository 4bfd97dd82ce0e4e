"""API key material: generation, parsing and hashing (pure functions, no database).

Keys are 256-bit random tokens, so a fast SHA-256 digest is enough to store them safely
(there is nothing to brute-force, unlike passwords); the lookup uses the key's visible prefix,
and the digest comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from dataclasses import dataclass

PREFIX_RANDOM_CHARS = 8
SECRET_RANDOM_BYTES = 32
KNOWN_KINDS = ("sk", "pk")
_PREFIX_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True, slots=True)
class GeneratedKey:
    plaintext: str
    prefix: str
    secret_hash: str


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def generate_key(kind: str) -> GeneratedKey:
    """A new key `<kind>_<8 chars>_<43 chars>`; the part before the second `_` is its prefix."""
    if kind not in KNOWN_KINDS:
        raise ValueError(f"unknown key kind {kind!r}")
    random_part = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(PREFIX_RANDOM_CHARS))
    prefix = f"{kind}_{random_part}"
    plaintext = f"{prefix}_{secrets.token_urlsafe(SECRET_RANDOM_BYTES)}"
    return GeneratedKey(plaintext=plaintext, prefix=prefix, secret_hash=hash_key(plaintext))


def parse_prefix(plaintext: str) -> str | None:
    """The lookup prefix of a key, or None when it cannot be one of ours."""
    if not isinstance(plaintext, str) or len(plaintext) > 200:
        return None
    kind, sep, rest = plaintext.partition("_")
    random_part, sep2, secret = rest.partition("_")
    if not sep or not sep2 or kind not in KNOWN_KINDS or not secret:
        return None
    if len(random_part) != PREFIX_RANDOM_CHARS or not random_part.isalnum():
        return None
    return f"{kind}_{random_part}"


def matches(plaintext: str, secret_hash: str) -> bool:
    return hmac.compare_digest(hash_key(plaintext), secret_hash)
