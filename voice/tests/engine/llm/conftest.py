"""The embedded LLM, loaded once per session, and a table of the answers it gave in the run."""

from __future__ import annotations

import statistics
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio

from voice.engine.compute import compute_threads
from voice.engine.llm.llama_cpp import LlamaCppLLM


@dataclass(frozen=True, slots=True)
class AnswerRecord:
    """One answered question, as measured by the quality test."""

    name: str
    question: str
    answer: str
    first_token_ms: float
    tokens_per_s: float
    completion_tokens: int


@dataclass(frozen=True, slots=True)
class Measurement:
    what: str
    milliseconds: float


answers_key = pytest.StashKey[list[AnswerRecord]]()
measurements_key = pytest.StashKey[list[Measurement]]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[answers_key] = []
    config.stash[measurements_key] = []


@pytest.fixture(scope="session")
def answer_log(pytestconfig: pytest.Config) -> list[AnswerRecord]:
    """Answers collected during the run, printed by `pytest_terminal_summary`."""
    return pytestconfig.stash[answers_key]


@pytest.fixture(scope="session")
def measurements(pytestconfig: pytest.Config) -> list[Measurement]:
    """Timings (cancellation) printed with the answers."""
    return pytestconfig.stash[measurements_key]


@pytest_asyncio.fixture(scope="session")
async def local_llm() -> AsyncIterator[LlamaCppLLM]:
    """The process-wide Gemma 3 270M, loaded and warmed up once."""
    llm = LlamaCppLLM.shared()
    await llm.load()
    yield llm


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    records = config.stash.get(answers_key, [])
    timings = config.stash.get(measurements_key, [])
    if not records and not timings:
        return
    write = terminalreporter.write_line
    terminalreporter.section(f"local LLM answers (gemma3-270m, {compute_threads()} threads)")
    for timing in timings:
        write(f"{timing.what}: {timing.milliseconds:.1f} ms")
    if not records:
        return
    for record in records:
        write(
            f"[{record.name:<10}] {record.first_token_ms:6.0f} ms {record.tokens_per_s:5.1f} tok/s"
            f"  Q: {record.question}"
        )
        write(f"{'':>36}A: {record.answer}")
    first_token = sorted(r.first_token_ms for r in records)
    rates = sorted(r.tokens_per_s for r in records)
    write(
        f"first token: median {statistics.median(first_token):.0f} ms, "
        f"p95 {_p95(first_token):.0f} ms; tokens/s: median {statistics.median(rates):.1f}, "
        f"p5 {rates[int(0.05 * (len(rates) - 1))]:.1f}"
    )


def _p95(sorted_values: list[float]) -> float:
    return sorted_values[round(0.95 * (len(sorted_values) - 1))]
