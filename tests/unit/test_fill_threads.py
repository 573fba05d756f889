"""Filling Blender's attributes from several threads: the same values, in order, and
the first failure raised on the calling thread (``prepare.fill_blocks``)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from gen404.scene import native_prepare, prepare
from gen404.scene.prepare import fill_blocks
from gen404.splats.ply_rows import open_ply_rows
from gen404.splats.rows import RowSource

from tests.unit.plyfiles import make_ply, splat_columns

N = 5000
ROWS_PER_BLOCK = 97


def native_fill(path: Path, workers: int, monkeypatch: pytest.MonkeyPatch, native: bool = True):
    """The attributes of the PLY at ``path`` (Blender 5.3's own splats, or the mesh of the
    geometry-nodes display) filled by ``workers`` threads, the rows found not finite,
    and the threads that read blocks."""
    source = open_ply_rows(path)
    assert source is not None
    source.block_rows = ROWS_PER_BLOCK
    readers: set[int] = set()
    block = source.block

    def recorded(start: int, stop: int):
        readers.add(threading.get_ident())
        return block(start, stop)

    source.block = recorded  # type: ignore[method-assign]
    monkeypatch.setattr(prepare, "FILL_WORKERS", workers)
    plan, extras, _ = (native_prepare.native_plan if native else prepare.attribute_plan)(source)
    out = {a.name: np.full((N, a.width), np.nan, np.float32) for a in plan}
    if native:
        bad = native_prepare.fill_native(source, out, extras)
    else:
        bad = prepare.fill(source, out, "Y", extras)
    source.close()
    return out, bad, readers


@pytest.mark.parametrize("native", [True, False], ids=["native splats", "mesh"])
def test_several_threads_fill_exactly_what_one_does(
    tmp_path: Path, monkeypatch, native: bool
) -> None:
    columns = splat_columns(N, degree=3, seed=5)
    rng = np.random.default_rng(5)
    for axis in range(3):  # log scales whose exp fits in float32
        columns[f"scale_{axis}"] = rng.uniform(-6, 1, N).astype(np.float32)
    columns["scale_1"][[10, 4000]] = np.float32(200.0)  # exp overflows: not finite
    columns["x"][2500] = np.nan
    path = tmp_path / "splats.ply"
    path.write_bytes(make_ply(columns))
    one, bad_one, readers_one = native_fill(path, 1, monkeypatch, native)
    many, bad_many, readers_many = native_fill(path, 3, monkeypatch, native)
    assert len(readers_one) == 1 and len(readers_many) > 1  # blocks read on helper threads
    assert sorted(one) == sorted(many)
    for name in one:
        np.testing.assert_array_equal(many[name], one[name], err_msg=name)
    # In order; the mesh keeps log scales as stored, so only 5.3's exp overflows.
    assert bad_many.tolist() == bad_one.tolist() == ([10, 2500, 4000] if native else [2500])


class Blocks:
    """Just enough of a RowSource for fill_blocks: a count and a block size."""

    def __init__(self, count: int, block_rows: int) -> None:
        self.count, self.block_rows = count, block_rows


def test_the_first_failure_stops_the_others_and_is_raised_here() -> None:
    done: list[int] = []
    lock = threading.Lock()

    def fill_rows(start: int, stop: int) -> np.ndarray:
        if start == 300:
            raise ValueError("block 3 is broken")
        with lock:
            done.append(start)
        return np.empty(0, np.int64)

    source: RowSource = Blocks(10_000, 100)  # type: ignore[assignment]
    with pytest.raises(ValueError, match="block 3 is broken"):
        fill_blocks(source, fill_rows, workers=2)
    assert len(done) < 99  # the blocks after the failure were left alone


def test_rows_from_every_block_come_back_in_block_order() -> None:
    def fill_rows(start: int, stop: int) -> np.ndarray:
        return np.array([start, stop - 1], np.int64)

    source: RowSource = Blocks(1000, 64)  # type: ignore[assignment]
    found = fill_blocks(source, fill_rows, workers=4)
    assert found.tolist() == sorted(found.tolist()) and found[-1] == 999
