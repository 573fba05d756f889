"""The splat the simulator serves: a small figure whose colours reveal axes and handedness.

Written with numpy alone, independent of the add-on's ``splats`` package, so a bug
there cannot hide itself by being mirrored here. The figure stands in the
gateway's **+Y up** frame: red head on top, green body, blue base at the bottom,
and a yellow nose pointing along file **+Z**. After the add-on's +Y-up → +Z-up
conversion (file (x, y, z) → Blender (x, -z, y)) the head is at Blender +Z and
the nose points to Blender -Y.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

SH_C0 = 0.28209479177387814
"""Degree-0 SH constant: rgb = 0.5 + SH_C0 * f_dc."""

PLY_PROPERTIES = (
    *"xyz",
    *(f"f_dc_{i}" for i in range(3)),
    "opacity",
    *(f"scale_{i}" for i in range(3)),
    *(f"rot_{i}" for i in range(4)),
)
"""404's PLY vertex layout: 14 little-endian float32, no normals, no higher SH."""


@dataclass(frozen=True)
class FigurePart:
    """One coloured part of the figure, in the file's +Y-up frame."""

    name: str
    rgb: tuple[float, float, float]
    centre: tuple[float, float, float]
    share: float
    """Fraction of the Gaussians in this part."""


HEAD = FigurePart("head", (0.9, 0.1, 0.1), (0.0, 0.6, 0.0), 0.32)
BODY = FigurePart("body", (0.1, 0.8, 0.15), (0.0, 0.0, 0.0), 0.30)
BASE = FigurePart("base", (0.1, 0.2, 0.9), (0.0, -0.6, 0.0), 0.30)
NOSE = FigurePart("nose", (0.95, 0.85, 0.1), (0.0, 0.6, 0.3), 0.08)
PARTS: tuple[FigurePart, ...] = (HEAD, BODY, BASE, NOSE)
"""Parts in the order their Gaussians appear in the arrays."""

UP_AXIS = (0.0, 1.0, 0.0)
NOSE_DIRECTION = (0.0, 0.0, 1.0)
"""The nose sticks out of the head along file +Z (Blender -Y after conversion)."""

OPACITY_MEAN = 0.9
SCALE_RANGE = (0.02, 0.04)

_HEAD_RADIUS = 0.2
_BODY_RADIUS = 0.15
_BODY_HALF_HEIGHT = 0.3
_BASE_RADIUS = 0.35
_BASE_HALF_HEIGHT = 0.05
_NOSE_RADIUS = 0.03
_NOSE_Z = (0.22, 0.38)


def _in_ball(rng: np.random.Generator, n: int, radius: float) -> np.ndarray:
    v = rng.normal(size=(n, 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v * (radius * rng.random(n) ** (1 / 3))[:, None]


def _in_cylinder_y(rng: np.random.Generator, n: int, radius: float, half: float) -> np.ndarray:
    """Points in a cylinder around the Y axis."""
    r = radius * np.sqrt(rng.random(n))
    a = rng.random(n) * 2 * np.pi
    return np.column_stack([r * np.cos(a), rng.uniform(-half, half, n), r * np.sin(a)])


def _nose(rng: np.random.Generator, n: int) -> np.ndarray:
    """A thin rod along +Z starting just outside the head's surface."""
    r = _NOSE_RADIUS * np.sqrt(rng.random(n))
    a = rng.random(n) * 2 * np.pi
    x, y, _ = NOSE.centre
    return np.column_stack([x + r * np.cos(a), y + r * np.sin(a), rng.uniform(*_NOSE_Z, n)])


def _part_counts(n: int) -> list[int]:
    counts = [round(p.share * n) for p in PARTS]
    counts[0] += n - sum(counts)
    return counts


def make_figure(n: int = 3000, seed: int = 0) -> dict[str, np.ndarray]:
    """Arrays of the figure, deterministic for (n, seed).

    Keys: ``positions`` (n,3), ``f_dc`` (n,3), ``opacity`` (n,) logits,
    ``log_scales`` (n,3), ``rotations`` (n,4) w,x,y,z (every third one scaled by 2,
    so readers must normalise), ``part`` (n,) index into PARTS. All float32
    except ``part``.
    """
    if n < len(PARTS):
        raise ValueError(f"a figure needs at least {len(PARTS)} Gaussians")
    rng = np.random.default_rng(seed)
    counts = _part_counts(n)
    blocks = [
        _in_ball(rng, counts[0], _HEAD_RADIUS) + HEAD.centre,
        _in_cylinder_y(rng, counts[1], _BODY_RADIUS, _BODY_HALF_HEIGHT) + BODY.centre,
        _in_cylinder_y(rng, counts[2], _BASE_RADIUS, _BASE_HALF_HEIGHT) + BASE.centre,
        _nose(rng, counts[3]),
    ]
    positions = np.concatenate(blocks)
    part = np.repeat(np.arange(len(PARTS)), counts)
    rgb = np.array([p.rgb for p in PARTS])[part]
    f_dc = (rgb - 0.5) / SH_C0
    alpha = np.clip(rng.normal(OPACITY_MEAN, 0.03, n), 0.75, 0.98)
    opacity = np.log(alpha / (1 - alpha))
    log_scales = np.log(rng.uniform(*SCALE_RANGE, size=(n, 3)))
    rotations = rng.normal(size=(n, 4))
    rotations /= np.linalg.norm(rotations, axis=1, keepdims=True)
    rotations[::3] *= 2.0
    f32 = {
        "positions": positions,
        "f_dc": f_dc,
        "opacity": opacity,
        "log_scales": log_scales,
        "rotations": rotations,
    }
    out = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in f32.items()}
    out["part"] = part
    return out


def ply_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """Binary little-endian PLY in 404's layout from ``make_figure``-style arrays."""
    n = len(arrays["positions"])
    table = np.empty((n, len(PLY_PROPERTIES)), dtype="<f4")
    table[:, 0:3] = arrays["positions"]
    table[:, 3:6] = arrays["f_dc"]
    table[:, 6] = arrays["opacity"]
    table[:, 7:10] = arrays["log_scales"]
    table[:, 10:14] = arrays["rotations"]
    header = ["ply", "format binary_little_endian 1.0", f"element vertex {n}"]
    header += [f"property float {name}" for name in PLY_PROPERTIES]
    header.append("end_header")
    return ("\n".join(header) + "\n").encode("ascii") + table.tobytes()


@lru_cache(maxsize=8)
def figure_ply_bytes(n: int = 3000, seed: int = 0) -> bytes:
    """The figure as PLY bytes (cached: every task of a simulator gets the same file)."""
    return ply_bytes(make_figure(n, seed))


def spz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """404's SPZ (one zstd frame around an NGSP version-2 payload, 12 fractional bits,
    degree 0, no frame conversion), written from the spec independently of the add-on."""
    import struct

    import zstandard

    n = len(arrays["positions"])
    fixed = np.round(arrays["positions"].astype(np.float64) * 4096).astype(np.int64)
    pos = (fixed & 0xFFFFFF).astype("<u4").view(np.uint8).reshape(n, 3, 4)[:, :, :3]
    alpha = 1 / (1 + np.exp(-arrays["opacity"].astype(np.float64)))
    colors = (arrays["f_dc"].astype(np.float64) * 0.15 + 0.5) * 255
    scales = (arrays["log_scales"].astype(np.float64) + 10) * 16
    q = arrays["rotations"].astype(np.float64)
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    q = q * np.where(q[:, :1] < 0, -1.0, 1.0)  # w >= 0: only x, y, z are stored
    rot = (q[:, 1:] + 1) * 127.5

    def u8(x: np.ndarray) -> bytes:
        return np.clip(np.round(x), 0, 255).astype(np.uint8).tobytes()

    header = struct.pack("<4sIIBBBB", b"NGSP", 2, n, 0, 12, 0, 0)
    payload = header + pos.tobytes() + u8(alpha * 255) + u8(colors) + u8(scales) + u8(rot)
    return zstandard.ZstdCompressor(level=3).compress(payload)


@lru_cache(maxsize=8)
def figure_spz_bytes(n: int = 3000, seed: int = 0) -> bytes:
    """The figure as 404's SPZ: what the gateway serves by default."""
    return spz_bytes(make_figure(n, seed))


def arrays_of_ply(data: bytes) -> dict[str, np.ndarray]:
    """``make_figure``-style arrays from a binary PLY in 404's 14-float layout (a real 404
    result such as tests/data/real/hamburger.ply, or the figure's own PLY)."""
    end = data.index(b"end_header\n") + len(b"end_header\n")
    header = data[:end].decode("ascii").split("\n")
    names = tuple(line.split()[-1] for line in header if line.startswith("property "))
    if "format binary_little_endian 1.0" not in header or names != PLY_PROPERTIES:
        raise ValueError("the simulator serves binary PLYs in 404's 14-float layout only")
    table = np.frombuffer(data, dtype="<f4", offset=end).reshape(-1, len(PLY_PROPERTIES))
    return {
        "positions": table[:, 0:3],
        "f_dc": table[:, 3:6],
        "opacity": table[:, 6],
        "log_scales": table[:, 7:10],
        "rotations": table[:, 10:14],
    }


@lru_cache(maxsize=4)
def result_spz_bytes(ply: bytes) -> bytes:
    """The SPZ the gateway would serve for the result ``ply``."""
    if ply == figure_ply_bytes():
        return figure_spz_bytes()
    return spz_bytes(arrays_of_ply(ply))
