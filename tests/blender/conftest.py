"""Fixtures: the real Blender (bpy module) with the add-on installed from its built zip.

Blender's user folder is a fresh temporary one (see helpers.py); the extension is
installed with Blender's own installer into the "user_default" repository and
enabled, exactly as *Install from Disk* does; Blender unpacks its wheels.
"""

from __future__ import annotations

import warnings
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


def textured_box_glb(path: Path) -> None:
    """Export a small textured box (0.6 x 0.6 x 1, tall along Blender's Z) with Blender's
    own glTF exporter; everything made for it is removed again."""
    mesh = bpy.data.meshes.new("sim-box")
    w, h = 0.3, 1.0
    verts = [(x, y, z) for z in (0.0, h) for y in (-w, w) for x in (-w, w)]
    faces = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    mesh.from_pydata(verts, [], faces)
    uv = mesh.uv_layers.new(name="UVMap")
    for i, loop in enumerate(uv.data):
        loop.uv = (float(i % 4 in (1, 2)), float(i % 4 >= 2))
    image = bpy.data.images.new("sim-texture", 4, 4)
    image.pixels.foreach_set([0.9, 0.2, 0.1, 1.0] * 16)
    image.pack()
    material = bpy.data.materials.new("sim-material")
    with warnings.catch_warnings():  # deprecated (always on) from Blender 5.0
        warnings.simplefilter("ignore", DeprecationWarning)
        material.use_nodes = True
    nodes = material.node_tree.nodes
    texture = nodes.new("ShaderNodeTexImage")
    texture.image = image
    material.node_tree.links.new(
        texture.outputs["Color"], nodes["Principled BSDF"].inputs["Base Color"]
    )
    mesh.materials.append(material)
    obj = bpy.data.objects.new("sim-box", mesh)
    bpy.context.scene.collection.objects.link(obj)
    selected = [o for o in bpy.context.view_layer.objects if o.select_get()]
    for other in selected:
        other.select_set(False)
    obj.select_set(True)
    try:
        result = bpy.ops.export_scene.gltf(
            filepath=str(path), use_selection=True, export_format="GLB"
        )
        assert result == {"FINISHED"}
    finally:
        bpy.data.objects.remove(obj)
        bpy.data.meshes.remove(mesh)
        bpy.data.materials.remove(material)
        bpy.data.images.remove(image)
        for other in selected:
            other.select_set(True)


@pytest.fixture(scope="session")
def blender_glb(
    addon: ModuleType, simulator: GatewaySimulator, tmp_path_factory: pytest.TempPathFactory
) -> bytes:
    """The mesh models' result: a textured box from Blender's own glTF exporter, handed
    to the simulator once per session."""
    path = tmp_path_factory.mktemp("glb") / "box.glb"
    textured_box_glb(path)
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
