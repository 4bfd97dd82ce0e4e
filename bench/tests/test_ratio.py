"""The capacity search of the ratio mode, against a fake server whose p99 grows with load."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bench.ratio import Level, search_capacity

TARGET_MS = 100.0


def fake_server(limit: int, measured: list[int]) -> Callable[[int], Level]:
    """Holds the target up to `limit` sessions; records the levels asked for."""

    def measure(sessions: int) -> Level:
        measured.append(sessions)
        p99 = TARGET_MS * sessions / limit
        return Level(
            sessions=sessions,
            turns_measured=2 * sessions,
            errors=0,
            server_added_ms={"p50": p99 / 2, "p95": p99, "p99": p99},
            voice_to_voice_ms={},
            event_loop_lag_p99_at_most_ms=0.0,
            machine_cpu_percent=0.0,
            others_cpu_percent=0.0,
            elapsed_s=0.0,
        )

    return measure


def search(measure: Callable[[int], Level], maximum: int = 1000) -> tuple[int, list[Level]]:
    return search_capacity(
        measure, target_p99_ms=TARGET_MS, start=10, growth=1.5, maximum=maximum, resolution=0.1
    )


@pytest.mark.parametrize("limit", [37, 64, 150])
def test_capacity_is_found_within_the_resolution(limit: int) -> None:
    measured: list[int] = []

    capacity, levels = search(fake_server(limit, measured))

    assert limit * 0.9 <= capacity <= limit
    assert [level.sessions for level in levels] == measured
    assert len(measured) < 12


def test_a_first_level_lost_bisects_down() -> None:
    capacity, _ = search(fake_server(4, []))

    assert capacity == 4


def test_the_search_stops_at_the_maximum() -> None:
    measured: list[int] = []

    capacity, _ = search(fake_server(10_000, measured), maximum=40)

    assert capacity == 40
    assert measured == [10, 15, 22, 33, 40]


def test_errors_lose_a_level_whatever_the_latency() -> None:
    level = fake_server(100, [])(10)
    level.errors = 1

    assert not level.held(TARGET_MS)
