"""The engine's subpackages (pipeline/, routing/, net/, ...) import each other one way only.

Module cycles are caught by core/tests/test_layers.py; this checks the coarser picture of
docs/development/contributing.md: with every subpackage taken as one node (and each top-level
module as its own), no chain of imports leads back to where it started.
"""

from __future__ import annotations

from core.tests.test_layers import GRAPH, find_cycle

ENGINE = "voice.engine"


def part_of_engine(module: str) -> str | None:
    """`voice.engine.routing.base` -> `routing`; None outside the engine or for its __init__."""
    if not module.startswith(ENGINE + "."):
        return None
    return module.split(".")[2]


def engine_parts_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, targets in GRAPH.items():
        part = part_of_engine(module)
        if part is None:
            continue
        imported = {part_of_engine(target) for target in targets} - {None, part}
        graph.setdefault(part, set()).update(p for p in imported if p is not None)
    return graph


def test_the_engine_graph_sees_the_subpackages() -> None:
    graph = engine_parts_graph()
    assert {"pipeline", "routing", "net", "observability", "audio", "llm"} <= graph.keys()
    assert "routing" in graph["pipeline"]
    assert "net" in graph["routing"]


def test_the_engines_subpackages_import_each_other_one_way() -> None:
    assert find_cycle(engine_parts_graph()) is None


def test_a_cycle_between_subpackages_would_be_found() -> None:
    graph = engine_parts_graph()
    graph["net"] = {*graph["net"], "pipeline"}
    assert find_cycle(graph) is not None
