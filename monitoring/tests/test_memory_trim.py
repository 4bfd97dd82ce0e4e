"""monitoring/memory_trim.py: the periodic malloc_trim really returns the heap's free pages."""

from __future__ import annotations

import asyncio

import psutil
import pytest
from pytest_django.fixtures import Settings

from monitoring import memory_trim
from monitoring.memory_trim import (
    MALLOC_TRIM,
    ensure_memory_trimmer,
    find_malloc_trim,
    stop_memory_trimmer,
    trim_now,
)

glibc_only = pytest.mark.skipif(MALLOC_TRIM is None, reason="malloc_trim is glibc's")

BLOCK_BYTES = 4000  # below glibc's mmap threshold: from the heap, freed back into it
BLOCKS = 10_000  # 40 MB
KEEP_EVERY = 16  # one block in 16 stays alive: no free page at the heap's top to give back


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def fragment_the_heap() -> tuple[list[bytes], float]:
    """Fill 40 MB of heap, free 15 blocks in 16; the kept blocks and the RSS at the peak."""
    blocks = [bytes([index % 251]) * BLOCK_BYTES for index in range(BLOCKS)]
    peak_mb = rss_mb()
    kept = blocks[::KEEP_EVERY]
    del blocks
    return kept, peak_mb


@glibc_only
def test_freed_heap_pages_stay_resident_until_trimmed() -> None:
    kept, peak_mb = fragment_the_heap()
    freed_mb = rss_mb()
    # What the soak showed: free() alone gives back nothing from the middle of the heap.
    assert peak_mb - freed_mb < 5
    assert trim_now() is True
    assert freed_mb - rss_mb() > 20
    assert len(kept) == BLOCKS // KEEP_EVERY


@glibc_only
async def test_the_trimmer_trims_every_interval_and_stops(settings: Settings) -> None:
    settings.AURA_MALLOC_TRIM_SECONDS = 0.05
    task = ensure_memory_trimmer()
    assert task is not None
    assert ensure_memory_trimmer() is task  # one per loop
    kept, _peak_mb = fragment_the_heap()
    freed_mb = rss_mb()
    await asyncio.sleep(0.3)
    assert freed_mb - rss_mb() > 20
    await stop_memory_trimmer()
    assert task.done()
    assert len(kept) == BLOCKS // KEEP_EVERY


async def test_nothing_runs_where_the_c_library_is_not_glibc(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    settings.AURA_MALLOC_TRIM_SECONDS = 0.05
    assert find_malloc_trim("musl") is None
    assert find_malloc_trim("") is None  # macOS, Windows: platform.libc_ver() finds no libc
    monkeypatch.setattr(memory_trim, "MALLOC_TRIM", find_malloc_trim("musl"))
    assert trim_now() is False
    assert ensure_memory_trimmer() is None
    await stop_memory_trimmer()  # nothing to stop


async def test_an_interval_of_zero_turns_it_off(settings: Settings) -> None:
    settings.AURA_MALLOC_TRIM_SECONDS = 0
    assert ensure_memory_trimmer() is None
