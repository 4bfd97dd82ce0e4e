"""Where a tenant's URL may lead (addresses.py): public addresses only, in every spelling, and
name lookups that cannot hang anyone but their caller."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from voice.engine.net.addresses import (
    ResolutionTimeoutError,
    address_allowed,
    allowed_addresses,
    configure_resolution,
    getaddrinfo,
)
from voice.tests.unanswering_dns import UnansweringDns, unanswering_dns


@pytest.mark.parametrize(
    ("address", "why"),
    [
        # IPv4-mapped: a dual-stack socket connects to the IPv4 address itself.
        ("::ffff:127.0.0.1", "mapped loopback"),
        ("::ffff:10.0.0.1", "mapped private"),
        ("::ffff:169.254.169.254", "mapped metadata"),
        # NAT64, well-known prefix: the gateway forwards to the embedded IPv4 address.
        ("64:ff9b::127.0.0.1", "NAT64 to loopback"),
        ("64:ff9b::10.0.0.1", "NAT64 to private"),
        ("64:ff9b::169.254.169.254", "NAT64 to metadata"),
        ("64:ff9b::100.64.0.1", "NAT64 to carrier-grade NAT"),
        # NAT64, local-use prefix: the operator's own translator, never public.
        ("64:ff9b:1::808:808", "local-use NAT64"),
        ("64:ff9b:1:ffff::a00:1", "local-use NAT64"),
        # 6to4: a relay forwards to the IPv4 address in bits 16-47.
        ("2002:7f00:1::", "6to4 of loopback"),
        ("2002:a00:1::1", "6to4 of private"),
        ("2002:a9fe:a9fe::", "6to4 of metadata"),
        # IPv4-compatible (deprecated) and IPv4-translated: never a public destination.
        ("::127.0.0.1", "IPv4-compatible"),
        ("::8.8.8.8", "IPv4-compatible, even of a public address"),
        ("::ffff:0:127.0.0.1", "IPv4-translated"),
        ("::ffff:0:8.8.8.8", "IPv4-translated, even of a public address"),
        # Others that the running Python may call global.
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
        ("fec0::1", "site-local"),
        ("3fff::1", "documentation"),
    ],
)
def test_ipv6_forms_that_lead_inside_are_refused(address: str, why: str) -> None:
    assert address_allowed(address) is False, why


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "2001:4860:4860::8888",
        "::ffff:8.8.8.8",
        "64:ff9b::8.8.8.8",  # what DNS64 answers for an IPv4-only host on an IPv6-only network
        "2002:808:808::1",
    ],
)
def test_public_destinations_in_any_form_are_allowed(address: str) -> None:
    assert address_allowed(address) is True


def test_an_operator_allowed_address_is_allowed_in_its_mapped_form_too() -> None:
    assert address_allowed("::ffff:127.0.0.1", ["127.0.0.1"]) is True
    assert address_allowed("64:ff9b::127.0.0.1", ["127.0.0.1"]) is False  # another machine's


@pytest.fixture
def stuck_dns(monkeypatch: pytest.MonkeyPatch) -> Iterator[UnansweringDns]:
    with unanswering_dns(monkeypatch, workers=2, timeout_s=0.5) as dns:
        yield dns


async def test_a_lookup_that_never_answers_fails_with_a_clear_error(
    stuck_dns: UnansweringDns,
) -> None:
    with pytest.raises(
        ResolutionTimeoutError, match=r"hangs\.example did not resolve within 0.5 s"
    ):
        await allowed_addresses("hangs.example", 443)


async def test_lookups_waiting_for_a_stuck_pool_time_out_too(
    stuck_dns: UnansweringDns,
) -> None:
    lookups = [asyncio.ensure_future(getaddrinfo(f"h{n}.example", 443)) for n in range(6)]
    outcomes = await asyncio.gather(*lookups, return_exceptions=True)
    assert all(isinstance(outcome, ResolutionTimeoutError) for outcome in outcomes)
    assert stuck_dns.blocked <= 2  # the pool's two threads at most; the others never ran


def test_resolution_needs_a_worker_and_a_time_limit() -> None:
    with pytest.raises(ValueError, match="worker"):
        configure_resolution(workers=0, timeout_s=1)
    with pytest.raises(ValueError, match="timeout"):
        configure_resolution(workers=1, timeout_s=0)
