"""SOG through the import operator: a bundled .sog, an unbundled meta.json or its folder.

splat-transform (tests/peers) writes the SOGs from tests/data/capture_sh3.src.ply
(SH degree 3, so the palette is used) and decodes one back to PLY. Imported
through gen404.import_splat, whose WebP images go through Blender's own image
loader, every SOG object must hold exactly the values of that PLY's object:
Blender's loader gives the same bytes as libwebp elsewhere, on every release.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import bpy
import numpy as np
import pytest

from tests.blender.helpers import (
    ROOT,
    addon_module,
    layers,
    record_thread,
    splat_count,
    splat_objects,
    start_ui_import,
    wait_for_work,
)
from tests.unit.spzfiles import run_parallel, splat_transform

SOURCE = ROOT / "tests" / "data" / "capture_sh3.src.ply"


@pytest.fixture(scope="module")
def sogs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sog")
    (folder / "scene").mkdir()
    st = ["3.7.0", "-g", "cpu"]
    run_parallel(
        [
            splat_transform(*st, SOURCE, folder / "capture.sog"),
            splat_transform(*st, SOURCE, folder / "scene" / "meta.json"),
        ],
        timeout=300,
    )
    run_parallel(
        [
            splat_transform("3.7.0", folder / "capture.sog", folder / "capture_back.ply"),
            splat_transform("3.7.0", folder / "scene" / "meta.json", folder / "scene_back.ply"),
        ],
        timeout=300,
    )
    return folder


def imported(path: Path | str) -> bpy.types.Object:
    before = set(splat_objects())
    assert bpy.ops.gen404.import_splat(filepath=str(path)) == {"FINISHED"}
    (obj,) = set(splat_objects()) - before
    return obj


def assert_same_layers(got: bpy.types.Object, want: bpy.types.Object) -> None:
    a, b = layers(got), layers(want)
    assert sorted(a) == sorted(b)
    for name in b:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_bundled_and_unbundled_sog_import_as_splat_transform_decodes_them(
    addon, clean_scene, sogs: Path
) -> None:
    bundled = imported(sogs / "capture.sog")
    assert bundled.name == "capture" and splat_count(bundled) == 2000
    assert_same_layers(bundled, imported(sogs / "capture_back.ply"))

    by_meta = imported(sogs / "scene" / "meta.json")
    assert by_meta.name == "scene"  # named after its folder, not "meta"
    assert_same_layers(by_meta, imported(sogs / "scene_back.ply"))
    by_folder = imported(str(sogs / "scene") + os.sep)  # the folder chosen in the browser
    assert_same_layers(by_folder, by_meta)
    assert by_folder["gen404_source"] == "scene"
    assert not any(image.name.startswith("gen404-") for image in bpy.data.images)


def test_a_zip_that_is_not_a_sog_is_refused_with_a_reason(addon, clean_scene, tmp_path) -> None:
    import zipfile

    path = tmp_path / "download.sog"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("scene.ply", b"ply\n")
    with pytest.raises(RuntimeError, match="a zip archive, but not a SOG"):
        bpy.ops.gen404.import_splat(filepath=str(path))
    assert splat_objects() == []


def test_ui_import_decodes_images_on_the_main_thread_and_the_rest_on_a_worker(
    addon, clean_scene, sogs: Path, monkeypatch
) -> None:
    module, sog_decode = addon_module("operators.import_splat"), addon_module("splats.sog_decode")
    threads: dict[str, set[int]] = {"webp": set(), "splats": set()}
    record_thread(monkeypatch, module, "decode_webp", threads["webp"])
    record_thread(monkeypatch, sog_decode.SogSplats, "add", threads["splats"])
    # up axis as the operator imports the reference below
    importer, reports = start_ui_import(module, [str(sogs / "capture.sog")], "AUTO")
    while not importer.finished:
        wait_for_work(importer)
        importer.step(bpy.context)  # serves the worker's images, then builds
    assert importer.finished and importer.objects == ["capture"], reports
    main = threading.get_ident()
    assert threads["webp"] == {main}
    assert threads["splats"] and main not in threads["splats"]
    assert any("Imported 2,000 splats from capture.sog" in text for _, text in reports)
    assert_same_layers(bpy.data.objects["capture"], imported(sogs / "capture_back.ply"))


def test_blenders_loader_gives_every_byte_value_back_exactly(addon, tmp_path: Path) -> None:
    """Every way the release has (an ImBuf's bytes from 5.2, a packed image's floats before)."""
    webp = addon_module("scene.webp")
    b = np.arange(256, dtype=np.uint8).reshape(16, 16)
    want = np.zeros((32, 16, 4), np.uint8)  # top half: RGB; bottom half: alpha
    want[:16, :, 0], want[:16, :, 1], want[:16, :, 2], want[:16, :, 3] = b, 255 - b, b.T, 255
    want[16:, :, 3] = b
    image = bpy.data.images.new("all-bytes", 16, 32, alpha=True)
    image.colorspace_settings.name = "Non-Color"
    image.alpha_mode = "STRAIGHT"
    image.pixels.foreach_set((want[::-1].astype(np.float32) / 255).ravel())
    path = tmp_path / "all.webp"
    image.file_format = "WEBP"
    image.save(filepath=str(path), quality=100)  # quality 100: lossless
    bpy.data.images.remove(image)
    data = path.read_bytes()
    assert data[12:16] == b"VP8L"
    ways = [webp.decode_webp, webp._by_image] + ([webp._by_imbuf] if webp.IMBUF_PIXELS else [])
    seen = want[..., 3] > 0  # RGB under alpha 0 is the encoder's to change
    for decode in ways:
        got = decode(data)
        assert got.shape == want.shape and got.dtype == np.uint8 and got.flags.c_contiguous
        np.testing.assert_array_equal(got[..., 3], want[..., 3], err_msg=decode.__name__)
        np.testing.assert_array_equal(got[seen], want[seen], err_msg=decode.__name__)
    assert webp.IMBUF_PIXELS is (bpy.app.version >= (5, 2, 0))  # the faster way where it is
    assert not any(image.name.startswith("gen404-") for image in bpy.data.images)
