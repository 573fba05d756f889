"""The add-on's modules import each other without cycles, and stay small.

The graph is read from the source: every ``from . import``, also those inside
functions and ``if TYPE_CHECKING:`` blocks, so a cycle hidden behind a
function-level or type-only import counts too: such a cycle means two modules
are one job split in two, or hold values both need (which belong in a third).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SKIP = ("tests", "tools", "wheels", "dist", "build", "demo", "node_modules")
MAX_LINES = 400


def addon_modules() -> dict[str, Path]:
    """Module name (relative to the add-on, e.g. ``scene.builder``) -> file."""
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in SKIP or rel.parts[0].startswith("."):
            continue
        parts = list(rel.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts) or "__init__"] = path
    return out


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The add-on modules that ``name`` imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    if name == "__init__":
        package = ""
    found: set[str] = set()

    def resolve(base: str, names: list[str]) -> None:
        for alias in names:
            candidate = f"{base}.{alias}" if base else alias
            if candidate in modules:  # ``from . import display`` names a module
                found.add(candidate)
            elif base in modules:
                found.add(base)
            elif not base and "__init__" in modules:
                found.add("__init__")

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ImportFrom) and child.level:
                parts = package.split(".") if package else []
                up = child.level - 1
                if up > len(parts):
                    continue  # above the add-on: not one of its modules
                base_parts = parts[: len(parts) - up] if up else parts
                if child.module:
                    base_parts = [*base_parts, *child.module.split(".")]
                resolve(".".join(base_parts), [a.name for a in child.names])
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    found.discard(name)
    return found


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return cycles


def import_graph() -> dict[str, set[str]]:
    modules = addon_modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def test_the_graph_is_read_from_the_source() -> None:
    graph = import_graph()
    # Spot checks that the reader resolves relative imports the way Python does.
    assert "splats.cloud" in graph["splats.ply"]
    assert "scene.builder" in graph["operators.import_splat"]
    assert len(graph) > 40


def test_type_only_imports_count(tmp_path) -> None:
    (tmp_path / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import b\n"
    )
    (tmp_path / "b.py").write_text("def f():\n    from .a import x\n")
    modules = {"a": tmp_path / "a.py", "b": tmp_path / "b.py"}
    assert imports_of("a", modules["a"], modules) == {"b"}
    assert imports_of("b", modules["b"], modules) == {"a"}


def test_the_finder_sees_a_cycle() -> None:
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_the_addons_modules() -> None:
    cycles = find_cycles(import_graph())
    assert cycles == [], "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


LICENCE_HEADER = (
    "# SPDX-FileCopyrightText: 2026 gen404 developers",
    "#",
    "# SPDX-License-Identifier: GPL-3.0-or-later",
    "",
)


def module_lines(path: Path) -> int:
    """A module's length without the licence header every add-on module starts with."""
    lines = path.read_text(encoding="utf-8").splitlines()
    header = len(LICENCE_HEADER)
    return len(lines) - header if tuple(lines[:header]) == LICENCE_HEADER else len(lines)


def test_every_add_on_module_carries_the_licence_header() -> None:
    missing = [
        name
        for name, path in addon_modules().items()
        if not path.read_text(encoding="utf-8").startswith("\n".join(LICENCE_HEADER))
    ]
    assert missing == []


def test_no_module_is_doing_two_jobs() -> None:
    """A module past ~400 lines holds two jobs: split it by job."""
    sizes = {name: module_lines(path) for name, path in addon_modules().items()}
    big = {name: n for name, n in sizes.items() if n > MAX_LINES}
    assert big == {}
