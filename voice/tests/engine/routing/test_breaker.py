"""CircuitBreaker and its registry, on an injected clock."""

from __future__ import annotations

from voice.engine.routing.breaker import (
    BreakerPolicy,
    BreakerRegistry,
    BreakerState,
    CircuitBreaker,
    process_breakers,
)


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 1_000.0

    def monotonic(self) -> float:
        return self.now_s


def breaker(clock: FakeClock, *, probes: int = 1) -> CircuitBreaker:
    policy = BreakerPolicy(failure_threshold=3, cooldown_s=10.0, half_open_max_probes=probes)
    return CircuitBreaker("llm:openai/gpt", policy=policy, clock=clock)


def test_stays_closed_below_the_failure_threshold() -> None:
    circuit = breaker(FakeClock())

    circuit.record_failure()
    circuit.record_failure()

    assert circuit.state is BreakerState.CLOSED
    assert circuit.allow_request()


def test_a_success_resets_the_consecutive_failures() -> None:
    circuit = breaker(FakeClock())
    circuit.record_failure()
    circuit.record_failure()

    circuit.record_success()
    circuit.record_failure()
    circuit.record_failure()

    assert circuit.consecutive_failures == 2
    assert circuit.state is BreakerState.CLOSED


def test_opens_after_n_consecutive_failures_and_refuses_requests() -> None:
    clock = FakeClock()
    circuit = breaker(clock)

    for _ in range(3):
        circuit.record_failure()

    assert circuit.state is BreakerState.OPEN
    assert not circuit.allow_request()
    clock.now_s += 4
    assert circuit.retry_after_s() == 6.0


def test_turns_half_open_after_the_cooldown_and_lets_one_probe_through() -> None:
    clock = FakeClock()
    circuit = breaker(clock)
    for _ in range(3):
        circuit.record_failure()

    clock.now_s += 10

    assert circuit.state is BreakerState.HALF_OPEN
    assert circuit.allow_request()
    assert not circuit.allow_request()


def test_limits_probes_to_the_policy() -> None:
    clock = FakeClock()
    circuit = breaker(clock, probes=2)
    for _ in range(3):
        circuit.record_failure()
    clock.now_s += 10

    assert [circuit.allow_request() for _ in range(3)] == [True, True, False]


def test_a_successful_probe_closes_the_circuit() -> None:
    clock = FakeClock()
    circuit = breaker(clock)
    for _ in range(3):
        circuit.record_failure()
    clock.now_s += 10
    assert circuit.allow_request()

    circuit.record_success()

    assert circuit.state is BreakerState.CLOSED
    assert circuit.consecutive_failures == 0
    assert all(circuit.allow_request() for _ in range(5))


def test_a_failed_probe_reopens_for_a_whole_new_cooldown() -> None:
    clock = FakeClock()
    circuit = breaker(clock)
    for _ in range(3):
        circuit.record_failure()
    clock.now_s += 10
    assert circuit.allow_request()

    circuit.record_failure()

    assert circuit.state is BreakerState.OPEN
    clock.now_s += 9.9
    assert not circuit.allow_request()
    clock.now_s += 0.1
    assert circuit.allow_request()


def test_a_released_probe_lets_another_probe_through() -> None:
    clock = FakeClock()
    circuit = breaker(clock)
    for _ in range(3):
        circuit.record_failure()
    clock.now_s += 10
    assert circuit.allow_request()

    circuit.release()

    assert circuit.state is BreakerState.HALF_OPEN
    assert circuit.allow_request()


def test_registry_hands_out_one_breaker_per_key() -> None:
    registry = BreakerRegistry(policy=BreakerPolicy(failure_threshold=1), clock=FakeClock())

    registry.get("llm:a").record_failure()

    assert registry.get("llm:a") is registry.get("llm:a")
    assert registry.states() == {"llm:a": BreakerState.OPEN}
    assert registry.get("llm:b").state is BreakerState.CLOSED


def test_the_process_registry_is_shared() -> None:
    assert process_breakers() is process_breakers()
