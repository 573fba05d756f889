"""PlayCanvas compressed PLY: hand-packed files against the format's formulas, and refusals.

The files here are packed by this test from integer fields, and the expected values
follow from the format's definition in float64 (not from the reader's code). Files
that splat-transform writes, and the real SuperSplat file, are checked value by
value in ``test_real_corpus.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gen404.splats.cloud import SH_C0, SplatFormatError
from gen404.splats.compressed_ply import read_compressed_ply
from gen404.splats.ply import read_ply
from gen404.splats.ply_rows import open_ply_rows
from gen404.splats.reader import open_rows, read_splat_bytes

REAL = Path(__file__).resolve().parents[1] / "data" / "real"

CHUNK = [
    *("min_x", "min_y", "min_z", "max_x", "max_y", "max_z"),
    *("min_scale_x", "min_scale_y", "min_scale_z", "max_scale_x", "max_scale_y", "max_scale_z"),
]
COLOUR = ["min_r", "min_g", "min_b", "max_r", "max_g", "max_b"]
PACKED = ["packed_position", "packed_rotation", "packed_scale", "packed_color"]


class Packed:
    """Random integer fields of n splats and their chunk bounds."""

    def __init__(self, n: int, colour_bounds: bool, rest: int = 0, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.n, self.rest = n, rest
        chunks = -(-n // 256)
        self.pos = rng.integers(0, [2048, 1024, 2048], (n, 3))
        self.scl = rng.integers(0, [2048, 1024, 2048], (n, 3))
        self.rot_largest = rng.integers(0, 4, n)
        self.rot = rng.integers(0, 1024, (n, 3))
        self.rgba = rng.integers(0, 256, (n, 4))
        self.sh = rng.integers(0, 256, (n, 3 * rest))
        lo = rng.uniform(-5, 5, (chunks, 6))
        self.chunk = np.concatenate([lo[:, :3], lo[:, :3] + rng.uniform(0, 3, (chunks, 3))], 1)
        slo = rng.uniform(-9, -2, (chunks, 3))
        self.chunk = np.concatenate([self.chunk, slo, slo + rng.uniform(0, 4, (chunks, 3))], 1)
        if colour_bounds:
            clo = rng.uniform(-0.3, 0.6, (chunks, 3))
            self.chunk = np.concatenate(
                [self.chunk, clo, clo + rng.uniform(0, 0.9, (chunks, 3))], 1
            )
        self.chunk = self.chunk.astype(np.float32)

    def words(self) -> np.ndarray:
        p, s = self.pos.astype(np.uint32), self.scl.astype(np.uint32)
        r, c = self.rot.astype(np.uint32), self.rgba.astype(np.uint32)
        out = np.empty((self.n, 4), dtype="<u4")
        out[:, 0] = (p[:, 0] << 21) | (p[:, 1] << 11) | p[:, 2]
        out[:, 1] = (self.rot_largest.astype(np.uint32) << 30) | (r[:, 0] << 20)
        out[:, 1] |= (r[:, 1] << 10) | r[:, 2]
        out[:, 2] = (s[:, 0] << 21) | (s[:, 1] << 11) | s[:, 2]
        out[:, 3] = (c[:, 0] << 24) | (c[:, 1] << 16) | (c[:, 2] << 8) | c[:, 3]
        return out

    def file(self, **change: object) -> bytes:
        """The file; ``change`` replaces header lines or data parts to fake broken files."""
        chunk_names = CHUNK + (COLOUR if self.chunk.shape[1] == 18 else [])
        parts = {
            "format": "format binary_little_endian 1.0",
            "chunk": f"element chunk {len(self.chunk)}\n"
            + "".join(f"property float {name}\n" for name in chunk_names),
            "vertex": f"element vertex {self.n}\n"
            + "".join(f"property uint {name}\n" for name in PACKED),
            "sh": (
                f"element sh {self.n}\n"
                + "".join(f"property uchar f_rest_{i}\n" for i in range(3 * self.rest))
                if self.rest
                else ""
            ),
            "chunk_data": self.chunk.astype("<f4").tobytes(),
            "vertex_data": self.words().tobytes(),
            "sh_data": self.sh.astype(np.uint8).tobytes(),
        }
        parts.update(change)  # type: ignore[arg-type]
        header = f"ply\n{parts['format']}\ncomment test\n{parts['chunk']}{parts['vertex']}"
        header += f"{parts['sh']}end_header\n"
        data = parts["chunk_data"] + parts["vertex_data"] + parts["sh_data"]  # type: ignore[operator]
        return header.encode("ascii") + data

    def expected(self) -> dict[str, np.ndarray]:
        """What the format defines, in float64."""
        at = np.arange(self.n) // 256
        b = self.chunk.astype(np.float64)[at]
        bits = np.array([2047.0, 1023.0, 2047.0])
        pos = b[:, 0:3] + self.pos / bits * (b[:, 3:6] - b[:, 0:3])
        scl = b[:, 6:9] + self.scl / bits * (b[:, 9:12] - b[:, 6:9])
        others = (self.rot / 1023 - 0.5) * np.sqrt(2)
        big = np.sqrt(np.maximum(0, 1 - (others**2).sum(1)))
        rot = np.empty((self.n, 4))
        for i in range(self.n):
            rest = list(others[i])
            rest.insert(int(self.rot_largest[i]), big[i])
            rot[i] = rest
        rgb = self.rgba[:, :3] / 255
        if self.chunk.shape[1] == 18:
            rgb = b[:, 12:15] + rgb * (b[:, 15:18] - b[:, 12:15])
        alpha = np.clip(self.rgba[:, 3] / 255, 1e-6, 1 - 1e-6)
        frac = np.where(self.sh == 0, 0, np.where(self.sh == 255, 1, (self.sh + 0.5) / 256))
        sh = ((frac - 0.5) * 8).reshape(self.n, 3, self.rest).transpose(0, 2, 1)
        return {
            "positions": pos,
            "log_scales": scl,
            "rotations": rot,
            "sh_dc": (rgb - 0.5) / SH_C0,
            "opacity_logit": np.log(alpha / (1 - alpha)),
            "sh_rest": sh,
        }


@pytest.mark.parametrize(
    ("n", "colour_bounds", "rest"),
    [
        (1, False, 0),
        (256, False, 0),
        (700, True, 0),
        (513, True, 3),
        (300, True, 8),
        (1000, True, 15),
    ],
)
def test_packed_fields_decode_as_the_format_defines(n: int, colour_bounds: bool, rest: int) -> None:
    packed = Packed(n, colour_bounds, rest, seed=n)
    cloud = read_ply(packed.file())
    assert cloud.count == n and cloud.sh_rest.shape == (n, rest, 3) and not cloud.warnings
    for name, want in packed.expected().items():
        got = getattr(cloud, name)
        assert got.dtype == np.float32 and got.flags.c_contiguous, name
        scale = max(float(np.abs(want).max()) if want.size else 1.0, 1.0)
        # float32 arithmetic; the rebuilt largest quaternion component, sqrt(1 - s), loses
        # more where s nears 1 (random fields reach it; real rotations hardly do).
        atol = 3e-6 if name == "rotations" else 4e-7 * scale
        np.testing.assert_allclose(got, want, rtol=0, atol=atol, err_msg=name)


def test_every_entry_point_reads_it_whole(tmp_path: Path) -> None:
    path = tmp_path / "scene.compressed.ply"
    path.write_bytes(Packed(600, True, 3).file())
    assert open_ply_rows(path) is None  # the streamed binary path declines it
    rows = open_rows(path)
    try:
        assert rows.count == 600 and rows.sh_degree == 1
    finally:
        rows.close()
    assert read_splat_bytes(path.read_bytes(), path.name).count == 600


def test_the_real_early_supersplat_file_reads() -> None:
    data = (REAL / "angel.compressed.ply").read_bytes()
    cloud = read_splat_bytes(data, "angel.compressed.ply")
    assert cloud.count == 71_377 and cloud.sh_degree == 0 and not cloud.warnings
    for arr in (cloud.positions, cloud.log_scales, cloud.rotations, cloud.sh_dc):
        assert np.isfinite(arr).all()
    norms = np.linalg.norm(cloud.rotations, axis=1)
    assert np.allclose(norms, 1, atol=2e-3)


def _header_swap(packed: Packed, old: str, new: str) -> bytes:
    data = packed.file()
    end = data.index(b"end_header\n")
    return data[:end].replace(old.encode(), new.encode()) + data[end:]


BROKEN = {
    "truncated": lambda p: p.file()[:-100],
    "huge claim": lambda p: p.file(
        vertex=f"element vertex {10**9}\n" + "".join(f"property uint {name}\n" for name in PACKED)
    ),
    "no chunk element": lambda p: p.file(chunk="", chunk_data=b""),
    "too few chunks": lambda p: p.file(
        chunk="element chunk 1\n" + "".join(f"property float {n}\n" for n in CHUNK + COLOUR),
        chunk_data=p.chunk[:1].tobytes(),
    ),
    "missing packed_scale": lambda p: _header_swap(
        p, "property uint packed_scale", "property uint other"
    ),
    "short packed type": lambda p: _header_swap(
        p, "property uint packed_color", "property ushort packed_color"
    ),
    "missing bound": lambda p: _header_swap(
        p, "property float max_scale_y", "property float something"
    ),
    "half the colour bounds": lambda p: _header_swap(
        p, "property float max_g", "property float other"
    ),
    "ascii": lambda p: p.file(format="format ascii 1.0"),
    "big endian": lambda p: p.file(format="format binary_big_endian 1.0"),
    "sh of 10 bytes": lambda p: p.file(
        sh=f"element sh {p.n}\n" + "".join(f"property uchar f_rest_{i}\n" for i in range(10)),
        sh_data=bytes(10 * p.n),
    ),
    "sh count differs": lambda p: _header_swap(p, f"element sh {p.n}", f"element sh {p.n - 1}"),
    "sh as floats": lambda p: _header_swap(p, "property uchar f_rest_0", "property float f_rest_0"),
    "sh misnamed": lambda p: _header_swap(p, "property uchar f_rest_3\n", "property uchar red\n"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_compressed_ply_is_refused_naming_the_format(case: str) -> None:
    data = BROKEN[case](Packed(300, True, 3))
    with pytest.raises(SplatFormatError, match="compressed PLY") as caught:
        read_splat_bytes(data, "scene.ply")
    assert "x, y, z" not in str(caught.value)


def test_packed_vertices_without_positions_or_chunks_get_the_compressed_message() -> None:
    """A vertex element with only some packed properties and no chunk element."""
    words = np.zeros((4, 2), dtype="<u4")
    data = (
        b"ply\nformat binary_little_endian 1.0\nelement vertex 4\n"
        b"property uint packed_rotation\nproperty uint packed_color\nend_header\n" + words.tobytes()
    )
    with pytest.raises(SplatFormatError, match=r"compressed PLY.*no 'chunk'"):
        read_ply(data)


def test_a_plain_ply_with_a_chunk_element_is_still_plain() -> None:
    """x, y, z and no packed_position: not compressed, whatever else the header holds."""
    header = (
        "ply\nformat binary_little_endian 1.0\nelement chunk 0\nproperty float min_x\n"
        "element vertex 2\nproperty float x\nproperty float y\nproperty float z\nend_header\n"
    )
    cloud = read_ply(header.encode() + np.arange(6, dtype="<f4").tobytes())
    assert cloud.count == 2 and np.array_equal(cloud.positions.ravel(), np.arange(6))


def test_extra_vertex_properties_are_ignored_and_named() -> None:
    packed = Packed(10, True)
    vertex = np.zeros(10, dtype=[("w", "<u4", 4), ("extra", "<f4")])
    vertex["w"] = packed.words()
    data = packed.file(
        vertex="element vertex 10\n"
        + "".join(f"property uint {name}\n" for name in PACKED)
        + "property float extra\n",
        vertex_data=vertex.tobytes(),
    )
    cloud = read_compressed_ply(data)
    np.testing.assert_allclose(cloud.positions, packed.expected()["positions"], atol=1e-5)
    assert cloud.warnings and "extra" in cloud.warnings[0]
