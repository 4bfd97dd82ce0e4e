"""The tally of the adversarial suite: attack cases per boundary and fuzzed input classes.

A pytest plugin (registered by the root conftest): tests call `attack()` once per attempt they
make from the wrong side of a boundary, and the fuzz calls `fuzz_input()` per example; the
figures are printed at the end of the run, so a closing note can quote them.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

ATTACKS: Counter[str] = Counter()
FUZZ_INPUTS: Counter[str] = Counter()


def attack(boundary: str, count: int = 1) -> None:
    """Count `count` attempts against `boundary` ("rest", "admin", "realtime", "tasks")."""
    ATTACKS[boundary] += count


def fuzz_input(input_class: str) -> None:
    """Count one fuzzed example of this class of input."""
    FUZZ_INPUTS[input_class] += 1


def _listing(counts: Counter[str]) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: Any) -> None:
    if not ATTACKS and not FUZZ_INPUTS:
        return
    terminalreporter.write_sep("-", "adversarial suite")
    if ATTACKS:
        terminalreporter.write_line(f"{sum(ATTACKS.values())} attack cases ({_listing(ATTACKS)})")
    if FUZZ_INPUTS:
        terminalreporter.write_line(
            f"fuzz: {sum(FUZZ_INPUTS.values())} examples over {len(FUZZ_INPUTS)} input classes "
            f"({_listing(FUZZ_INPUTS)})"
        )
