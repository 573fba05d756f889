"""Fixtures: the real Blender (bpy module) with the add-on installed from its built zip.

Blender's user folder is a fresh temporary one (see helpers.py); the extension is
installed with Blender's own installer into the "user_default" repository and
enabled, exactly as *Install from Disk* does; Blender unpacks its wheels.
"""

from __future__ import annotations

import subprocess
import sys
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


@pytest.fixture(scope="module")
def nodes_display(addon: ModuleType) -> Iterator[None]:
    """The module's tests check the geometry-nodes display: on Blender 5.3, where imports
    make Blender's own splats by default, they choose it with the add-on's preference."""
    prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
    prefs.splat_object = "NODES"
    yield
    prefs.splat_object = "NATIVE"


@pytest.fixture(scope="session")
def blender_glb(
    addon: ModuleType, simulator: GatewaySimulator, tmp_path_factory: pytest.TempPathFactory
) -> bytes:
    """The mesh models' result: a textured box from Blender's own glTF exporter, handed
    to the simulator once per session."""
    path = tmp_path_factory.mktemp("glb") / "box.glb"
    # In a child process: bpy 4.2's glTF exporter leaves the process to crash at exit
    # (a segfault after every test passed), which the child sidesteps with os._exit.
    child = Path(__file__).with_name("glb_child.py")
    done = subprocess.run(
        [sys.executable, str(child), str(path)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0 and path.is_file(), done.stdout + done.stderr
    data = path.read_bytes()
    simulator.set_result_glb(data)
    return data


@pytest.fixture
def gateway(
    addon: ModuleType,
    sim: GatewaySimulator,
    blender_glb: bytes,
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
        if "gen404_splats" in obj or "gen404_mesh" in obj:
            bpy.data.objects.remove(obj)
    scene = bpy.context.scene
    scene.cursor.location = (0.0, 0.0, 0.0)
    yield scene
