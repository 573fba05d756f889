"""SOG (PlayCanvas's web format): bundled .sog and unbundled meta.json, versions 1 and 2.

Version 2 files are made at test time by splat-transform 3.7.0 (tests/peers) from
tests/data/real/hamburger.ply (SH degree 0) and tests/data/capture_sh3.src.ply
(degree 3, and 1 and 2 through its -H filter), so the higher bands go through
the palette; splat-transform then converts each back to PLY, its own decode,
which the reader must equal value for value (read with Pillow's WebP decoder,
the reference; tests/blender checks Blender's loader gives the same). It writes
no version 1, so sogfiles.py writes those from the format's facts.
"""

from __future__ import annotations

import io
import json
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from gen404.splats.cloud import SplatCloud, SplatFormatError
from gen404.splats.main_thread import CallsClosed, MainThreadCalls
from gen404.splats.ply import read_ply_file
from gen404.splats.reader import detect_format, read_splat_bytes, read_splat_file
from gen404.splats.sog import MAX_SPLATS, open_sog_zip
from gen404.splats.sog_decode import read_sog, webp_size

from tests.unit.sogfiles import (
    folder_files,
    pillow_webp,
    sog_v1_files,
    v1_tolerances,
    webp_bytes,
    with_webp_size,
    zip_bytes,
)
from tests.unit.spzfiles import PeerFiles, realistic_splats, run_parallel, splat_transform

DATA = Path(__file__).resolve().parent.parent / "data"
FIELDS = ("positions", "log_scales", "rotations", "opacity_logit", "sh_dc", "sh_rest")


Made = PeerFiles


@pytest.fixture(scope="session")
def made(tmp_path_factory: pytest.TempPathFactory) -> Made:
    """splat-transform's SOGs, and its own decode of each back to PLY (about 10 s)."""
    folder = tmp_path_factory.mktemp("sog-peers")
    (folder / "unbundled").mkdir()
    hamburger, capture = DATA / "real" / "hamburger.ply", DATA / "capture_sh3.src.ply"
    st = ["3.7.0", "-g", "cpu"]
    run_parallel(
        [
            splat_transform(*st, hamburger, folder / "hamburger.sog"),
            splat_transform(*st, capture, folder / "capture.sog"),
            splat_transform(*st, capture, "-H", "1", folder / "capture-b1.sog"),
            splat_transform(*st, capture, "-H", "2", folder / "capture-b2.sog"),
            splat_transform(*st, capture, folder / "unbundled" / "meta.json"),
        ],
        timeout=300,
    )
    run_parallel(
        [
            splat_transform("3.7.0", folder / f"{name}.sog", folder / f"{name}.back.ply")
            for name in ("hamburger", "capture", "capture-b1", "capture-b2")
        ],
        timeout=300,
    )
    return Made(folder)


def sog_file(path: Path) -> SplatCloud:
    return read_splat_file(path, decode_webp=pillow_webp)


def assert_same(got: SplatCloud, want: SplatCloud) -> None:
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)


def unit(q: np.ndarray) -> np.ndarray:
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x.astype(np.float64)))


# --- version 2, against splat-transform ----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "degree"),
    [("hamburger", 0), ("capture", 3), ("capture-b1", 1), ("capture-b2", 2)],
)
def test_v2_equals_splat_transforms_own_decode(made: Made, name: str, degree: int) -> None:
    data = made[f"{name}.sog"].read_bytes()
    meta = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("meta.json"))
    assert meta["version"] == 2  # all that splat-transform 3.7.0 writes
    assert detect_format(data, "x.sog") == "sog"
    cloud = sog_file(made[f"{name}.sog"])
    assert cloud.sh_degree == degree
    assert cloud.warnings == []
    assert_same(cloud, read_ply_file(made[f"{name}.back.ply"]))
    for name_ in FIELDS:
        arr = getattr(cloud, name_)
        assert arr.dtype == np.float32 and arr.flags.c_contiguous, name_


def test_v2_is_the_source_scene_within_its_quantisation(made: Made) -> None:
    """SOG reorders splats (Morton order): pair them by their 16-bit position codes."""
    src = read_ply_file(DATA / "real" / "hamburger.ply")
    data = made["hamburger.sog"].read_bytes()
    means = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("meta.json"))["means"]
    low, high = np.array(means["mins"]), np.array(means["maxs"])
    cloud = sog_file(made["hamburger.sog"])
    assert cloud.count == src.count

    def codes(positions: np.ndarray, rounding) -> np.ndarray:
        logs = np.sign(positions) * np.log1p(np.abs(positions.astype(np.float64)))
        c = rounding(65535 * (logs - low) / (high - low)).astype(np.int64)
        return (c[:, 0] << 32) | (c[:, 1] << 16) | c[:, 2]

    key_src, key_got = codes(src.positions, np.floor), codes(cloud.positions, np.rint)
    order_src, order_got = np.argsort(key_src, kind="stable"), np.argsort(key_got, kind="stable")
    paired = key_src[order_src] == key_got[order_got]
    assert paired.mean() > 0.95  # the few that differ: float ties at a code's edge
    a, b = src.positions[order_src][paired], cloud.positions[order_got][paired]
    step = float((high - low).max()) / 65535
    assert np.abs(a - b).max() < step * float(np.exp(np.abs(high).max() + np.abs(low).max()))
    q_src, q_got = src.rotations[order_src][paired], cloud.rotations[order_got][paired]
    assert np.median(np.abs(np.sum(unit(q_src) * unit(q_got), axis=1))) > 0.999
    o_src = sigmoid(src.opacity_logit[order_src][paired])
    o_got = sigmoid(cloud.opacity_logit[order_got][paired])
    assert np.abs(o_src - o_got).max() < 1.01 / 255


def test_unbundled_meta_json_and_its_folder_read_like_the_bundle(made: Made) -> None:
    """splat-transform's unbundled output, and the same files zipped into a .sog."""
    zipped = zip_bytes(folder_files(made["unbundled"]))
    bundled = read_splat_bytes(zipped, "capture.sog", decode_webp=pillow_webp)
    assert bundled.sh_degree == 3
    meta = made["unbundled"] / "meta.json"
    assert detect_format(meta.read_bytes(), "meta.json") == "sog-meta"
    assert_same(sog_file(meta), bundled)
    assert_same(sog_file(made["unbundled"]), bundled)  # the folder chosen instead
    # The same bytes, from memory, with the folder they came from.
    cloud = read_splat_bytes(
        meta.read_bytes(), "meta.json", decode_webp=pillow_webp, folder=meta.parent
    )
    assert_same(cloud, bundled)


def test_a_meta_json_without_its_folder_or_a_sog_without_a_decoder_says_what_to_do(
    made: Made,
) -> None:
    meta = (made["unbundled"] / "meta.json").read_bytes()
    with pytest.raises(SplatFormatError, match=r"meta.json of an unbundled SOG.*from its folder"):
        read_splat_bytes(meta, "meta.json", decode_webp=pillow_webp)
    with pytest.raises(SplatFormatError, match="no WebP decoder: import it through Blender"):
        read_splat_file(made["capture.sog"])


def test_a_missing_image_beside_meta_json_is_named(made: Made, tmp_path: Path) -> None:
    for name, data in folder_files(made["unbundled"]).items():
        if name != "quats.webp":
            (tmp_path / name).write_bytes(data)
    with pytest.raises(SplatFormatError, match=r"names the image 'quats.webp', which is not in"):
        sog_file(tmp_path / "meta.json")


# --- version 1, written from the facts ----------------------------------------------------


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_v1_bundled_and_unbundled(tmp_path: Path, degree: int) -> None:
    src = realistic_splats(700, degree, seed=40 + degree)
    files = sog_v1_files(src)
    assert "version" not in json.loads(files["meta.json"])
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    bundle = zip_bytes(files, zipfile.ZIP_DEFLATED)
    cloud = read_splat_bytes(bundle, "v1.sog", decode_webp=pillow_webp)
    assert_same(sog_file(tmp_path / "meta.json"), cloud)
    assert cloud.sh_degree == degree  # version 1 has no band count: the palette's width
    tol = v1_tolerances(src)
    np.testing.assert_allclose(cloud.positions, src.positions, rtol=0, atol=tol["positions"])
    np.testing.assert_allclose(cloud.log_scales, src.log_scales, rtol=0, atol=tol["log_scales"])
    np.testing.assert_allclose(cloud.sh_dc, src.f_dc, rtol=0, atol=tol["sh_dc"])
    np.testing.assert_allclose(cloud.opacity_logit, src.opacity, rtol=0, atol=tol["opacity"])
    np.testing.assert_allclose(cloud.sh_rest, src.sh, rtol=0, atol=tol["sh"] + 1e-7)
    dots = np.abs(np.sum(unit(cloud.rotations) * unit(src.rotations), axis=1))
    assert dots.min() > 0.999
    np.testing.assert_allclose(np.linalg.norm(cloud.rotations, axis=1), 1, atol=1e-6)


def test_an_unknown_quaternion_tag_is_the_identity_as_in_splat_transform() -> None:
    src = realistic_splats(20, 0, seed=3)
    files = sog_v1_files(src)
    quats = pillow_webp(files["quats.webp"]).copy()
    quats[0, :5, 3] = [0, 100, 251, 252, 255]
    files["quats.webp"] = webp_bytes(quats)
    cloud = read_splat_bytes(zip_bytes(files), "x.sog", decode_webp=pillow_webp)
    np.testing.assert_array_equal(cloud.rotations[:3], [[1, 0, 0, 0]] * 3)
    assert not np.array_equal(cloud.rotations[3], [1, 0, 0, 0])


# --- what is not a SOG, or not a safe one ---------------------------------------------------


def small_sog() -> dict[str, bytes]:
    return sog_v1_files(realistic_splats(40, 1, seed=8))


def refused(data: bytes, name: str = "x.sog") -> str:
    def never(blob: bytes) -> np.ndarray:
        raise AssertionError("nothing should be decoded")

    with pytest.raises(SplatFormatError) as err:
        read_sog(open_sog_zip(data, name), never)
    return str(err.value)


def test_a_zip_without_meta_json_is_not_taken_for_a_sog() -> None:
    data = zip_bytes({"scene.ply": b"ply\n"})
    with pytest.raises(SplatFormatError) as err:
        read_splat_bytes(data, "download.zip", decode_webp=pillow_webp)
    assert "a zip archive, but not a SOG (it has no meta.json at its top)" in str(err.value)
    assert "unpack" in str(err.value)


def test_json_that_is_not_a_sog_and_a_streamed_sog_say_so() -> None:
    with pytest.raises(SplatFormatError, match=r"JSON text, but not a SOG meta.json"):
        read_splat_bytes(b'{"error": "quota"}', "meta.json")
    lod = json.dumps({"version": 1, "lodLevels": 2, "filenames": ["0.sog"], "tree": {}})
    with pytest.raises(SplatFormatError, match=r"streamed SOG's lod-meta.json.*one .sog or .ply"):
        read_splat_bytes(lod.encode(), "lod-meta.json")


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ("../evil.webp", "a path out of the archive or absolute"),
        ("/etc/evil.webp", "a path out of the archive or absolute"),
        ("C:\\evil.webp", "a path out of the archive or absolute"),
        ("a/../../evil.webp", "a path out of the archive or absolute"),
    ],
)
def test_hostile_entry_names_are_refused(entry: str, words: str) -> None:
    files = small_sog()
    assert words in refused(zip_bytes({**files, entry: b"x"}))


def test_hostile_image_names_in_meta_json_are_refused(tmp_path: Path) -> None:
    files = small_sog()
    meta = json.loads(files["meta.json"])
    meta["quats"]["files"] = ["../../outside.webp"]
    files["meta.json"] = json.dumps(meta).encode()
    assert "is not a plain file name beside it" in refused(zip_bytes(files))
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path.parent / "outside.webp").write_bytes(small_sog()["quats.webp"])
    with pytest.raises(SplatFormatError, match="not a plain file name beside it"):
        sog_file(tmp_path / "meta.json")


def test_duplicate_entries_and_too_many_entries_are_refused() -> None:
    files = list(small_sog().items())
    assert "two entries named 'meta.json'" in refused(zip_bytes([*files, files[-1]]))
    many = dict(files) | {f"extra{i}.txt": b"" for i in range(70)}
    assert f"is a zip of {len(many)} entries" in refused(zip_bytes(many))


def test_a_zip_bomb_is_refused_before_it_is_unpacked() -> None:
    files = small_sog()
    bomb = zip_bytes({**files, "padding.bin": bytes(50 << 20)}, zipfile.ZIP_DEFLATED)
    assert len(bomb) < 200_000
    assert "(a zip bomb?): refused" in refused(bomb)


def test_an_entry_claiming_a_huge_size_is_refused() -> None:
    data = bytearray(zip_bytes(small_sog()))
    central = data.index(b"PK\x01\x02")  # the first entry's central directory record
    data[central + 24 : central + 28] = (900 << 20).to_bytes(4, "little")
    assert "claims to unpack to 900 MiB" in refused(bytes(data))


def test_images_whose_headers_promise_too_many_pixels_are_never_decoded() -> None:
    files = small_sog()
    # 40 splats cannot fill a 16383 x 16383 texture.
    files["scales.webp"] = with_webp_size(files["scales.webp"], 16383, 16383)
    assert "scales.webp is 16383x16383, which does not fit 40 splats" in refused(zip_bytes(files))
    # A count that matches huge headers over a few hundred bytes of pixels.
    files = small_sog()
    meta = json.loads(files["meta.json"])
    meta["means"]["shape"] = [16_000_000, 3]
    files["meta.json"] = json.dumps(meta).encode()
    for name in ("means_l.webp", "means_u.webp", "quats.webp", "scales.webp", "sh0.webp"):
        files[name] = with_webp_size(files[name], 4000, 4000)
        assert webp_size(files[name]) == (4000, 4000)
    files["shN_labels.webp"] = with_webp_size(files["shN_labels.webp"], 4000, 4000)
    assert "far more than real SOG images hold: refused" in refused(zip_bytes(files))


def test_counts_versions_and_broken_meta_are_refused_with_reasons() -> None:
    def with_meta(change: dict) -> bytes:
        files = small_sog()
        files["meta.json"] = json.dumps(json.loads(files["meta.json"]) | change).encode()
        return zip_bytes(files)

    means = json.loads(small_sog()["meta.json"])["means"]
    huge = with_meta({"means": means | {"shape": [10**9, 3]}})
    assert f"claims 1,000,000,000 splats; at most {MAX_SPLATS:,}" in refused(huge)
    assert "SOG version 3; versions 1 and 2 can be read" in refused(with_meta({"version": 3}))
    assert "means entry is missing or not an object" in refused(with_meta({"means": None}))
    no_quats = json.loads(small_sog()["meta.json"])
    del no_quats["quats"]
    files = small_sog() | {"meta.json": json.dumps(no_quats).encode()}
    assert "lacks the means, quats, scales and sh0" in refused(zip_bytes(files))
    broken = small_sog() | {"meta.json": b"{not json"}
    assert "is not valid JSON" in refused(zip_bytes(broken))
    missing = {k: v for k, v in small_sog().items() if k != "sh0.webp"}
    assert "names 'sh0.webp', which the archive does not hold" in refused(zip_bytes(missing))
    not_webp = small_sog() | {"sh0.webp": b"GIF89a" + bytes(40)}
    assert "sh0.webp is not a WebP image" in refused(zip_bytes(not_webp))


def test_a_decoder_that_fails_or_lies_is_reported() -> None:
    data = zip_bytes(small_sog())

    def broken(blob: bytes) -> np.ndarray:
        raise RuntimeError("Cannot read file")

    # The SH palette is decoded first (its step is the longest, see DECODE_ORDER).
    with pytest.raises(SplatFormatError, match=r"shN_centroids.webp could not be decoded \(Cannot"):
        read_splat_bytes(data, "x.sog", decode_webp=broken)
    with pytest.raises(
        SplatFormatError, match=r"shN_centroids.webp decoded to .* not the 192x1 RGBA"
    ):
        read_splat_bytes(data, "x.sog", decode_webp=lambda b: np.zeros((8, 8, 3), np.uint8))


# --- handing calls to the main thread -------------------------------------------------------


def test_main_thread_calls_run_on_the_serving_thread() -> None:
    calls = MainThreadCalls()
    ran_on: list[int] = []

    def work(x: int) -> int:
        ran_on.append(threading.get_ident())
        if x < 0:
            raise ValueError("negative")
        return x * 2

    wrapped = calls.wrap(work)
    assert wrapped(2) == 4  # on the main thread: at once
    results: list[object] = []

    def worker() -> None:
        results.append([wrapped(i) for i in range(5)])
        try:
            wrapped(-1)
        except ValueError as exc:
            results.append(str(exc))

    thread = threading.Thread(target=worker)
    thread.start()
    served = 0
    while thread.is_alive() and served < 6:
        served += calls.serve(budget=0.5, linger=0.05)
    thread.join(10)
    assert results == [[0, 2, 4, 6, 8], "negative"]
    assert set(ran_on) == {threading.get_ident()}


def test_closing_main_thread_calls_frees_a_waiting_worker() -> None:
    calls = MainThreadCalls()
    wrapped = calls.wrap(lambda: 1)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            wrapped()
        except CallsClosed as exc:
            errors.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    while calls._queue.empty():  # the worker is waiting for its call
        thread.join(0.01)
    calls.close()
    thread.join(10)
    assert not thread.is_alive() and len(errors) == 1
