"""The embedded LLM, loaded once per session; the fixed question set, asked once per session;
and the quality table of that run, printed at the end of the tests' output."""

from __future__ import annotations

import statistics
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
import pytest_asyncio

from voice.engine.compute import compute_threads
from voice.engine.llm.base import Finish, LLMRequest, TextDelta
from voice.engine.llm.llama_cpp import LlamaCppLLM
from voice.tests.engine.llm.local_quality_questions import (
    ADDRESSED_GOAL,
    BEFORE,
    CANNED_GOAL,
    QUALITY_QUESTIONS,
    QualityQuestion,
    Verdict,
    judge,
)


@dataclass(frozen=True, slots=True)
class AnswerRecord:
    """One answered question of the quality set, as measured."""

    item: QualityQuestion
    answer: str
    finish: Finish
    first_token_ms: float
    tokens_per_s: float


@dataclass(frozen=True, slots=True)
class QualityRun:
    """The whole question set answered once, with each answer's verdict."""

    records: tuple[AnswerRecord, ...]
    verdicts: tuple[Verdict, ...]

    def record(self, name: str) -> tuple[AnswerRecord, Verdict]:
        index = next(i for i, r in enumerate(self.records) if r.item.name == name)
        return self.records[index], self.verdicts[index]

    def canned_share(self) -> float:
        return sum(v.canned for v in self.verdicts) / len(self.verdicts)

    def addressed_share(self) -> float:
        return sum(v.addresses for v in self.verdicts) / len(self.verdicts)

    def first_token_median_ms(self) -> float:
        return statistics.median(r.first_token_ms for r in self.records)


@dataclass(frozen=True, slots=True)
class Measurement:
    what: str
    milliseconds: float


quality_key = pytest.StashKey[list[QualityRun]]()
measurements_key = pytest.StashKey[list[Measurement]]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[quality_key] = []
    config.stash[measurements_key] = []


@pytest.fixture(scope="session")
def measurements(pytestconfig: pytest.Config) -> list[Measurement]:
    """Timings (cancellation) printed with the quality table."""
    return pytestconfig.stash[measurements_key]


@pytest_asyncio.fixture(scope="session")
async def local_llm() -> AsyncIterator[LlamaCppLLM]:
    """The process-wide Gemma 3 270M, loaded and warmed up once."""
    llm = LlamaCppLLM.shared()
    await llm.load()
    yield llm


@pytest_asyncio.fixture(scope="session")
async def quality_run(local_llm: LlamaCppLLM, pytestconfig: pytest.Config) -> QualityRun:
    """Every question of the set asked once, in order (the model is deterministic)."""
    records = tuple([await answer(local_llm, item) for item in QUALITY_QUESTIONS])
    run = QualityRun(records, tuple(judge([(r.item, r.answer) for r in records])))
    pytestconfig.stash[quality_key].append(run)
    return run


async def answer(llm: LlamaCppLLM, item: QualityQuestion) -> AnswerRecord:
    started = time.perf_counter()
    first_token_at: float | None = None
    pieces: list[str] = []
    finish: Finish | None = None
    async for chunk in llm.stream(LLMRequest(messages=item.messages)):
        if isinstance(chunk, TextDelta):
            first_token_at = first_token_at or time.perf_counter()
            pieces.append(chunk.text)
        elif isinstance(chunk, Finish):
            finish = chunk
    ended = time.perf_counter()
    assert finish is not None
    first_token_at = first_token_at or ended
    return AnswerRecord(
        item=item,
        answer="".join(pieces),
        finish=finish,
        first_token_ms=(first_token_at - started) * 1000,
        # Decoding speed: the tokens after the first, over the time after the first.
        tokens_per_s=(finish.usage.completion_tokens - 1) / max(ended - first_token_at, 1e-6),
    )


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    runs = config.stash.get(quality_key, [])
    timings = config.stash.get(measurements_key, [])
    if not runs and not timings:
        return
    write = terminalreporter.write_line
    terminalreporter.section(f"local LLM quality (gemma3-270m, {compute_threads()} threads)")
    for timing in timings:
        write(f"{timing.what}: {timing.milliseconds:.1f} ms")
    for run in runs:
        _write_table(write, run)


def _write_table(write: Callable[..., None], run: QualityRun) -> None:
    write(f"{'question':<13} {'verdict':<9} {'first':>7} {'tok/s':>6}  question -> answer")
    for record, verdict in zip(run.records, run.verdicts, strict=True):
        label = "canned" if verdict.canned else ("addressed" if verdict.addresses else "missed")
        write(
            f"{record.item.name:<13} {label:<9} {record.first_token_ms:5.0f}ms "
            f"{record.tokens_per_s:6.1f}  {record.item.question}"
        )
        write(f"{'':>40}-> {record.answer}")
    total = len(run.records)
    canned = sum(v.canned for v in run.verdicts)
    addressed = sum(v.addresses for v in run.verdicts)
    first_token = sorted(r.first_token_ms for r in run.records)
    rates = sorted(r.tokens_per_s for r in run.records)
    write(
        f"canned replies {canned}/{total} ({run.canned_share():.0%}, goal <= {CANNED_GOAL:.0%}); "
        f"replies that address the question {addressed}/{total} "
        f"({run.addressed_share():.0%}, goal >= {ADDRESSED_GOAL:.0%})"
    )
    write(
        f"first token: median {statistics.median(first_token):.0f} ms, "
        f"p95 {first_token[round(0.95 * (total - 1))]:.0f} ms; "
        f"tokens/s: median {statistics.median(rates):.1f}"
    )
    write(
        f"before ({BEFORE.commit}, same questions and scoring): canned {BEFORE.canned}/{total}, "
        f"addressed {BEFORE.addressed}/{total}, first token median "
        f"{BEFORE.first_token_median_ms:.0f} ms"
    )
