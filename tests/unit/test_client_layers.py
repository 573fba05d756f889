"""client/ is layered: the values in models.py import no other layer, and no module
of client/ imports itself back through another (no import cycle)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.unit.test_import_graph import module_lines

CLIENT = Path(__file__).resolve().parents[2] / "client"
MAX_LINES = 400


def _imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in CLIENT.glob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    names.add(node.module.split(".")[0])
                else:
                    names.update(alias.name for alias in node.names)
        graph[path.stem] = names
    return graph


def test_no_import_cycle_inside_client() -> None:
    graph = _imports()
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, " -> ".join((*path, module))
        if module in done:
            return
        for imported in graph.get(module, ()):
            visit(imported, (*path, module))
        done.add(module)

    for module in graph:
        visit(module, ())


def test_the_values_need_no_network_code() -> None:
    graph = _imports()
    assert graph["models"] <= {"errors", "folders", "generation", "status"}
    assert "gateway" not in graph["cache"] | graph["journal"]


def test_only_the_records_module_writes_the_journal() -> None:
    root = CLIENT.parent
    writes = (".record(", ".update(", ".mark_imported(", ".prune(", ".forget(")
    writers = set()
    for path in [*root.glob("*.py"), *root.glob("client/*.py"), *root.glob("operators/*.py")]:
        text = path.read_text(encoding="utf-8")
        if "journal" in text and any(f"journal{w}" in text or f"){w}" in text for w in writes):
            writers.add(path.relative_to(root).as_posix())
    assert writers <= {"client/records.py", "client/journal.py"}, writers


def test_every_client_module_stays_small() -> None:
    sizes = {p.name: module_lines(p) for p in CLIENT.glob("*.py")}
    assert max(sizes.values()) <= MAX_LINES, sizes
