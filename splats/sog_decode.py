# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Decoding a SOG's images into splats: the maths of ``sog.py``'s format notes.

``read_sog`` checks every image's size (from its header) against the splat count
before anything is decoded, hands each image to the caller's ``decode_webp``,
then turns the texels into a SplatCloud with lookup tables: every stored value
is a byte or a 16-bit code, so each attribute is one table built in float64 as
splat-transform computes it, then gathered, and the results equal its decode.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np

from .cloud import SH_REST_COUNT, SplatCloud, SplatFormatError
from .sog import MAX_SPLATS, SogPackage, WebpDecoder, image_names, meta_numbers, meta_section
from .upright import UPRIGHT

PIXELS_PER_BYTE = 64
PIXELS_ALLOWANCE = 16 << 20
"""Decoded pixels allowed: 64 per byte of WebP data plus 16M, as SPZ's bound on splats."""
PALETTE_ROW = 64
"""Palette entries per row of shN_centroids."""

_SQRT2 = math.sqrt(2.0)
_V1_BANDS = {192: 1, 512: 2, 960: 3}
"""Version 1 has no band count: shN_centroids' width (64 K) gives it."""


# --- WebP sizes, before decoding ---------------------------------------------------------


def webp_size(blob: bytes, image: str = "image") -> tuple[int, int]:
    """(width, height) from a WebP file's header (RIFF 'WEBP' with VP8L, VP8X or VP8)."""
    if len(blob) < 30 or blob[:4] != b"RIFF" or blob[8:12] != b"WEBP":
        raise SplatFormatError(f"{image} is not a WebP image (first bytes {blob[:12]!r}).")
    chunk, body = blob[12:16], blob[20:]
    if chunk == b"VP8L" and body[0] == 0x2F:
        bits = int.from_bytes(body[1:5], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        width = int.from_bytes(body[4:7], "little") + 1
        height = int.from_bytes(body[7:10], "little") + 1
        return width, height
    if chunk == b"VP8 " and body[3:6] == b"\x9d\x01\x2a":
        width, height = struct.unpack_from("<HH", body, 6)
        return width & 0x3FFF, height & 0x3FFF
    raise SplatFormatError(f"{image} has a WebP header this reader does not know ({chunk!r}).")


# --- decoding -----------------------------------------------------------------------------


def read_sog(package: SogPackage, decode_webp: WebpDecoder) -> SplatCloud:
    """Decode a SOG package: the images through ``decode_webp``, then the splats."""
    plan = plan_images(package)
    return decode_sog(package, {image: decode_image(package, image, decode_webp) for image in plan})


def plan_images(package: SogPackage) -> list[str]:
    """The images to decode, after checking every size against the splat count.

    Raises before any decoding when the headers promise images that do not fit
    the count, or more pixels than the file's bytes can honestly hold.
    """
    meta, called = package.meta, f"'{package.name}'"
    count = splat_count(package)
    names = image_names(meta, called)
    per_splat = names[:5] + (names[6:7] if len(names) > 5 else [])
    pixels = 0
    for image in names:
        width, height = webp_size(package.images[image], image)
        pixels += width * height
        if image in per_splat and not count <= width * height <= 2 * count + 65536:
            raise SplatFormatError(
                f"{called}: {image} is {width}x{height}, which does not fit "
                f"{count:,} splats (one texel each)."
            )
    if len(names) > 5:
        width, height = webp_size(package.images[names[5]], names[5])
        if height > 65536 // PALETTE_ROW or width > PALETTE_ROW * 15:
            raise SplatFormatError(
                f"{called}: {names[5]} is {width}x{height}, larger than any SH palette."
            )
    budget = PIXELS_PER_BYTE * sum(len(package.images[image]) for image in names)
    if pixels > budget + PIXELS_ALLOWANCE:
        raise SplatFormatError(
            f"{called}: its images claim {pixels:,} pixels from "
            f"{budget // PIXELS_PER_BYTE:,} bytes, far more than real SOG images hold: refused."
        )
    return names


def splat_count(package: SogPackage) -> int:
    meta, called = package.meta, f"'{package.name}'"
    if package.version == 2:
        count = meta.get("count")
    else:
        shape = meta_section(meta, "means", called).get("shape")
        count = shape[0] if isinstance(shape, list) and shape else None
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise SplatFormatError(f"{called}: meta.json gives no splat count.")
    if count > MAX_SPLATS:
        raise SplatFormatError(
            f"{called} claims {count:,} splats; at most {MAX_SPLATS:,} are read from one SOG."
        )
    if count == 0:
        raise SplatFormatError(f"{called} holds no splats.")
    return count


def decode_image(package: SogPackage, image: str, decode_webp: WebpDecoder) -> np.ndarray:
    """One image through the decoder, checked to be the (H, W, 4) uint8 its header says."""
    blob = package.images[image]
    width, height = webp_size(blob, image)
    try:
        pixels = decode_webp(blob)
    except SplatFormatError:
        raise
    except Exception as exc:
        raise SplatFormatError(f"'{package.name}': {image} could not be decoded ({exc}).") from None
    if pixels.shape != (height, width, 4) or pixels.dtype != np.uint8:
        raise SplatFormatError(
            f"'{package.name}': {image} decoded to {pixels.shape} {pixels.dtype}, "
            f"not the {width}x{height} RGBA its header gives."
        )
    return pixels


def decode_sog(package: SogPackage, pixels: Mapping[str, np.ndarray]) -> SplatCloud:
    """The splats from decoded images (``pixels``: image name -> (H, W, 4) uint8)."""
    meta, called = package.meta, f"'{package.name}'"
    count = splat_count(package)
    names = image_names(meta, called)

    def texels(image: str) -> np.ndarray:
        flat = pixels[image].reshape(-1, 4)  # row-major from the top-left: texel i = splat i
        if len(flat) < count:
            raise SplatFormatError(f"{called}: {image} is too small for {count:,} splats.")
        return flat[:count]

    v2 = package.version == 2
    means = meta_section(meta, "means", called)
    positions = _positions(
        texels(names[0]),
        texels(names[1]),
        meta_numbers(means.get("mins"), 3, "means.mins", called),
        meta_numbers(means.get("maxs"), 3, "means.maxs", called),
    )
    rotations = _rotations(texels(names[2]))

    scales_meta, sh0_meta = meta_section(meta, "scales", called), meta_section(meta, "sh0", called)
    scales, sh0 = texels(names[3]), texels(names[4])
    if v2:
        scale_code = _codebook(scales_meta, "scales", called)
        color_code = _codebook(sh0_meta, "sh0", called)
        log_scales = _lookup_columns([scale_code] * 3, scales)
        sh_dc = _lookup_columns([color_code] * 3, sh0)
        opacity = np.take(_inverse_sigmoid_table(), sh0[:, 3])
    else:
        s_low = meta_numbers(scales_meta.get("mins"), 3, "scales.mins", called)
        s_high = meta_numbers(scales_meta.get("maxs"), 3, "scales.maxs", called)
        c_low = meta_numbers(sh0_meta.get("mins"), 4, "sh0.mins", called)
        c_high = meta_numbers(sh0_meta.get("maxs"), 4, "sh0.maxs", called)
        log_scales = _lookup_columns([_lerp_table(s_low[c], s_high[c]) for c in range(3)], scales)
        sh_dc = _lookup_columns([_lerp_table(c_low[c], c_high[c]) for c in range(3)], sh0)
        opacity = np.take(_lerp_table(c_low[3], c_high[3]), sh0[:, 3])

    sh_rest = np.zeros((count, 0, 3), np.float32)
    sh_meta = meta.get("shN")
    if sh_meta is not None:
        sh_rest = _sh_rest(
            pixels[names[5]], texels(names[6]), meta_section(meta, "shN", called), v2, called
        )
    return SplatCloud(
        positions=positions,
        log_scales=np.ascontiguousarray(log_scales, dtype=np.float32),
        rotations=rotations,
        opacity_logit=np.ascontiguousarray(opacity, dtype=np.float32),
        sh_dc=np.ascontiguousarray(sh_dc, dtype=np.float32),
        sh_rest=sh_rest,
        file_up=UPRIGHT["sog"].file_up,
        file_frame=UPRIGHT["sog"].file_frame,
    )


def _positions(low: np.ndarray, high: np.ndarray, mins: np.ndarray, maxs: np.ndarray) -> np.ndarray:
    """16-bit lerp in log space, undone per axis through a 65536-entry table."""
    steps = np.arange(65536, dtype=np.float64) / 65535
    out = np.empty((len(low), 3), np.float32)
    for axis in range(3):
        span = (maxs[axis] - mins[axis]) or 1.0
        v = mins[axis] + span * steps
        table = (np.sign(v) * np.expm1(np.abs(v))).astype(np.float32)
        code = low[:, axis].astype(np.uint16) | (high[:, axis].astype(np.uint16) << 8)
        np.take(table, code, out=out[:, axis])
    return out


def _rotations(quats: np.ndarray) -> np.ndarray:
    """Smallest-three quaternions (w, x, y, z); an unknown tag gives the identity."""
    value = (np.arange(256, dtype=np.float64) / 255 * 2 - 1) / _SQRT2
    square = value * value
    stored = [np.take(value.astype(np.float32), quats[:, c]) for c in range(3)]
    # 1 - (a² + b² + c²), summed in that order in float64 as splat-transform does.
    rest = np.take(square, quats[:, 0])
    rest += np.take(square, quats[:, 1])
    rest += np.take(square, quats[:, 2])
    np.subtract(1.0, rest, out=rest)
    np.maximum(rest, 0.0, out=rest)
    largest = np.sqrt(rest).astype(np.float32)
    del rest
    tag = quats[:, 3]
    out = np.empty((len(quats), 4), np.float32)
    # Component c is the largest where the tag says c; before it (tag > c) it is
    # stored value c, after it (tag < c) stored value c - 1.
    for c in range(4):
        if c == 0:
            column = stored[0]
        elif c == 3:
            column = stored[2]
        else:
            column = np.where(tag > 252 + c, stored[c], stored[c - 1])
        out[:, c] = np.where(tag == 252 + c, largest, column)
    invalid = tag < 252
    if invalid.any():
        out[invalid] = (1.0, 0.0, 0.0, 0.0)
    return out


def _codebook(section: Mapping[str, Any], key: str, called: str) -> np.ndarray:
    return meta_numbers(section.get("codebook"), 256, f"{key}.codebook", called).astype(np.float32)


def _inverse_sigmoid_table() -> np.ndarray:
    y = np.clip(np.arange(256, dtype=np.float64) / 255, 1e-6, 1 - 1e-6)
    return np.log(y / (1 - y)).astype(np.float32)


def _lerp_table(low: float, high: float) -> np.ndarray:
    return (low + (high - low) * (np.arange(256, dtype=np.float64) / 255)).astype(np.float32)


def _lookup_columns(tables: list[np.ndarray], texels: np.ndarray) -> np.ndarray:
    """(N, len(tables)) float32: column c is ``tables[c]`` at texel channel c."""
    out = np.empty((len(texels), len(tables)), np.float32)
    for c, table in enumerate(tables):
        np.take(table, texels[:, c], out=out[:, c])
    return out


def _sh_rest(
    centroids: np.ndarray, labels: np.ndarray, section: Mapping[str, Any], v2: bool, called: str
) -> np.ndarray:
    """(N, K, 3) higher SH: each splat's palette entry, the palette's bytes through the codebook."""
    height, width = centroids.shape[:2]
    if v2:
        bands = section.get("bands")
        if bands not in (1, 2, 3):
            raise SplatFormatError(f"{called}: meta.json's shN.bands should be 1, 2 or 3.")
        k = SH_REST_COUNT[bands]
        if width != PALETTE_ROW * k:
            raise SplatFormatError(
                f"{called}: shN_centroids is {width} texels wide, not the {PALETTE_ROW * k} "
                f"of a {bands}-band palette."
            )
        palette_count = section.get("count")
        if not isinstance(palette_count, int) or not 0 <= palette_count <= 65536:
            raise SplatFormatError(f"{called}: meta.json's shN.count is not a palette size.")
        table = _codebook(section, "shN", called)
    else:
        bands = _V1_BANDS.get(width, 0)
        if not bands:
            raise SplatFormatError(
                f"{called}: shN centroids {width} texels wide fit no SH band count "
                "(192, 512 or 960 expected)."
            )
        k = SH_REST_COUNT[bands]
        palette_count = (width // k) * height
        low = float(meta_numbers(section.get("mins"), None, "shN.mins", called))
        high = float(meta_numbers(section.get("maxs"), None, "shN.maxs", called))
        table = _lerp_table(low, high)
    # Row r holds entries 64r..64r+63, each K texels: entry p is texels [p, 0..K) here.
    entries = centroids.reshape(height * PALETTE_ROW, k, 4)[:, :, :3]
    if len(entries) < palette_count:  # entries past the image read as byte 0
        pad = np.zeros((palette_count - len(entries), k, 3), np.uint8)
        entries = np.concatenate([entries, pad])
    # The palette as floats plus one row of zeros for labels past the palette.
    palette = np.zeros((palette_count + 1, k * 3), np.float32)
    palette[:palette_count] = table[entries[:palette_count]].reshape(palette_count, k * 3)
    # R | G << 8 is the first little-endian uint16 of each (contiguous) RGBA texel.
    label = np.ascontiguousarray(labels).view("<u2")[:, 0]
    label = np.minimum(label, np.uint16(palette_count) if palette_count < 65536 else 65535)
    out = np.empty((len(labels), k * 3), np.float32)
    np.take(palette, label, axis=0, out=out)
    return out.reshape(len(labels), k, 3)
