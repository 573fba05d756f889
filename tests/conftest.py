"""Shared test set-up: make the repository importable as the package ``gen404``.

The repository root *is* the extension package, whatever its folder is called, so
tests load it under a fixed name. Importing the root does not import bpy: only
``register()`` does.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _load_package_alias() -> None:
    if "gen404" in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(
        "gen404", ROOT / "__init__.py", submodule_search_locations=[str(ROOT)]
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen404"] = module
    spec.loader.exec_module(module)


_load_package_alias()

# The live gateway simulator fixtures (`simulator`, `sim`) for every test tier.
pytest_plugins = ("tests.gateway_fixtures",)
