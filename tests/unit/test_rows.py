"""The import's copy path without Blender: PLY rows streamed from disk, and what they become.

``scene.prepare.fill`` writes the attributes a splat object stores; here it writes
into plain numpy arrays (in Blender they are views of the mesh's memory), so
every layout can be checked value by value against the whole-file reader.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gen404.scene.prepare import attribute_plan, copy_group, fill, position_axes
from gen404.splats.cloud import SplatFormatError
from gen404.splats.ply import read_ply
from gen404.splats.ply_rows import open_ply_rows
from gen404.splats.reader import open_rows
from gen404.splats.rows import CloudRows, RowSource

from tests.unit.plyfiles import make_ply, scalar_element, splat_columns

N = 1000
ROWS_PER_BLOCK = 96
"""Small blocks: many of them and a short last one, as in a big file."""


def filled(source: RowSource, up_axis: str = "Y") -> dict[str, np.ndarray]:
    plan, extras, _ = attribute_plan(source)
    out = {a.name: np.full((source.count, a.width), np.nan, np.float32) for a in plan}
    fill(source, out, up_axis, extras)
    return out


def streamed(path: Path) -> RowSource:
    rows = open_ply_rows(path)
    assert rows is not None, "a binary splat PLY streams"
    rows.block_rows = ROWS_PER_BLOCK
    return rows


def expected(data: bytes, up_axis: str = "Y") -> dict[str, np.ndarray]:
    """What the attributes must hold, from the whole-file reader's cloud, by hand."""
    cloud = read_ply(data)
    x, y, z = cloud.positions.T
    position = {"Y": (x, -z, y), "-Y": (x, z, -y), "Z": (x, y, z)}[up_axis]
    out = {
        "position": np.stack(position, axis=1),
        "file_rotation": cloud.rotations,
        "log_scale": cloud.log_scales,
        "opacity_logit": cloud.opacity_logit[:, None],
        "sh_dc": cloud.sh_dc,
    }
    for k in range(cloud.sh_rest.shape[1]):
        out[f"sh_rest_{k}"] = cloud.sh_rest[:, k]
    if cloud.normals is not None:
        out["file_normal"] = cloud.normals
    for name, values in cloud.extra.items():
        out[f"extra_{name}"] = values[:, None]
    return out


def assert_same(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    assert sorted(got) == sorted(want)
    for name, values in want.items():
        np.testing.assert_array_equal(got[name], values, err_msg=name)


LAYOUTS = {
    "404 degree 0": dict(degree=0),
    "capture degree 3 with normals": dict(degree=3, normals=True),
    "degree 1": dict(degree=1),
    "degree 2, big-endian": dict(degree=2, fmt="binary_big_endian"),
    "doubles and bytes": dict(
        degree=1, types={"x": "double", "rot_2": "double", "f_dc_1": "uchar", "opacity": "int"}
    ),
    "shuffled order": dict(degree=3, shuffle=True),
    "extras": dict(degree=0, extras=("confidence", "segment")),
    "element before the vertices": dict(degree=1, before=True),
}


@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=list(LAYOUTS))
def test_streamed_rows_fill_the_attributes_the_whole_file_reader_implies(
    tmp_path: Path, layout: dict
) -> None:
    columns = splat_columns(N, layout.get("degree", 0), layout.get("normals", False), seed=7)
    for name in layout.get("extras", ()):
        columns[name] = np.arange(N, dtype=np.float32) * 3 + len(name)
    order = list(columns)
    if layout.get("shuffle"):
        order = list(np.random.default_rng(1).permutation(order))
    data = make_ply(
        columns,
        types=layout.get("types"),
        order=order,
        fmt=layout.get("fmt", "binary_little_endian"),
        before=[scalar_element("camera", 2)] if layout.get("before") else (),
    )
    path = tmp_path / "splats.ply"
    path.write_bytes(data)
    source = streamed(path)
    try:
        assert source.count == N
        assert_same(filled(source), expected(data))
    finally:
        source.close()


@pytest.mark.parametrize("up_axis", ["Y", "-Y", "Z"])
def test_every_up_axis_turns_positions_and_keeps_the_file_values(
    tmp_path: Path, up_axis: str
) -> None:
    data = make_ply(splat_columns(N, 1, seed=3))
    path = tmp_path / "splats.ply"
    path.write_bytes(data)
    source = streamed(path)
    assert_same(filled(source, up_axis), expected(data, up_axis))
    source.close()


def test_a_cloud_in_memory_fills_the_same_attributes_as_the_file_streamed(
    tmp_path: Path,
) -> None:
    data = make_ply(splat_columns(N, 3, normals=True, seed=5))
    path = tmp_path / "splats.ply"
    path.write_bytes(data)
    from_disk = streamed(path)
    in_memory = CloudRows(read_ply(data))
    in_memory.block_rows = 77
    assert_same(filled(in_memory), filled(from_disk))
    from_disk.close()


def test_files_that_do_not_stream_are_read_whole(tmp_path: Path) -> None:
    columns = splat_columns(50, 1)
    ascii_path = tmp_path / "ascii.ply"
    ascii_path.write_bytes(make_ply(columns, fmt="ascii"))
    points_path = tmp_path / "points.ply"
    points_path.write_bytes(make_ply({k: columns[k] for k in ("x", "y", "z")}))
    for path in (ascii_path, points_path):
        assert open_ply_rows(path) is None
        source = open_rows(path)
        assert isinstance(source, CloudRows)
        assert source.count == 50
    assert open_rows(points_path).warnings  # the made-up splat size is explained


def test_a_truncated_file_is_refused_before_anything_is_allocated(tmp_path: Path) -> None:
    data = make_ply(splat_columns(N, 0))
    path = tmp_path / "cut.ply"
    path.write_bytes(data[: len(data) - 100])
    with pytest.raises(SplatFormatError, match="truncated"):
        open_ply_rows(path)


def test_a_file_that_shrinks_while_it_is_read_is_an_error_not_garbage(tmp_path: Path) -> None:
    data = make_ply(splat_columns(N, 0))
    path = tmp_path / "shrinking.ply"
    path.write_bytes(data)
    source = streamed(path)
    path.write_bytes(data[: len(data) // 2])  # another program rewrites it meanwhile
    plan, extras, _ = attribute_plan(source)
    out = {a.name: np.zeros((N, a.width), np.float32) for a in plan}
    with pytest.raises(SplatFormatError, match="got shorter"):
        fill(source, out, "Y", extras)
    source.close()


def test_group_copies_move_whole_records_or_cast_column_by_column() -> None:
    rng = np.random.default_rng(0)
    table = rng.standard_normal((500, 14)).astype(np.float32)
    for source in (
        table[:, 10:14],  # float32 side by side: the record copy
        table[:, 10:14].astype(">f4"),  # big-endian: cast per column
        table[:, 10:14].astype(np.float64),  # doubles: cast per column
        table[:, ::4][:, :3],  # not adjacent: per column
    ):
        target = np.zeros((500, source.shape[1]), np.float32)
        copy_group(source, target)
        np.testing.assert_array_equal(target, source.astype(np.float32))


def test_position_axes_are_the_quarter_turns_about_x() -> None:
    assert position_axes("Y") == ((0, 1.0), (2, -1.0), (1, 1.0))
    assert position_axes("-Y") == ((0, 1.0), (2, 1.0), (1, -1.0))
    assert position_axes("Z") == ((0, 1.0), (1, 1.0), (2, 1.0))
