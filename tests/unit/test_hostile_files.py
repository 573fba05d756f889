"""Files made to exhaust time or memory are refused or read within bounds.

Each case is one a security review reproduced against the readers: a PLY header
with tens of thousands of properties, an ASCII PLY whose small claim hides a
huge tail, a file whose every property would become a Blender attribute.
"""

from __future__ import annotations

import time
import tracemalloc
from types import SimpleNamespace

import numpy as np
import pytest
from gen404.scene.prepare import MAX_EXTRAS, attribute_plan, non_finite_rows
from gen404.splats.cloud import SplatFormatError
from gen404.splats.ply import read_ply
from gen404.splats.rows import CloudRows, rows_except

from tests.unit.plyfiles import make_ply, splat_columns

NAMES = "x y z f_dc_0 f_dc_1 f_dc_2 opacity scale_0 scale_1 scale_2 rot_0 rot_1 rot_2 rot_3"


def test_a_duplicate_among_thousands_of_properties_is_found_at_once() -> None:
    """The check was quadratic: 32k properties took ~30-40 s just to refuse the file."""
    props = "".join(f"property float p{i}\n" for i in range(32768)) + "property float p5\n"
    data = ("ply\nformat binary_little_endian 1.0\nelement vertex 1\n" + props).encode()
    data += b"end_header\n"
    started = time.perf_counter()
    with pytest.raises(SplatFormatError, match="'p5' appears twice"):
        read_ply(data)
    assert time.perf_counter() - started < 5  # ~0.1 s; it was ~300 times that


def test_an_ascii_claim_of_one_splat_reads_one_line_not_the_tail() -> None:
    """1 vertex with 100 MB after it was parsed whole (8-15 s, 165-600 MiB)."""
    head = "ply\nformat ascii 1.0\nelement vertex 1\n"
    head += "".join(f"property float {n}\n" for n in NAMES.split()) + "end_header\n"
    data = (head + " ".join(["0.5"] * 14) + "\n").encode() + b"1.25 2.5 3.75\n" * 7_000_000
    tracemalloc.start()
    try:
        cloud = read_ply(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert cloud.count == 1 and float(cloud.positions[0, 0]) == 0.5
    assert peak < 2_000_000  # the tail (~100 MB) is never copied or parsed


def test_ascii_records_over_several_lines_still_read() -> None:
    """Not what PLY writers do, but readers accept it: the fallback parses the whole text."""
    head = "ply\nformat ascii 1.0\nelement vertex 2\n"
    head += "".join(f"property float {n}\n" for n in NAMES.split()) + "end_header\n"
    values = [str(v) for v in range(28)]
    body = "\n".join(" ".join(values[i : i + 7]) for i in range(0, 28, 7)) + "\n"
    cloud = read_ply((head + body).encode())
    assert cloud.count == 2 and cloud.positions[1].tolist() == [14.0, 15.0, 16.0]


def test_thousands_of_extra_properties_keep_the_first_ones_and_say_so() -> None:
    """Each extra becomes a Blender attribute: 8,000 took 5.3 s on the main thread."""
    extras = tuple(f"feature_{i}" for i in range(8000))
    source = SimpleNamespace(sh_degree=0, has_normals=False, extra_names=extras)
    plan, kept, warnings = attribute_plan(source)  # type: ignore[arg-type]
    assert list(kept) == list(extras[:MAX_EXTRAS])
    assert len(plan) == 5 + MAX_EXTRAS
    assert warnings == [
        f"The file has 8,000 extra properties; the first {MAX_EXTRAS} were kept as "
        f"attributes and {8000 - MAX_EXTRAS:,} were dropped ('feature_{MAX_EXTRAS}' onwards)."
    ]


def test_non_finite_rows_finds_nan_and_infinity_but_not_big_finite_values() -> None:
    out = {"a": np.zeros((10, 3), np.float32), "b": np.zeros((10, 1), np.float32)}
    out["a"][:, 0] = 3e38  # finite, though their sum overflows: not a broken row
    assert non_finite_rows(out, ["a", "b"], 0, 10).tolist() == []
    out["a"][4, 2] = np.nan
    out["b"][7, 0] = -np.inf
    assert non_finite_rows(out, ["a", "b"], 0, 10).tolist() == [4, 7]
    assert non_finite_rows(out, ["a", "b"], 5, 10).tolist() == [7]
    assert non_finite_rows(out, ["a"], 5, 10).tolist() == []


def test_rows_except_keeps_every_other_row_in_order() -> None:
    cloud = read_ply(make_ply(splat_columns(40, degree=1, normals=True)))
    kept = rows_except(_SmallBlocks(cloud), np.array([0, 5, 39]))
    assert kept.count == 37
    np.testing.assert_array_equal(kept.positions, np.delete(cloud.positions, [0, 5, 39], axis=0))
    np.testing.assert_array_equal(kept.sh_rest, np.delete(cloud.sh_rest, [0, 5, 39], axis=0))
    assert kept.normals is not None and len(kept.normals) == 37


class _SmallBlocks(CloudRows):
    block_rows = 7  # rows cross block boundaries


def test_a_result_claiming_more_splats_than_any_404_result_is_not_decoded(tmp_path) -> None:
    """Downloads from the gateway: refused above 404's own limit, before decoding."""
    import struct

    import zstandard
    from gen404.client.glb import MAX_RESULT_SPLATS, read_result

    count = MAX_RESULT_SPLATS + 1
    head = "ply\nformat binary_little_endian 1.0\n" + f"element vertex {count}\n"
    head += "".join(f"property float {n}\n" for n in NAMES.split()) + "end_header\n"
    ply = tmp_path / "result.ply"
    ply.write_bytes(head.encode() + bytes(56 * 1000))
    spz = tmp_path / "result.spz"
    payload = struct.pack("<4sIIBBBB", b"NGSP", 2, count, 0, 12, 0, 0) + bytes(1000)
    spz.write_bytes(zstandard.ZstdCompressor().compress(payload))
    for path in (ply, spz):
        with pytest.raises(SplatFormatError, match="no 404 result has more than 10,000,000"):
            read_result(path)
    fine = tmp_path / "fine.ply"
    fine.write_bytes(make_ply(splat_columns(10)))
    assert read_result(fine).count == 10  # type: ignore[union-attr]
