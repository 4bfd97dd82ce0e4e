import pytest

from tenants.keys import generate_key, hash_key, matches, parse_prefix


def test_a_generated_key_carries_its_kind_and_lookup_prefix():
    key = generate_key("sk")
    assert key.plaintext.startswith(key.prefix + "_")
    assert key.prefix.startswith("sk_")
    assert parse_prefix(key.plaintext) == key.prefix
    assert len(key.plaintext) > 50


def test_the_stored_hash_matches_only_its_own_key():
    key = generate_key("pk")
    assert matches(key.plaintext, key.secret_hash)
    assert not matches(key.plaintext + "x", key.secret_hash)
    assert key.secret_hash == hash_key(key.plaintext)
    assert key.plaintext not in key.secret_hash


def test_two_keys_never_share_a_secret():
    assert len({generate_key("sk").plaintext for _ in range(200)}) == 200


@pytest.mark.parametrize(
    "hostile",
    [
        "",
        "sk_",
        "sk_abc",
        "sk_abcdefgh",
        "sk_abcdefgh_",
        "xx_abcdefgh_secret",
        "ek_abcdefgh_secret",
        "sk_abc$efgh_secret",
        "sk_abcdefghi_secret",
        "Bearer sk_abcdefgh_secret",
        "sk_abcdefgh_" + "a" * 500,
        "sk_ab\x00defgh_secret",
        "' OR 1=1 --",
    ],
)
def test_malformed_keys_have_no_prefix(hostile):
    assert parse_prefix(hostile) is None


def test_unknown_kinds_cannot_be_generated():
    with pytest.raises(ValueError, match="unknown key kind"):
        generate_key("xk")
