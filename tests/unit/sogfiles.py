"""SOG test files: Pillow's WebP codec as the reference decoder, a version-1 writer, zips.

splat-transform 3.7.0 writes SOG version 2 only (its writer hard-codes
``version: 2``), so version-1 files are written here from the format's facts
(docs in splats/sog.py: per-channel mins/maxs, 8-bit lerps, a palette whose band
count follows from its width), with their own quantisation, never through the
reader under test. Images are lossless WebP from Pillow with ``exact=True``
(RGB kept under transparent alpha, as SOG needs: its sh0 alpha is opacity).
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from tests.unit.spzfiles import Splats

SQRT2 = math.sqrt(2.0)


def pillow_webp(data: bytes) -> np.ndarray:
    """The reference decode_webp: Pillow (libwebp), (H, W, 4) uint8, top row first."""
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGBA"))


def webp_bytes(rgba: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgba), "RGBA").save(
        out, "WEBP", lossless=True, exact=True, method=0
    )
    return out.getvalue()


def texture_size(n: int) -> tuple[int, int]:
    """splat-transform's texture size for n splats: width, height multiples of 4."""
    width = math.ceil(math.sqrt(n) / 4) * 4
    return width, math.ceil(n / width / 4) * 4


def _image(n: int, channels: list[np.ndarray], alpha: np.ndarray | int = 255) -> bytes:
    width, height = texture_size(n)
    rgba = np.zeros((width * height, 4), np.uint8)
    for c, values in enumerate(channels):
        rgba[:n, c] = values
    rgba[:n, 3] = alpha
    return webp_bytes(rgba.reshape(height, width, 4))


def _bytes_between(values: np.ndarray, low: float, high: float) -> np.ndarray:
    span = (high - low) or 1.0
    return np.clip(np.rint((values - low) / span * 255), 0, 255).astype(np.uint8)


def sog_v1_files(s: Splats) -> dict[str, bytes]:
    """A version-1 SOG of ``s`` (SH degree 0-3) as file name -> bytes, meta.json included."""
    n, k = s.count, s.sh.shape[1]
    files: dict[str, bytes] = {}
    meta: dict[str, object] = {}

    logs = np.sign(s.positions) * np.log1p(np.abs(s.positions.astype(np.float64)))
    mins, maxs = logs.min(axis=0), logs.max(axis=0)
    codes = np.rint((logs - mins) / (maxs - mins) * 65535).astype(np.uint16)
    files["means_l.webp"] = _image(n, [codes[:, a] & 0xFF for a in range(3)])
    files["means_u.webp"] = _image(n, [codes[:, a] >> 8 for a in range(3)])
    meta["means"] = {
        "shape": [n, 3],
        "dtype": "float32",
        "mins": mins.tolist(),
        "maxs": maxs.tolist(),
        "files": ["means_l.webp", "means_u.webp"],
    }

    q = s.rotations.astype(np.float64)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    largest = np.argmax(np.abs(q), axis=1)
    q *= np.where(q[np.arange(n), largest] < 0, -1.0, 1.0)[:, None]
    others = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])[largest]
    stored = np.take_along_axis(q, others, axis=1) * SQRT2
    quat_bytes = np.clip(np.rint((stored * 0.5 + 0.5) * 255), 0, 255).astype(np.uint8)
    files["quats.webp"] = _image(n, list(quat_bytes.T), 252 + largest.astype(np.uint8))
    meta["quats"] = {"shape": [n, 4], "dtype": "uint8", "encoding": "quaternion_packed"}
    meta["quats"]["files"] = ["quats.webp"]  # type: ignore[index]

    def lerped(section: str, columns: np.ndarray) -> list[np.ndarray]:
        lows, highs = columns.min(axis=0), columns.max(axis=0)
        meta[section] = {
            "shape": [n, columns.shape[1]],
            "dtype": "float32",
            "mins": lows.tolist(),
            "maxs": highs.tolist(),
            "files": [f"{section}.webp"],
        }
        return [_bytes_between(columns[:, c], lows[c], highs[c]) for c in range(columns.shape[1])]

    files["scales.webp"] = _image(n, lerped("scales", s.log_scales))
    colour = lerped("sh0", np.concatenate([s.f_dc, s.opacity[:, None]], axis=1))
    files["sh0.webp"] = _image(n, colour[:3], colour[3])

    if k:
        # One palette entry per splat: entry p at row p // 64, columns (p % 64) K ...
        low, high = float(s.sh.min()), float(s.sh.max())
        rows = math.ceil(n / 64)
        palette = np.zeros((rows * 64, k, 4), np.uint8)
        palette[:n, :, :3] = _bytes_between(s.sh, low, high)
        palette[:, :, 3] = 255
        files["shN_centroids.webp"] = webp_bytes(palette.reshape(rows, 64 * k, 4))
        labels = np.arange(n)
        files["shN_labels.webp"] = _image(n, [labels & 0xFF, labels >> 8])
        meta["shN"] = {
            "shape": [n, 3 * k],
            "dtype": "float32",
            "mins": low,
            "maxs": high,
            "quantization": 8,
            "files": ["shN_centroids.webp", "shN_labels.webp"],
        }
    files["meta.json"] = json.dumps(meta).encode()
    return files


def v1_tolerances(s: Splats) -> dict[str, float]:
    """Half a quantisation step of each field of sog_v1_files(s)."""

    def half_step(values: np.ndarray) -> float:
        return float(values.max() - values.min()) / 255 / 2 + 1e-6

    logs = np.log1p(np.abs(s.positions.astype(np.float64)))
    log_step = float(np.max(np.ptp(np.sign(s.positions) * logs, axis=0))) / 65535
    return {
        "positions": log_step * float(np.exp(logs.max()) + 1e-6),
        "log_scales": max(half_step(s.log_scales[:, a]) for a in range(3)),
        "sh_dc": max(half_step(s.f_dc[:, c]) for c in range(3)),
        "opacity": half_step(s.opacity),
        "sh": half_step(s.sh) if s.sh.size else 0.0,
    }


def zip_bytes(
    entries: dict[str, bytes] | list[tuple[str, bytes]], method: int = zipfile.ZIP_STORED
) -> bytes:
    """A zip of ``entries`` in order, names exactly as given (duplicates allowed)."""
    import warnings

    out = io.BytesIO()
    items = entries.items() if isinstance(entries, dict) else entries
    with warnings.catch_warnings(), zipfile.ZipFile(out, "w", method) as archive:
        warnings.simplefilter("ignore")  # zipfile warns of duplicate names
        for name, data in items:
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return out.getvalue()


def folder_files(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


def with_webp_size(blob: bytes, width: int, height: int) -> bytes:
    """A lossless WebP whose header claims another size (its pixels stay as they were)."""
    assert blob[12:16] == b"VP8L" and blob[20] == 0x2F
    bits = int.from_bytes(blob[21:25], "little")
    bits = (bits & ~0x0FFFFFFF) | (width - 1) | ((height - 1) << 14)
    return blob[:21] + bits.to_bytes(4, "little") + blob[25:]
