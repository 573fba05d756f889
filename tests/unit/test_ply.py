"""The 3DGS PLY reader and writer against hand-written files of every layout we meet."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from gen404.splats.cloud import SH_C0, SplatCloud, SplatFormatError
from gen404.splats.ply import read_ply, read_ply_file, write_ply

from tests.unit.plyfiles import (
    NUMPY_CODE,
    expected_sh_rest,
    face_element,
    make_ply,
    scalar_element,
    splat_columns,
    splat_names,
)

DATA = Path(__file__).resolve().parent.parent / "data"
FORMATS = ["binary_little_endian", "binary_big_endian", "ascii"]
KNOWN = set(splat_names(3, normals=True))


def assert_matches(cloud: SplatCloud, columns: dict[str, np.ndarray]) -> None:
    """Every field of ``cloud`` holds exactly the float32 of the written column."""
    n = len(columns["x"])

    def stack(*names: str) -> np.ndarray:
        return np.stack([np.asarray(columns[nm], dtype=np.float32) for nm in names], axis=1)

    assert cloud.count == n
    np.testing.assert_array_equal(cloud.positions, stack("x", "y", "z"))
    np.testing.assert_array_equal(cloud.sh_dc, stack("f_dc_0", "f_dc_1", "f_dc_2"))
    np.testing.assert_array_equal(cloud.opacity_logit, stack("opacity")[:, 0])
    np.testing.assert_array_equal(cloud.log_scales, stack("scale_0", "scale_1", "scale_2"))
    np.testing.assert_array_equal(cloud.rotations, stack("rot_0", "rot_1", "rot_2", "rot_3"))
    np.testing.assert_array_equal(cloud.sh_rest, expected_sh_rest(columns, n))
    if "nx" in columns:
        assert cloud.normals is not None
        np.testing.assert_array_equal(cloud.normals, stack("nx", "ny", "nz"))
    else:
        assert cloud.normals is None
    extras = [name for name in columns if name not in KNOWN]
    assert sorted(cloud.extra) == sorted(extras)
    for name in extras:
        np.testing.assert_array_equal(cloud.extra[name], stack(name)[:, 0])
    arrays = [cloud.positions, cloud.sh_dc, cloud.opacity_logit, cloud.log_scales]
    arrays += [cloud.rotations, cloud.sh_rest, *cloud.extra.values()]
    arrays += [cloud.normals] if cloud.normals is not None else []
    for arr in arrays:
        assert arr.dtype == np.float32
        assert arr.flags.c_contiguous


# --- layouts ---------------------------------------------------------------------------


def test_404_gateway_layout_14_floats() -> None:
    columns = splat_columns(40, degree=0)
    data = make_ply(columns)
    assert data.count(b"property float") == 14
    cloud = read_ply(data)
    assert_matches(cloud, columns)
    assert cloud.sh_degree == 0
    assert cloud.sh_rest.shape == (40, 0, 3)
    assert cloud.normals is None
    assert cloud.extra == {}


def test_inria_layout_62_floats_with_normals() -> None:
    columns = splat_columns(25, degree=3, normals=True)
    data = make_ply(columns)
    assert data.count(b"property float") == 62
    cloud = read_ply(data)
    assert_matches(cloud, columns)
    assert cloud.sh_degree == 3


@pytest.mark.parametrize("normals", [False, True])
@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_sh_degrees_reorder_channel_major_to_coefficient_major(degree: int, normals: bool) -> None:
    n = 7
    columns = splat_columns(n, degree=degree, normals=normals, seed=degree)
    cloud = read_ply(make_ply(columns))
    k = {0: 0, 1: 3, 2: 8, 3: 15}[degree]
    assert cloud.sh_degree == degree
    assert cloud.sh_rest.shape == (n, k, 3)
    # Value by value: f_rest_<c*K + k> is coefficient k of channel c.
    for i in range(3 * k):
        channel, coef = divmod(i, k)
        np.testing.assert_array_equal(cloud.sh_rest[:, coef, channel], columns[f"f_rest_{i}"])
    assert_matches(cloud, columns)


def test_sh_rest_reorder_known_values() -> None:
    """Degree 1 with f_rest_i = i: R coefs 0 1 2, G 3 4 5, B 6 7 8."""
    columns = splat_columns(2, degree=1)
    for i in range(9):
        columns[f"f_rest_{i}"][:] = i
    cloud = read_ply(make_ply(columns))
    expected = [[0, 3, 6], [1, 4, 7], [2, 5, 8]]
    np.testing.assert_array_equal(cloud.sh_rest[0], expected)
    np.testing.assert_array_equal(cloud.sh_rest[1], expected)


@pytest.mark.parametrize("seed", range(6))
def test_shuffled_property_order(seed: int) -> None:
    columns = splat_columns(30, degree=seed % 4, normals=seed % 2 == 0, seed=seed)
    order = list(np.random.default_rng(seed).permutation(list(columns)))
    assert order != list(columns)
    assert_matches(read_ply(make_ply(columns, order=order)), columns)


def test_extra_properties_are_kept_as_float32() -> None:
    n = 9
    columns = splat_columns(n, degree=1)
    columns["t"] = np.linspace(0, 1, n, dtype=np.float32)
    columns["red"] = np.arange(n) * 20
    columns["green"] = np.arange(n) + 3
    columns["blue"] = np.full(n, 255)
    columns["weight"] = np.arange(n) / 3.0
    types = {"red": "uchar", "green": "uchar", "blue": "uchar", "weight": "double"}
    order = ["x", "y", "z", "red", "green", "blue", "t", *list(columns)[3:-5], "weight"]
    cloud = read_ply(make_ply(columns, types=types, order=order))
    assert set(cloud.extra) == {"t", "red", "green", "blue", "weight"}
    np.testing.assert_array_equal(cloud.extra["blue"], np.full(n, 255, np.float32))
    np.testing.assert_array_equal(cloud.extra["weight"], (np.arange(n) / 3.0).astype(np.float32))
    assert_matches(cloud, columns)


def test_partial_normals_become_extras() -> None:
    columns = splat_columns(5)
    columns["nx"] = np.ones(5, np.float32)
    cloud = read_ply(make_ply(columns))
    assert cloud.normals is None
    np.testing.assert_array_equal(cloud.extra["nx"], np.ones(5, np.float32))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("ply_type", sorted(NUMPY_CODE))
def test_every_scalar_type(ply_type: str, fmt: str) -> None:
    n = 6
    columns = splat_columns(n)
    info = np.iinfo(NUMPY_CODE[ply_type]) if NUMPY_CODE[ply_type][0] in "iu" else None
    if info is None:
        values = np.array([-1.5, 0.0, 2.25, 1e-3, 7.0, -3e4])
    else:
        values = np.array([info.min, 0, 1, 2, 100, info.max])
    columns["extra_value"] = values
    # A required property in that type too: x is cast to it and back.
    columns["x"] = values
    cloud = read_ply(make_ply(columns, types={"extra_value": ply_type, "x": ply_type}, fmt=fmt))
    expected = values.astype(NUMPY_CODE[ply_type]).astype(np.float32)
    np.testing.assert_array_equal(cloud.extra["extra_value"], expected)
    np.testing.assert_array_equal(cloud.positions[:, 0], expected)


def test_double_properties() -> None:
    columns = splat_columns(12, degree=2, normals=True)
    columns["x"] = np.linspace(-1, 1, 12) / 3.0
    types = dict.fromkeys(columns, "double")
    cloud = read_ply(make_ply(columns, types=types))
    assert_matches(cloud, columns)
    np.testing.assert_array_equal(cloud.positions[:, 0], columns["x"].astype(np.float32))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("degree", [0, 3])
def test_formats_read_the_same_values(fmt: str, degree: int) -> None:
    columns = splat_columns(20, degree=degree, normals=True, seed=5)
    columns["t"] = np.arange(20, dtype=np.float32) * 0.1
    assert_matches(read_ply(make_ply(columns, fmt=fmt)), columns)


@pytest.mark.parametrize("fmt", FORMATS)
def test_mixed_types_and_shuffled_order_in_every_format(fmt: str) -> None:
    columns = splat_columns(15, degree=2, seed=11)
    columns["red"] = np.arange(15) + 100
    columns["id"] = np.arange(15) - 7
    names = list(columns)
    order = list(np.random.default_rng(3).permutation(names))
    types = {"red": "uchar", "id": "short", "opacity": "double", "f_rest_4": "double"}
    assert_matches(read_ply(make_ply(columns, types=types, order=order, fmt=fmt)), columns)


@pytest.mark.parametrize("fmt", FORMATS)
def test_crlf_header(fmt: str) -> None:
    columns = splat_columns(10, degree=1, normals=True)
    data = make_ply(columns, fmt=fmt, newline="\r\n", comments=["made on Windows"])
    assert b"end_header\r\n" in data
    assert_matches(read_ply(data), columns)


def test_comments_and_obj_info_are_ignored() -> None:
    columns = splat_columns(4)
    data = make_ply(columns, comments=["Generated by a tool", "vertex 99 property x"])
    data = data.replace(b"element vertex", b"obj_info some info\nelement vertex", 1)
    assert_matches(read_ply(data), columns)


@pytest.mark.parametrize("fmt", FORMATS)
def test_elements_after_vertex_are_ignored(fmt: str) -> None:
    columns = splat_columns(8, degree=1)
    after = [face_element(fmt), scalar_element("camera", 2, fmt)]
    assert_matches(read_ply(make_ply(columns, fmt=fmt, after=after)), columns)


@pytest.mark.parametrize("fmt", FORMATS)
def test_scalar_elements_before_vertex_are_skipped(fmt: str) -> None:
    columns = splat_columns(8, degree=2)
    before = [scalar_element("camera", 3, fmt, types=("double", "uchar", "int"))]
    assert_matches(read_ply(make_ply(columns, fmt=fmt, before=before)), columns)


def test_zero_splats() -> None:
    columns = {name: np.zeros(0, np.float32) for name in splat_names(2, normals=True)}
    cloud = read_ply(make_ply(columns))
    assert cloud.count == 0
    assert cloud.sh_rest.shape == (0, 8, 3)


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview, lambda b: np.frombuffer(b, "u1")])
def test_input_buffer_types_and_no_aliasing(wrap) -> None:
    columns = splat_columns(6, degree=1)
    raw = bytearray(make_ply(columns))
    cloud = read_ply(wrap(raw))
    raw[-200:] = bytes(200)  # the caller reuses its buffer: the cloud must not change
    assert_matches(cloud, columns)


def test_read_ply_file(tmp_path: Path) -> None:
    columns = splat_columns(11, degree=3, normals=True)
    path = tmp_path / "scene.ply"
    path.write_bytes(make_ply(columns))
    assert_matches(read_ply_file(path), columns)
    assert_matches(read_ply_file(str(path)), columns)


@pytest.mark.parametrize("seed", range(24))
def test_random_layouts(seed: int) -> None:
    """Random combinations of format, order, types, degree, normals and extras."""
    rng = np.random.default_rng(1000 + seed)
    n = int(rng.integers(1, 40))
    columns = splat_columns(n, degree=int(rng.integers(0, 4)), normals=bool(rng.integers(2)))
    for i in range(int(rng.integers(0, 3))):
        columns[f"extra{i}"] = rng.integers(0, 200, n)
    float_types = ["float", "float32", "double", "float64"]
    types = {name: str(rng.choice(float_types)) for name in columns}
    types.update({name: "uchar" for name in columns if name.startswith("extra")})
    order = list(rng.permutation(list(columns)))
    fmt = str(rng.choice(FORMATS))
    newline = str(rng.choice(["\n", "\r\n"]))
    data = make_ply(columns, types=types, order=order, fmt=fmt, newline=newline)
    assert_matches(read_ply(data), columns)


# --- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", ["empty"]),
        (b"\x28\xb5\x2f\xfd" + bytes(40), ["Not a PLY", "SPZ"]),
        (b"\x1f\x8b\x08" + bytes(40), ["Not a PLY", "gzip"]),
        (b"<!DOCTYPE html><html>502 Bad Gateway</html>", ["Not a PLY", "HTML"]),
        (b"solid cube\nfacet normal 0 0 1\n", ["Not a PLY", "'ply' signature"]),
        (b"plyx\nformat ascii 1.0\n", ["Not a PLY"]),
    ],
)
def test_not_a_ply(data: bytes, words: list[str]) -> None:
    with pytest.raises(SplatFormatError) as err:
        read_ply(data)
    for word in words:
        assert word in str(err.value)


@pytest.mark.parametrize("fmt", ["binary_little_endian", "binary_big_endian"])
def test_truncated_binary(fmt: str) -> None:
    columns = splat_columns(100, degree=1)
    data = make_ply(columns, fmt=fmt)
    record = 4 * len(columns)
    with pytest.raises(SplatFormatError) as err:
        read_ply(data[: -record // 2])  # half of the last splat is missing
    message = str(err.value)
    assert "truncated" in message
    assert "expected 100 splats" in message
    assert "only 99" in message


def test_truncated_ascii() -> None:
    columns = splat_columns(50)
    data = make_ply(columns, fmt="ascii")
    cut = data[: data.rstrip(b"\n").rfind(b"\n") - 3]  # drop the last line and a bit
    with pytest.raises(SplatFormatError, match=r"expected 50 splats, only 48 are present"):
        read_ply(cut)


@pytest.mark.parametrize("fmt", FORMATS)
def test_absurd_count_is_refused_before_allocating(fmt: str) -> None:
    data = make_ply(splat_columns(3), fmt=fmt, count=10**9)
    assert len(data) < 2048
    tracemalloc.start()
    try:
        with pytest.raises(SplatFormatError) as err:
            read_ply(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000
    message = str(err.value)
    assert "1,000,000,000 splats" in message
    assert "room for only" in message


def test_missing_required_properties() -> None:
    """Some splat properties but not all: named, with what the file does have."""
    columns = splat_columns(3)
    for name in ["f_dc_2", "opacity", "scale_0", "rot_3"]:
        del columns[name]
    columns["red"] = np.full(3, 200)
    with pytest.raises(SplatFormatError) as err:
        read_ply(make_ply(columns, types={"red": "uchar"}))
    message = str(err.value)
    assert "doesn't look like a 3D Gaussian splat PLY" in message
    assert "lacks f_dc_2, opacity, scale_0, rot_3;" in message
    assert "red" in message  # shows what is there


def test_mesh_is_refused_with_the_right_importer_named() -> None:
    mesh = {name: np.zeros(3, np.float32) for name in ["x", "y", "z", "nx", "ny", "nz"]}
    mesh.update({c: np.full(3, 200) for c in ["red", "green", "blue"]})
    types = {c: "uchar" for c in ["red", "green", "blue"]}
    data = make_ply(mesh, types=types, after=[face_element()])
    with pytest.raises(SplatFormatError) as err:
        read_ply(data)
    message = str(err.value)
    assert "This PLY is a mesh (2 faces or edges over 3 vertices)" in message
    assert "Stanford PLY" in message


def test_one_missing_property_is_named() -> None:
    columns = splat_columns(3)
    del columns["rot_2"]
    with pytest.raises(SplatFormatError, match=r"lacks rot_2;"):
        read_ply(make_ply(columns))


def test_list_property_in_vertex_is_refused() -> None:
    data = make_ply(splat_columns(0), extra_vertex_header=["property list uchar float sh_coeffs"])
    with pytest.raises(SplatFormatError, match=r"list properties \(sh_coeffs\)"):
        read_ply(data)


def test_list_element_before_vertex_is_refused() -> None:
    data = make_ply(splat_columns(2), before=[face_element()])
    with pytest.raises(SplatFormatError, match="'face' comes before 'vertex'"):
        read_ply(data)


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        ((b"binary_little_endian", b"binary_vax"), "'binary_vax' is not supported"),
        ((b"property float x", b"property half x"), "unknown property type 'half'"),
        ((b"property float y", b"property float x"), "'x' appears twice"),
        ((b"element vertex 4", b"element vertex -4"), "expected 'element <name> <count>'"),
        ((b"element vertex 4", b"element splat 4"), "no 'vertex' element"),
        ((b"end_header", b"end_headr"), "unknown keyword 'end_headr'"),
        ((b"format binary_little_endian 1.0\n", b""), "no 'format' line"),
        ((b"element vertex 4\n", b""), "a property before any element"),
    ],
)
def test_bad_headers(edit: tuple[bytes, bytes], words: str) -> None:
    data = make_ply(splat_columns(4))
    assert edit[0] in data
    with pytest.raises(SplatFormatError) as err:
        read_ply(data.replace(edit[0], edit[1], 1))
    assert words in str(err.value)


def test_unknown_type_after_vertex_is_tolerated() -> None:
    columns = splat_columns(3)
    after = scalar_element("camera", 1)
    after.header = after.header.replace("double", "float16")
    assert_matches(read_ply(make_ply(columns, after=[after])), columns)
    with pytest.raises(SplatFormatError, match="unknown property type 'float16'"):
        read_ply(make_ply(columns, before=[after]))


def test_missing_end_header() -> None:
    header = make_ply(splat_columns(0)).replace(b"end_header\n", b"")
    with pytest.raises(SplatFormatError, match="no 'end_header' line"):
        read_ply(header)


def test_ascii_garbage_value() -> None:
    data = make_ply(splat_columns(5), fmt="ascii")
    index = data.index(b"end_header\n") + 40
    bad = data[:index] + b" oops " + data[index:]
    with pytest.raises(SplatFormatError, match="non-numeric value"):
        read_ply(bad)


# --- writing -----------------------------------------------------------------------------


@pytest.mark.parametrize("normals", [False, True])
@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_write_read_round_trip(degree: int, normals: bool) -> None:
    columns = splat_columns(17, degree=degree, normals=normals, seed=degree + 10)
    columns["t"] = np.arange(17, dtype=np.float32)
    cloud = read_ply(
        make_ply(columns, order=list(np.random.default_rng(0).permutation(list(columns))))
    )
    again = read_ply(write_ply(cloud))
    assert_matches(again, columns)


def test_write_ply_header_order() -> None:
    cloud = read_ply(make_ply({**splat_columns(2, degree=1, normals=True), "t": np.ones(2)}))
    data = write_ply(cloud)
    header = data[: data.index(b"end_header\n")].decode().splitlines()
    names = [line.split()[2] for line in header if line.startswith("property")]
    assert names == [*splat_names(1, normals=True), "t"]
    assert header[:3] == ["ply", "format binary_little_endian 1.0", "element vertex 2"]
    assert all(line.startswith("property float ") for line in header[3:])


def test_write_ply_refuses_bad_extra_names() -> None:
    cloud = read_ply(make_ply(splat_columns(2)))
    cloud.extra["has space"] = np.zeros(2, np.float32)
    with pytest.raises(SplatFormatError, match="cannot be written"):
        write_ply(cloud)


# --- real files ------------------------------------------------------------------------


def test_fixture_gen404_sh0() -> None:
    path = DATA / "gen404_sh0.src.ply"
    cloud = read_ply_file(path)
    assert cloud.count == 3000
    assert cloud.sh_degree == 0
    assert cloud.normals is None
    assert cloud.extra == {}
    for arr in [cloud.positions, cloud.sh_dc, cloud.opacity_logit, cloud.log_scales]:
        assert np.isfinite(arr).all()
    norms = np.linalg.norm(cloud.rotations, axis=1)
    assert not np.allclose(norms, 1.0)  # stored as written: not all normalised
    np.testing.assert_allclose(np.linalg.norm(cloud.rotations_normalised(), axis=1), 1, 1e-6)
    # The layout is the Inria order minus normals, so writing reproduces the file exactly.
    assert write_ply(cloud) == path.read_bytes()


def test_fixture_capture_sh3() -> None:
    path = DATA / "capture_sh3.src.ply"
    cloud = read_ply_file(path)
    assert cloud.count == 2000
    assert cloud.sh_degree == 3
    assert cloud.sh_rest.shape == (2000, 15, 3)
    assert cloud.normals is not None
    assert cloud.extra == {}
    assert np.isfinite(cloud.sh_rest).all() and np.isfinite(cloud.positions).all()
    assert np.abs(cloud.sh_rest).max() > 0  # real higher-order SH, not zeros
    assert write_ply(cloud) == path.read_bytes()


# --- SplatCloud helpers ------------------------------------------------------------------


def test_cloud_activation_helpers() -> None:
    columns = splat_columns(4)
    columns["opacity"] = np.array([0.0, 20.0, -20.0, np.log(3.0)], np.float32)
    columns["scale_0"] = np.array([0.0, np.log(2.0), -1.0, 1.0], np.float32)
    quats = np.array([[2, 0, 0, 0], [0, 0, 0, 0], [0, 0, 5, 0], [4, 0, 0, 3]], np.float32)
    for i in range(4):
        columns[f"rot_{i}"] = quats[:, i]
    columns["f_dc_0"] = np.array([0.0, 1.0, -10.0, 10.0], np.float32)
    cloud = read_ply(make_ply(columns))

    np.testing.assert_allclose(cloud.opacity_activated(), [0.5, 1.0, 0.0, 0.75], atol=1e-6)
    np.testing.assert_allclose(cloud.scales_activated()[:, 0], [1, 2, np.exp(-1), np.e], 1e-6)
    q = cloud.rotations_normalised()
    np.testing.assert_allclose(q[0], [1, 0, 0, 0])
    np.testing.assert_allclose(q[1], [1, 0, 0, 0])  # zero quaternion -> identity
    np.testing.assert_allclose(q[2], [0, 0, 1, 0])
    np.testing.assert_allclose(q[3], [0.8, 0, 0, 0.6], atol=1e-7)
    red = cloud.colors()[:, 0]
    np.testing.assert_allclose(red, [0.5, 0.5 + SH_C0, 0.0, 1.0], atol=1e-7)
    assert all(
        a.dtype == np.float32
        for a in [cloud.opacity_activated(), cloud.scales_activated(), q, cloud.colors()]
    )
