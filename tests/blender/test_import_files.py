"""Importing files: every format, several at once, drag and drop onto the 3D Viewport,
and the UI path that reads on a worker thread while only the final copy runs on the
main thread.
"""

from __future__ import annotations

import threading

import bpy
import numpy as np
import pytest

from tests.blender.helpers import (
    ROOT,
    addon_module,
    attribute,
    layers,
    record_thread,
    splat_count,
    splat_objects,
    start_ui_import,
    wait_for_event,
)
from tests.simulator import figure_ply_bytes, make_figure
from tests.unit.plyfiles import make_ply, splat_columns

DATA = ROOT / "tests" / "data"


def dot_splat_bytes(n: int = 10) -> bytes:
    """A .splat file (antimatter15's 32-byte records), written here by hand."""
    rng = np.random.default_rng(1)
    record = np.dtype(
        [("position", "<f4", 3), ("scale", "<f4", 3), ("rgba", "u1", 4), ("rotation", "u1", 4)]
    )
    records = np.zeros(n, dtype=record)
    records["position"] = rng.normal(size=(n, 3))
    records["scale"] = rng.uniform(0.01, 0.05, size=(n, 3))
    records["rgba"] = rng.integers(0, 256, size=(n, 4))
    records["rotation"] = (128, 228, 128, 128)
    return records.tobytes()


@pytest.fixture
def three_formats(tmp_path):
    (tmp_path / "figure.ply").write_bytes(figure_ply_bytes())
    (tmp_path / "compressed.spz").write_bytes((DATA / "gen404_sh0.spz").read_bytes())
    (tmp_path / "web.splat").write_bytes(dot_splat_bytes())
    return tmp_path, ["figure.ply", "compressed.spz", "web.splat"]


def test_dropping_files_on_the_3d_viewport_imports_them(addon) -> None:
    handler = bpy.types.GEN404_FH_splat
    assert issubclass(handler, bpy.types.FileHandler)
    assert handler.bl_import_operator == "gen404.import_splat"
    assert handler.bl_file_extensions == ".ply;.spz;.splat;.sog"
    window = bpy.context.window
    areas = {area.type: area for area in window.screen.areas}
    with bpy.context.temp_override(window=window, area=areas["VIEW_3D"]):
        assert handler.poll_drop(bpy.context)
    with bpy.context.temp_override(window=window, area=areas["PROPERTIES"]):
        assert not handler.poll_drop(bpy.context)
    # A drop hands the operator a folder and the file names.
    props = bpy.ops.gen404.import_splat.get_rna_type().properties
    assert {"filepath", "directory", "files"} <= set(props.keys())


def test_several_files_of_every_format_at_once(addon, clean_scene, three_formats) -> None:
    folder, names = three_formats
    (folder / "broken.ply").write_bytes(figure_ply_bytes()[:-100])
    files = [{"name": name} for name in [*names, "broken.ply"]]
    # One bad file among good ones is a warning, not a failure of the whole drop.
    result = bpy.ops.gen404.import_splat(directory=str(folder), files=files)
    assert result == {"FINISHED"}
    objects = {obj.name: obj for obj in splat_objects()}
    assert set(objects) == {"figure", "compressed", "web"}
    assert splat_count(objects["figure"]) == len(make_figure()["positions"])
    assert splat_count(objects["web"]) == 10
    assert {obj["gen404_source"] for obj in objects.values()} == set(names)


def test_a_script_gets_its_object_when_the_call_returns(addon, clean_scene, tmp_path) -> None:
    path = tmp_path / "figure.ply"
    path.write_bytes(figure_ply_bytes())
    # Even asked for the worker, a script (no event loop to finish it) imports at once.
    assert bpy.ops.gen404.import_splat(filepath=str(path), use_worker=True) == {"FINISHED"}
    assert [o.name for o in splat_objects()] == ["figure"]


def test_ui_import_reads_on_a_worker_and_builds_on_the_main_thread(
    addon, clean_scene, three_formats, monkeypatch
) -> None:
    folder, names = three_formats
    module, loading = addon_module("operators.import_splat"), addon_module("splats.loading")
    threads: dict[str, set[int]] = {"read": set(), "build": set()}
    record_thread(monkeypatch, loading, "load_file", threads["read"])
    record_thread(monkeypatch, module.builder, "build_object", threads["build"])
    importer, reports = start_ui_import(module, [str(folder / name) for name in names], "Y")
    progress, states = [], []
    while not importer.finished:
        wait_for_event(importer.job.results)  # blocks until the worker delivers: no sleeping
        progress.append(importer.job.progress()[0])
        states.append(importer.step(bpy.context))
        assert len(splat_objects()) <= len(names)
    assert states[-1] == "FINISHED" and set(states[:-1]) == {"RUNNING"}
    assert sorted(o.name for o in splat_objects()) == ["compressed", "figure", "web"]
    assert importer.objects == ["figure", "compressed", "web"]
    assert progress == sorted(progress) and progress[-1] == 1.0
    main = threading.get_ident()
    assert threads["build"] == {main}  # Blender data only on the main thread...
    assert threads["read"] and main not in threads["read"]  # ...reading and decoding off it
    assert any("Imported 3,000 splats from figure.ply" in text for _, text in reports)


def test_ui_import_can_be_cancelled(addon, clean_scene, tmp_path, monkeypatch) -> None:
    path = tmp_path / "figure.ply"
    path.write_bytes(figure_ply_bytes())
    module, loading = addon_module("operators.import_splat"), addon_module("splats.loading")
    decoding, release = threading.Event(), threading.Event()
    read = loading.read_splat_bytes

    def held_read(*args, **kwargs):
        decoding.set()
        release.wait(20)
        return read(*args, **kwargs)

    monkeypatch.setattr(loading, "read_splat_bytes", held_read)
    importer, reports = start_ui_import(module, [str(path)], "AUTO")
    assert decoding.wait(20)
    assert importer.step(bpy.context) == "RUNNING"  # still decoding: nothing to build yet
    assert importer.cancel(bpy.context) == "CANCELLED"
    release.set()
    assert importer.job.join(20)
    assert splat_objects() == []
    assert ({"WARNING"}, "Import cancelled") in reports


def test_file_problems_and_reader_warnings_reach_the_user(
    addon, clean_scene, tmp_path, capfd
) -> None:
    # A point cloud (no splat fields): imported as points with a default size, and said so.
    rng = np.random.default_rng(0)
    columns = {name: rng.normal(size=50).astype(np.float32) for name in ("x", "y", "z")}
    columns |= {c: rng.integers(0, 256, 50).astype(np.uint8) for c in ("red", "green", "blue")}
    path = tmp_path / "cloud.ply"
    path.write_bytes(make_ply(columns, types={"red": "uchar", "green": "uchar", "blue": "uchar"}))
    assert bpy.ops.gen404.import_splat(filepath=str(path)) == {"FINISHED"}
    assert "Warning: cloud.ply: " in capfd.readouterr().out
    with pytest.raises(RuntimeError, match=r"missing\.ply does not exist"):
        bpy.ops.gen404.import_splat(filepath=str(tmp_path / "missing.ply"))


def test_without_direct_memory_access_the_import_copies_the_same_values(
    addon, clean_scene, tmp_path, monkeypatch
) -> None:
    """Should a Blender lay attributes out differently, foreach_set takes over."""
    path = tmp_path / "capture.ply"
    path.write_bytes(make_ply(splat_columns(500, 3, normals=True, seed=9)))
    assert bpy.ops.gen404.import_splat(filepath=str(path)) == {"FINISHED"}
    (direct,) = splat_objects()
    attributes = addon_module("scene.attributes")
    monkeypatch.setattr(attributes, "attribute_views", lambda data, count, plan: None)
    assert bpy.ops.gen404.import_splat(filepath=str(path)) == {"FINISHED"}
    (copied,) = (o for o in splat_objects() if o != direct)
    want, got = layers(direct), layers(copied)
    kept = 4 if direct.type == "POINTCLOUD" else 5  # Blender's own splats, or file values
    assert sorted(got) == sorted(want) and len(want) == kept + 15 + 1  # SH degree 3, normals
    for name, values in want.items():
        np.testing.assert_array_equal(got[name], values, err_msg=name)


def test_a_file_with_no_splats_is_refused_with_a_reason(addon, clean_scene, tmp_path) -> None:
    path = tmp_path / "empty.ply"
    path.write_bytes(make_ply({name: values[:0] for name, values in splat_columns(1).items()}))
    names = {o.name for o in bpy.data.objects}
    with pytest.raises(RuntimeError, match=r"empty\.ply: it holds no splats"):
        bpy.ops.gen404.import_splat(filepath=str(path))
    assert {o.name for o in bpy.data.objects} == names and not splat_objects()
    assert not [m for m in bpy.data.meshes if m.name == "empty"]  # nothing left half-made


def test_splats_with_nan_or_infinite_values_are_left_out_and_counted(
    addon, clean_scene, tmp_path, capfd
) -> None:
    """They reached Blender silently before (object dimensions inf); now each is dropped."""
    columns = splat_columns(50, seed=3)
    rng = np.random.default_rng(3)
    for axis in "xyz":
        columns[axis] = rng.normal(size=50).astype(np.float32)
    for i in range(3):
        columns[f"scale_{i}"] = np.full(50, -3.0, np.float32)
    columns["opacity"] = np.zeros(50, np.float32)
    broken = {"x": 3, "y": 7, "scale_1": 9, "opacity": 11, "rot_2": 13, "f_dc_1": 15}
    values = [np.nan, np.inf, np.nan, np.nan, np.inf, -np.inf]
    for (name, row), value in zip(broken.items(), values, strict=True):
        columns[name][row] = value
    path = tmp_path / "partly broken.ply"
    path.write_bytes(make_ply(columns))
    assert bpy.ops.gen404.import_splat(filepath=str(path)) == {"FINISHED"}
    (obj,) = splat_objects()
    assert splat_count(obj) == obj["gen404_splats"] == 44
    assert "6 splats with NaN or infinite values were left out" in capfd.readouterr().out
    assert all(np.isfinite(obj.dimensions)) and max(obj.dimensions) < 10
    kept = np.delete(np.arange(50), sorted(broken.values()))
    x = np.array(columns["x"])[kept]
    got = attribute(obj, "position", 3)[:, 0]
    np.testing.assert_array_equal(got, x)  # the rest, in order (x is not turned by the up axis)


def test_a_file_of_nothing_but_nan_is_refused_and_leaves_the_scene(
    addon, clean_scene, tmp_path
) -> None:
    columns = splat_columns(5)
    columns["x"][:] = np.nan
    path = tmp_path / "nan.ply"
    path.write_bytes(make_ply(columns))
    with pytest.raises(RuntimeError, match="every one of its 5 splats holds NaN"):
        bpy.ops.gen404.import_splat(filepath=str(path))
    assert splat_objects() == []
