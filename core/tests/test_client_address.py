"""Which address a client has, and which X-Forwarded-For hops are believed."""

import pytest
from django.test import override_settings

from core.client_address import client_address, scope_client_address

NGINX = "10.0.0.5"


@override_settings(AURA_TRUSTED_PROXIES=[])
def test_without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says():
    assert client_address("203.0.113.7", "198.51.100.1") == "203.0.113.7"


@override_settings(AURA_TRUSTED_PROXIES=["10.0.0.0/8"])
@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        # nginx appends the address it saw: the rightmost untrusted hop is the client.
        (NGINX, "203.0.113.7", "203.0.113.7"),
        # What the client wrote itself sits to the left and is never believed.
        (NGINX, "127.0.0.1, 203.0.113.7", "203.0.113.7"),
        (NGINX, "1.2.3.4, 203.0.113.7, 10.0.0.9", "203.0.113.7"),
        # A peer that is not a proxy of ours cannot claim an address.
        ("203.0.113.7", "198.51.100.1", "203.0.113.7"),
        # Garbage in the header is not an address.
        (NGINX, "203.0.113.7, not-an-ip", "unknown"),
        # One spelling per address.
        ("::ffff:203.0.113.7", None, "203.0.113.7"),
        (NGINX, "2001:DB8:0:0::1", "2001:db8::1"),
    ],
)
def test_behind_trusted_proxies_the_nearest_untrusted_hop_is_the_client(
    peer, forwarded_for, client
):
    assert client_address(peer, forwarded_for) == client


@override_settings(AURA_TRUSTED_PROXIES=["127.0.0.1"])
def test_an_asgi_scope_gives_its_peer_and_forwarded_header():
    scope = {"client": ["127.0.0.1", 5555], "headers": [(b"x-forwarded-for", b"203.0.113.7")]}
    assert scope_client_address(scope) == "203.0.113.7"
    assert scope_client_address({"client": None, "headers": []}) == "unknown"
