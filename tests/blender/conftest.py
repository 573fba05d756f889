"""Fixtures: the real Blender (bpy module) with the add-on installed from its built zip.

Blender's user folder is a fresh temporary one (see helpers.py); the extension is
installed with Blender's own installer into the "user_default" repository and
enabled, exactly as *Install from Disk* does; Blender unpacks its wheels.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from tests.blender.helpers import (  # first: sets Blender's user folder before bpy loads
    ADDON_MODULE,
    HOME,
    addon_module,
    addon_session,
    built_zip,
)

# isort: split
import bpy
import pytest

from tests.simulator import SIM_API_KEY, GatewaySimulator

# Blender's own Gaussian splats exist from 5.3: their tests are not collected before.
collect_ignore_glob = ["test_native_*.py"] if bpy.app.version < (5, 3, 0) else []


@pytest.fixture(scope="session")
def blender_home() -> Path:
    return HOME


@pytest.fixture(scope="session")
def addon(blender_home: Path) -> Iterator[ModuleType]:
    """The extension installed from dist/ and enabled, online access allowed."""
    bpy.context.preferences.system.use_online_access = True
    result = bpy.ops.extensions.package_install_files(
        repo="user_default", filepath=str(built_zip()), enable_on_install=True
    )
    assert result == {"FINISHED"}
    yield addon_module()


@pytest.fixture
def gateway(
    addon: ModuleType,
    sim: GatewaySimulator,
    monkeypatch: pytest.MonkeyPatch,
):
    """The add-on pointed at a fresh simulator through the environment overrides."""
    monkeypatch.setenv("GEN404_GATEWAY_URL", sim.url)
    monkeypatch.setenv("GEN404_API_KEY", SIM_API_KEY)
    prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
    prefs.api_key = ""
    bpy.context.preferences.system.use_online_access = True
    yield sim
    addon_session().cancel_all()
    addon_session().clear_finished()


@pytest.fixture
def clean_scene(addon: ModuleType) -> Iterator[bpy.types.Scene]:
    """A scene with no splat objects and the cursor at the origin."""
    for obj in list(bpy.data.objects):
        if "gen404_splats" in obj:
            bpy.data.objects.remove(obj)
    scene = bpy.context.scene
    scene.cursor.location = (0.0, 0.0, 0.0)
    yield scene
