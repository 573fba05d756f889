"""client/ and splats/ must import in a Python with no bpy at all.

They run on worker threads and in plain-Python tests, where touching bpy would
crash Blender or fail outright. The venv may well have ``bpy`` or
``fake-bpy-module`` installed, so each check runs in a fresh interpreter where
importing bpy, mathutils or bpy_extras is made impossible.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECKED = ("client", "splats", "history")

GUARD = textwrap.dedent(
    """
    import importlib.abc
    import importlib.util
    import sys

    BLOCKED = ("bpy", "mathutils", "bpy_extras")


    class RefuseBlender(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"{name} is blocked: this code must not need Blender")
            return None


    sys.meta_path.insert(0, RefuseBlender())
    for blocked in BLOCKED:
        sys.modules[blocked] = None  # "import bpy" raises ImportError even if cached


    def load_gen404(root):
        # Same as tests/conftest.py: the repository root is the package "gen404".
        spec = importlib.util.spec_from_file_location(
            "gen404", f"{root}/__init__.py", submodule_search_locations=[root]
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules["gen404"] = module
        spec.loader.exec_module(module)
    """
)


def run_guarded(body: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run GUARD + body in a fresh interpreter; body prints one JSON line as its result."""
    code = GUARD + "\n" + textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-c", code, str(ROOT)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def result_of(proc: subprocess.CompletedProcess[str]) -> dict:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def modules_on_disk() -> set[str]:
    """Dotted names of the .py files under CHECKED that live in real packages."""
    names = set()
    for sub in CHECKED:
        for path in (ROOT / sub).rglob("*.py"):
            folders = path.relative_to(ROOT).parents
            if all((ROOT / folder / "__init__.py").is_file() for folder in list(folders)[:-1]):
                parts = path.relative_to(ROOT).with_suffix("").parts
                names.add(".".join(("gen404", *parts)).removesuffix(".__init__"))
    return names


def test_client_and_splats_import_without_bpy(tmp_path: Path) -> None:
    proc = run_guarded(
        f"""
        import importlib, json, pkgutil, traceback

        load_gen404(sys.argv[1])
        imported, failed = [], {{}}

        def record_failure(name):
            failed[name] = traceback.format_exc()

        for sub in {CHECKED!r}:
            name = f"gen404.{{sub}}"
            try:
                package = importlib.import_module(name)
            except Exception:
                record_failure(name)
                continue
            imported.append(name)
            modules = pkgutil.walk_packages(package.__path__, name + ".", onerror=record_failure)
            for info in modules:
                try:
                    importlib.import_module(info.name)
                    imported.append(info.name)
                except Exception:
                    record_failure(info.name)
        leaked = sorted(m for m in ("bpy", "mathutils", "bpy_extras") if sys.modules.get(m))
        print(json.dumps({{"imported": imported, "failed": failed, "leaked": leaked}}))
        """,
        tmp_path,
    )
    result = result_of(proc)
    assert result["failed"] == {}, "\n".join(result["failed"].values())
    assert result["leaked"] == []
    on_disk = modules_on_disk()
    assert on_disk <= set(result["imported"]), "pkgutil missed modules"
    assert {"gen404.splats", "gen404.splats.cloud", "gen404.splats.ply"} <= on_disk
    # Moved out of bpy modules so they can be tested in plain Python: keep them so.
    assert {"gen404.client.task_rows", "gen404.splats.loading"} <= set(result["imported"])


def test_guard_refuses_blender_modules(tmp_path: Path) -> None:
    """Without this, the test above would pass vacuously in a venv that has bpy."""
    (tmp_path / "needs_bpy.py").write_text("import bpy\n")
    (tmp_path / "needs_mathutils.py").write_text("from mathutils import Vector\n")
    (tmp_path / "needs_bpy_extras.py").write_text("import bpy_extras.io_utils\n")
    proc = run_guarded(
        """
        import importlib, json

        sys.path.insert(0, ".")
        outcome = {}
        for name in ["bpy", "bpy.types", "mathutils", "bpy_extras.io_utils",
                     "needs_bpy", "needs_mathutils", "needs_bpy_extras"]:
            try:
                importlib.import_module(name)
                outcome[name] = "imported"
            except ImportError as error:
                outcome[name] = "ImportError"
        # The guard must not block everything: the package loader and numpy still work.
        load_gen404(sys.argv[1])
        import numpy
        outcome["gen404"] = "imported" if "gen404" in sys.modules else "missing"
        print(json.dumps(outcome))
        """,
        tmp_path,
    )
    outcome = result_of(proc)
    assert outcome.pop("gen404") == "imported"
    assert outcome == dict.fromkeys(outcome, "ImportError")
    assert len(outcome) == 7
