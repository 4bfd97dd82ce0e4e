"""The layers and the import rules of docs/development/contributing.md, checked on the code.

Every import of every production module (tests and migrations aside), at module level or inside
a function, is an edge: an app may import only the layers below it, and no chain of imports
leads back to where it started.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "tenants", "conversations", "monitoring", "voice", "aura_project")

# What each layer must not import (a prefix forbids the package and everything under it).
FORBIDDEN = {
    "core": ("tenants", "conversations", "monitoring", "voice", "aura_project"),
    "tenants": ("conversations", "monitoring", "voice", "aura_project"),
    "conversations": ("voice", "aura_project"),
    "monitoring": ("aura_project",),
    "voice": ("aura_project",),
    # The engine is framework-free: the shared errors are the one thing it takes from outside.
    "voice.engine": (
        "tenants",
        "conversations",
        "monitoring",
        "aura_project",
        "voice.realtime",
        "voice.api",
        "voice.models",
        "voice.services",
        "voice.selectors",
    ),
}
# The engine's own errors are the engine's: other apps use core.errors.
ENGINE_ERRORS = "voice.engine.errors"


def production_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            parts = path.relative_to(REPO_ROOT).with_suffix("").parts
            if "tests" in parts or "migrations" in parts:
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


MODULES = production_modules()


def under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def imported_modules(module: str, path: Path) -> Iterator[str]:
    """Every module of ours that `module` imports, anywhere in its body."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for name in names:
            # `from a.b import c` imports a.b.c when c is a module, else a.b.
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            # Importing a.b.c runs a/__init__ and a/b/__init__ first.
            while name:
                if name != module and not under(module, name):
                    yield name
                name = name.rpartition(".")[0]
                while name and name not in MODULES:
                    name = name.rpartition(".")[0]


GRAPH = {module: set(imported_modules(module, path)) for module, path in MODULES.items()}


def layer_of(module: str) -> str:
    return "voice.engine" if module.startswith("voice.engine") else module.split(".")[0]


def test_the_graph_sees_the_code() -> None:
    assert "tenants.services.organizations" in GRAPH
    assert "voice.engine.pipeline.session" in GRAPH
    assert "tenants.signals" in GRAPH["tenants.services.organizations"]


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_above_it(layer: str) -> None:
    offending = sorted(
        f"{module} -> {target}"
        for module, targets in GRAPH.items()
        if layer_of(module) == layer
        for target in targets
        if any(under(target, prefix) for prefix in FORBIDDEN[layer])
    )
    assert offending == []


def test_no_app_outside_voice_imports_the_engines_errors() -> None:
    offending = sorted(
        f"{module} -> {ENGINE_ERRORS}"
        for module, targets in GRAPH.items()
        if not under(module, "voice") and ENGINE_ERRORS in targets
    )
    assert offending == []


def test_the_shared_errors_import_nothing() -> None:
    assert GRAPH["core.errors"] == set()


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph, as the modules along it, or None (iterative depth-first)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(graph):
        if start in state:
            continue
        path = [start]
        stack = [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            target = next(stack[-1], None)
            if target is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(target) == 1:
                return [*path[path.index(target) :], target]
            elif target not in state:
                state[target] = 1
                path.append(target)
                stack.append(iter(sorted(graph[target])))
    return None


def test_no_import_cycle() -> None:
    assert find_cycle(GRAPH) is None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
