"""Per-object display controls (modifier inputs of the one shared group), the shared
materials, upgrading groups saved by an older version, and the colour-management choice.
"""

from __future__ import annotations

import types

import bpy
import numpy as np
import pytest

from tests.blender.helpers import addon_module, assert_file_values_only, splat_objects
from tests.blender.test_export import quat_matrices, y_up_to_blender
from tests.blender.test_look import (
    ISOTROPIC,
    SH_C0,
    SPLATS,
    composite,
    mahalanobis2,
    pixel_centres,
    pixel_of,
    render_linear,
    splat_ply,
    srgb_to_linear,
    stage,
)
from tests.blender.test_ui import Recorder
from tests.simulator import figure_ply_bytes, make_figure

pytestmark = pytest.mark.usefixtures("nodes_display")  # the geometry-nodes display

GROUP = "gen404 Splats"


def key(obj: bpy.types.Object, name: str) -> str:
    return addon_module("scene.display").input_identifier(obj.modifiers[0].node_group, name)


def stored(obj: bpy.types.Object, name: str):
    """A control's value as the modifier stores it: an RNA property from Blender 5.2, an
    ID property before."""
    modifier = obj.modifiers[0]
    inputs = getattr(getattr(modifier, "properties", None), "inputs", None)
    if inputs is not None:
        return getattr(inputs, key(obj, name)).value
    return modifier[key(obj, name)]


def set_control(obj: bpy.types.Object, name: str, value) -> None:
    addon_module("scene.display").set_input(obj.modifiers[0], name, value)
    obj.update_tag()
    bpy.context.view_layer.update()


def splat_instances(obj: bpy.types.Object) -> list:
    """World matrices of the splat instances of ``obj`` in the viewport's evaluation."""
    depsgraph = bpy.context.evaluated_depsgraph_get()
    return [
        inst.matrix_world.copy()
        for inst in depsgraph.object_instances
        if inst.is_instance
        and inst.parent is not None
        and inst.parent.original == obj
        and inst.object.type == "MESH"  # the spheres (a points-mode cloud comes as one too)
    ]


@pytest.fixture
def figure(addon, clean_scene, tmp_path):
    path = tmp_path / "figure.ply"
    path.write_bytes(figure_ply_bytes())
    bpy.ops.gen404.import_splat(filepath=str(path))
    (obj,) = splat_objects()
    assert_file_values_only(obj)
    return obj


@pytest.fixture
def known(addon, clean_scene, tmp_path):
    path = tmp_path / "known.ply"
    path.write_bytes(splat_ply(SPLATS))
    bpy.ops.gen404.import_splat(filepath=str(path), up_axis="Z")
    (obj,) = splat_objects()
    assert_file_values_only(obj)
    cam = stage(clean_scene, obj)
    yield obj
    bpy.data.objects.remove(cam)


def test_every_object_shares_one_group_and_one_set_of_materials(figure, tmp_path) -> None:
    path = tmp_path / "second.ply"
    path.write_bytes(figure_ply_bytes())
    bpy.ops.gen404.import_splat(filepath=str(path))
    first, second = splat_objects()
    assert first.modifiers[0].node_group == second.modifiers[0].node_group
    assert [g.name for g in bpy.data.node_groups if g.name.startswith(GROUP)] == [GROUP]
    names = [m.name for m in bpy.data.materials if m.name.startswith("gen404 Splat")]
    has_sh = addon_module("scene.display").has_sh_palette(first.modifiers[0].node_group)
    assert len(names) == 125 * (2 if has_sh else 1) + 1  # plain palette, SH palette, points
    inputs = {
        s.name: s.socket_type
        for s in first.modifiers[0].node_group.interface.items_tree
        if s.item_type == "SOCKET" and s.in_out == "INPUT"
    }
    assert inputs == {
        "Geometry": "NodeSocketGeometry",
        "Display": "NodeSocketMenu",
        "Size": "NodeSocketFloat",
        "Opacity Threshold": "NodeSocketFloat",
        "Viewport Fraction": "NodeSocketFloat",
        "View-Dependent Color": "NodeSocketBool",
        "File Frame": "NodeSocketRotation",
    }
    # Per object: one object's setting leaves the other alone.
    set_control(first, "Size", 3.0)
    assert stored(second, "Size") == pytest.approx(1.0)


def test_the_sh_palette_comes_with_the_first_view_dependent_object(addon, clean_scene, tmp_path):
    """Files without SH never pay for the SH palette's materials and object."""
    display = addon_module("scene.display")
    for obj in [o for o in bpy.data.objects if "gen404_palette" in o]:
        bpy.data.objects.remove(obj)
    for material in [m for m in bpy.data.materials if m.name.startswith("gen404 Splat")]:
        bpy.data.materials.remove(material)
    for group in [g for g in bpy.data.node_groups if g.name.startswith("gen404 ")]:
        bpy.data.node_groups.remove(group)
    path = tmp_path / "figure.ply"
    path.write_bytes(figure_ply_bytes())  # SH degree 0
    bpy.ops.gen404.import_splat(filepath=str(path))
    (obj,) = splat_objects()
    group = obj.modifiers[0].node_group
    assert [o["gen404_palette"] for o in bpy.data.objects if "gen404_palette" in o] == [
        "gen404 Palette"
    ]
    assert not [m for m in bpy.data.materials if m.name.startswith("gen404 Splat SH")]
    assert display.is_current(group) and not display.has_sh_palette(group)

    set_control(obj, "View-Dependent Color", True)  # as importing a file with SH does
    assert obj.modifiers[0].node_group == group and display.is_current(group)
    assert display.has_sh_palette(group)
    assert len([m for m in bpy.data.materials if m.name.startswith("gen404 Splat SH")]) == 125
    assert len(splat_instances(obj)) == len(make_figure()["positions"])


def test_the_palettes_are_objects_outside_every_scene(figure, tmp_path) -> None:
    """Built once on their own objects; one deleted by hand is rebuilt by the next import."""
    display = addon_module("scene.display")
    palettes = {o["gen404_palette"]: o for o in bpy.data.objects if "gen404_palette" in o}
    assert "gen404 Palette" in palettes
    assert all(not o.users_scene for o in palettes.values())
    group = figure.modifiers[0].node_group
    assert display.is_current(group)

    bpy.data.objects.remove(palettes["gen404 Palette"])
    assert not display.is_current(group)
    figure.update_tag()
    assert splat_instances(figure) == []  # no palette, no spheres
    path = tmp_path / "again.ply"
    path.write_bytes(figure_ply_bytes())
    bpy.ops.gen404.import_splat(filepath=str(path))
    assert display.is_current(group) and figure.modifiers[0].node_group == group
    figure.update_tag()
    assert len(splat_instances(figure)) == len(make_figure()["positions"])


def _instance_table(obj: bpy.types.Object) -> np.ndarray:
    """(n, 4, 4) instance matrices, in the order of their positions (unique per splat)."""
    mats = np.array([np.array(m) for m in splat_instances(obj)])
    order = np.lexsort(mats[:, :3, 3].T)
    return mats[order]


def test_each_instance_is_its_gaussian_turned_into_blender_axes(figure) -> None:
    """From the file's raw values: exp of the log scales, the normalised quaternion
    (every third one of the figure is not unit) turned from +Y up to +Z up."""
    fig = make_figure()
    turn = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])  # file (+Y up) -> Blender
    want = np.zeros((len(fig["positions"]), 4, 4))
    want[:, :3, :3] = turn @ quat_matrices(fig["rotations"].astype(np.float64))
    want[:, :3, :3] *= np.exp(fig["log_scales"].astype(np.float64))[:, None, :]
    want[:, :3, 3] = fig["positions"] @ turn.T
    want[:, 3, 3] = 1.0
    want = want[np.lexsort(want[:, :3, 3].T)]
    np.testing.assert_allclose(_instance_table(figure), want, atol=2e-6)


def test_objects_of_an_older_version_still_show_their_splats(figure) -> None:
    """Imports before display version 4 stored Blender-frame ``rotation`` and ``scale``."""
    new = _instance_table(figure)
    mesh = figure.data
    n = len(mesh.vertices)
    q, log = np.empty(n * 4, np.float32), np.empty(n * 3, np.float32)
    mesh.attributes["file_rotation"].data.foreach_get("value", q)
    mesh.attributes["log_scale"].data.foreach_get("vector", log)
    legacy = y_up_to_blender(q.reshape(n, 4))
    for name in ("file_rotation", "log_scale"):
        mesh.attributes.remove(mesh.attributes[name])
    mesh.attributes.new("rotation", "QUATERNION", "POINT").data.foreach_set(
        "value", legacy.astype(np.float32).ravel()
    )
    mesh.attributes.new("scale", "FLOAT_VECTOR", "POINT").data.foreach_set("vector", np.exp(log))
    figure.update_tag()
    np.testing.assert_allclose(_instance_table(figure), new, atol=2e-6)


def test_size_multiplies_every_splat(figure) -> None:
    before = np.array(
        [np.linalg.norm(np.array(m)[:3, :3], axis=0) for m in splat_instances(figure)]
    )
    set_control(figure, "Size", 2.5)
    after = np.array([np.linalg.norm(np.array(m)[:3, :3], axis=0) for m in splat_instances(figure)])
    assert len(before) == len(after) == len(make_figure()["positions"])
    np.testing.assert_allclose(
        np.sort(after, axis=None), 2.5 * np.sort(before, axis=None), rtol=1e-5
    )


def test_viewport_fraction_shows_a_stable_subset_spread_evenly(figure) -> None:
    n = len(make_figure()["positions"])
    assert len(splat_instances(figure)) == n

    def shown() -> set[tuple[float, ...]]:
        return {
            tuple(np.round(np.array(m.translation, np.float64), 5)) for m in splat_instances(figure)
        }

    set_control(figure, "Viewport Fraction", 0.5)
    half = shown()
    set_control(figure, "Viewport Fraction", 0.2)
    fifth = shown()
    set_control(figure, "Viewport Fraction", 0.5)
    assert shown() == half  # the same splats every time...
    assert fifth < half  # ...and a smaller fraction keeps a part of them

    # Evenly over the file: each part of the figure (its splats are consecutive)
    # keeps its share to within a few splats, where a random subset would be off
    # by about the square root of the part's size.
    position = np.empty(n * 3, dtype=np.float32)
    figure.data.attributes["position"].data.foreach_get("vector", position)
    keys = [tuple(np.round(p, 5)) for p in position.reshape(n, 3).astype(np.float64)]
    part = make_figure()["part"]
    for subset, fraction in ((half, 0.5), (fifth, 0.2)):
        kept = np.array([key in subset for key in keys])
        for p in np.unique(part):
            assert abs(kept[part == p].sum() - fraction * (part == p).sum()) <= 4, (fraction, p)


def test_renders_show_every_splat_and_drop_only_faint_ones(known, clean_scene, tmp_path) -> None:
    set_control(known, "Viewport Fraction", 0.0)
    assert splat_instances(known) == []  # nothing in the viewport...
    px, pz = pixel_centres()
    edge = np.any([np.abs(mahalanobis2(s, px, pz) - 9.0) < 0.05 for s in SPLATS], axis=0)
    rgba = render_linear(clean_scene, tmp_path / "all.exr")
    err = np.abs(rgba - composite(SPLATS, px, pz)).max(axis=-1)
    assert err[~edge].max() < 1e-3  # ...everything in the final render

    set_control(known, "Opacity Threshold", 0.85)  # only ISOTROPIC (0.9) stays
    rgba = render_linear(clean_scene, tmp_path / "opaque.exr")
    err = np.abs(rgba - composite([ISOTROPIC], px, pz)).max(axis=-1)
    assert err[~edge].max() < 1e-3


def test_points_mode_is_a_coloured_point_cloud(known, clean_scene, tmp_path) -> None:
    set_control(known, "Display", "Points")
    assert addon_module("scene.display").get_input(known.modifiers[0], "Display") == "Points"
    assert splat_instances(known) == []
    depsgraph = bpy.context.evaluated_depsgraph_get()
    clouds = [
        i.object.data
        for i in depsgraph.object_instances
        if i.object.original == known
        if i.object.type == "POINTCLOUD"
    ]
    (cloud,) = clouds
    assert len(cloud.points) == len(SPLATS)
    assert [m.name for m in cloud.materials] == ["gen404 Splat Points"]
    radius = np.empty(len(SPLATS), dtype=np.float32)
    cloud.attributes["radius"].data.foreach_get("value", radius)
    mean_sigma = [np.mean(s["sigma"]) for s in SPLATS]
    np.testing.assert_allclose(radius, 1.5 * np.array(mean_sigma), rtol=1e-5)
    # Rendered: an opaque-as-the-splat sphere of the splat's colour.
    rgba = render_linear(clean_scene, tmp_path / "points.exr")
    row, col = pixel_of(*ISOTROPIC["centre"][::2])
    want = ISOTROPIC["opacity"] * srgb_to_linear(ISOTROPIC["rgb"])
    np.testing.assert_allclose(rgba[row, col, :3], want, atol=2e-3)


def material_name(instance: bpy.types.Object) -> str:
    """The one material of an instanced sphere (its mesh may list empty slots too)."""
    (material,) = [m for m in instance.data.materials if m is not None]
    return material.name


def test_each_splat_gets_the_palette_material_of_its_colour(figure) -> None:
    """Solid mode's colour per splat: the group derives the palette entry from sh_dc."""
    mesh = figure.data
    n = len(mesh.vertices)
    # Colours over the whole range and beyond it (clamped), so every entry is used.
    dc = np.random.default_rng(3).uniform(-2.2, 2.2, (n, 3)).astype(np.float32)
    mesh.attributes["sh_dc"].data.foreach_set("vector", dc.ravel())
    position = np.empty(n * 3, dtype=np.float32)
    mesh.attributes["position"].data.foreach_get("vector", position)
    # The palette entry of a display colour: 5 levels per channel, the top one closed.
    display = np.clip(0.5 + SH_C0 * dc.astype(np.float64), 0.0, 1.0)
    levels = np.minimum(np.floor(display * 5), 4).astype(np.int32)
    palette = levels @ np.array([25, 5, 1])
    assert len(set(palette)) == 125
    centres = position.reshape(n, 3).astype(np.float64)
    want = {tuple(np.round(p, 4)): i for p, i in zip(centres, palette, strict=True)}
    assert len(want) == n  # positions tell the splats apart

    for view_dependent, prefix in ((False, "gen404 Splat "), (True, "gen404 Splat SH ")):
        set_control(figure, "View-Dependent Color", view_dependent)
        depsgraph = bpy.context.evaluated_depsgraph_get()
        got = {
            tuple(np.round(np.array(inst.matrix_world.translation, np.float64), 4)): material_name(
                inst.object
            )
            for inst in depsgraph.object_instances
            if inst.is_instance and inst.parent.original == figure
        }
        assert got == {key: f"{prefix}{index:03d}" for key, index in want.items()}


def test_materials_suit_eevee_and_material_preview(figure) -> None:
    """EEVEE renders are too slow here to test by picture: check what EEVEE relies on."""
    set_control(figure, "View-Dependent Color", True)  # makes the SH palette if need be
    plain = bpy.data.node_groups["gen404 Gaussian"]
    sh = bpy.data.node_groups["gen404 Gaussian SH"]
    for prefix, shader in (("gen404 Splat ", plain), ("gen404 Splat SH ", sh)):
        for index in range(125):
            mat = bpy.data.materials[f"{prefix}{index:03d}"]
            if hasattr(mat, "surface_render_method"):
                assert mat.surface_render_method == "BLENDED"  # sorted, alpha-blended
            else:
                assert mat.blend_method == "BLEND"
            assert mat.use_backface_culling
            (group,) = [n for n in mat.node_tree.nodes if n.bl_idname == "ShaderNodeGroup"]
            assert group.node_tree == shader
            output = next(
                n for n in mat.node_tree.nodes if n.bl_idname == "ShaderNodeOutputMaterial"
            )
            assert output.inputs["Surface"].links[0].from_node == group
    for shader in (plain, sh):
        kinds = {n.bl_idname for n in shader.nodes}
        # Nodes EEVEE evaluates as Cycles does: the instance's object space and the view ray.
        assert {"ShaderNodeTexCoord", "ShaderNodeVectorTransform", "ShaderNodeNewGeometry"} <= kinds
        attributes = {
            n.attribute_name: n.attribute_type
            for n in shader.nodes
            if n.bl_idname == "ShaderNodeAttribute"
        }
        assert set(attributes.values()) == {"INSTANCER"}
        assert {"opacity_logit", "sh_dc"} <= set(attributes)  # the raw values, activated here
    plain_names = {n.attribute_name for n in plain.nodes if n.bl_idname == "ShaderNodeAttribute"}
    assert plain_names == {"opacity_logit", "sh_dc"}  # no SH lookups for objects that don't use it


def test_a_group_saved_by_an_older_version_is_upgraded_in_place(figure) -> None:
    display = addon_module("scene.display")
    group = figure.modifiers[0].node_group
    set_control(figure, "Size", 2.5)
    # Make it look like the first version: Geometry and Size only, no version mark.
    for item in list(group.interface.items_tree):
        if (
            item.item_type == "SOCKET"
            and item.in_out == "INPUT"
            and item.name not in ("Geometry", "Size")
        ):
            group.interface.remove(item)
    del group["gen404_version"]
    del bpy.data.node_groups["gen404 Gaussian"]["gen404_version"]
    bpy.data.node_groups["gen404 Gaussian"].interface.clear()  # unlinks every material
    assert not display.is_current(group)
    pointer = group.as_pointer()

    assert display.upgrade_existing in bpy.app.handlers.load_post  # runs after every file load
    display.upgrade_existing()

    group = bpy.data.node_groups[GROUP]
    assert group.as_pointer() == pointer and display.is_current(group)
    assert bpy.data.node_groups["gen404 Gaussian"]["gen404_version"] == display.DISPLAY_VERSION
    material = bpy.data.materials["gen404 Splat 000"]
    output = next(n for n in material.node_tree.nodes if n.bl_idname == "ShaderNodeOutputMaterial")
    assert output.inputs["Surface"].is_linked  # relinked to the rebuilt shader
    modifier = figure.modifiers[0]
    assert modifier.node_group == group
    assert stored(figure, "Size") == pytest.approx(2.5)  # the object's value survived
    assert display.get_input(modifier, "Display") == "Splats"
    assert stored(figure, "Viewport Fraction") == pytest.approx(1.0)
    figure.update_tag()
    assert len(splat_instances(figure)) == len(make_figure()["positions"])


def test_panel_shows_the_controls_of_the_active_splat(figure) -> None:
    bpy.context.scene.view_settings.view_transform = "AgX"
    for panel in (bpy.types.OBJECT_PT_gen404_splat, bpy.types.VIEW3D_PT_gen404_splat):
        assert panel.poll(bpy.context)
        log: list = []
        panel.draw(types.SimpleNamespace(layout=Recorder(log)), bpy.context)
        props = [entry[1] for entry in log if entry[0] == "prop"]
        drawn = {e[3]: e[1].path_resolve(e[2]) for e in log if e[0] == "prop_of" and e[3]}
        for name in (
            "Display",
            "Size",
            "Opacity Threshold",
            "Viewport Fraction",
            "View-Dependent Color",
        ):
            want = addon_module("scene.display").get_input(figure.modifiers[0], name)
            assert drawn[name] == want, name  # the field edits the control
        assert "view_transform" in props  # the hint, since the view is AgX now
        assert any(entry[0] == "operator" and entry[1] == "gen404.export_splat" for entry in log)
    bpy.context.scene.view_settings.view_transform = "Standard"


@pytest.mark.parametrize(
    ("before", "after"), [("AgX", "Standard"), ("Filmic", "Standard"), ("Raw", "Raw")]
)
def test_import_switches_a_tone_mapping_view_to_standard(
    addon, clean_scene, tmp_path, capfd, before, after
):
    settings = clean_scene.view_settings
    settings.view_transform = before
    path = tmp_path / "figure.ply"
    path.write_bytes(figure_ply_bytes())
    bpy.ops.gen404.import_splat(filepath=str(path))
    assert settings.view_transform == after
    if before != after:
        assert f"View transform set to Standard (was {before})" in capfd.readouterr().out
    # Opting out keeps the scene's view transform.
    settings.view_transform = before
    bpy.ops.gen404.import_splat(filepath=str(path), standard_view=False)
    assert settings.view_transform == before
    settings.view_transform = "Standard"
