# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Decoding a SOG's images into splats, the images through the caller's WebP decoder.

``read_sog`` checks every image's size (from its header) and meta.json's numbers
before anything is decoded, then hands the images one by one to the caller's
``decode_webp`` on the calling thread, while a helper thread turns each decoded
image into splat values (``sog_tables.py``: lookup tables built as
splat-transform computes them, so the results equal its decode). Blender's
image loader, the add-on's decoder, runs on the main thread and holds the GIL;
numpy's gathers release it, so the two overlap on two cores.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from . import sog_tables
from .cloud import SH_REST_COUNT, SplatCloud, SplatFormatError
from .sog import MAX_SPLATS, SogPackage, WebpDecoder, image_names, meta_numbers, meta_section
from .upright import UPRIGHT

PIXELS_PER_BYTE = 64
PIXELS_ALLOWANCE = 16 << 20
"""Decoded pixels allowed: 64 per byte of WebP data plus 16M, as SPZ's bound on splats."""
PALETTE_ROW = 64
"""Palette entries per row of shN_centroids."""

_V1_BANDS = {192: 1, 512: 2, 960: 3}
"""Version 1 has no band count: shN_centroids' width (64 K) gives it."""

MEANS_L, MEANS_U, QUATS, SCALES, SH0, CENTROIDS, LABELS = range(7)
"""Each image's role: its index in ``sog.image_names``."""
DECODE_ORDER = (CENTROIDS, LABELS, QUATS, MEANS_L, MEANS_U, SH0, SCALES)
"""The SH palette first (its gather is the longest step, done while the other
images decode), a short step last (nothing overlaps the last image's step)."""


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
    """Decode a SOG package: the images through ``decode_webp``, then the splats.

    ``decode_webp`` runs on the calling thread, one image after another (Blender's
    loader may only run on the main thread: a worker reaches it through
    ``main_thread.MainThreadCalls``), while a helper thread computes each decoded
    image's splat values. Once every image is decoded, the calling thread takes
    the steps the helper has not started, from the last one back, so the two
    finish together.
    """
    plan_images(package)
    splats = SogSplats(package)
    steps: list[tuple[Future[None], int, np.ndarray]] = []
    with ThreadPoolExecutor(1, thread_name_prefix="gen404 SOG") as helper:
        try:
            touching = helper.submit(splats.touch)  # while the first image decodes
            for role in splats.order:
                pixels = decode_image(package, splats.names[role], decode_webp)
                steps.append((helper.submit(splats.add, role, pixels), role, pixels))
            if not touching.cancel():  # started: done before this thread writes anything
                touching.result()
            for step, role, pixels in reversed(steps):
                if step.cancel():  # not started: this thread's now
                    splats.add(role, pixels)
            for step, _, _ in steps:
                if not step.cancelled():
                    step.result()  # raises what the step raised
        except BaseException:
            touching.cancel()
            for step, _, _ in steps:
                step.cancel()
            raise
    return splats.cloud()


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


class SogSplats:
    """A SOG's splats, filled one decoded image at a time (any order; ``order`` is the best).

    Everything meta.json says is read and checked here, before any image is
    decoded, so a broken file fails fast. ``add`` runs the steps of one image
    (two for positions and the SH: means_l waits for means_u, the palette for its
    labels); ``cloud`` gives the result once every image is in.
    """

    def __init__(self, package: SogPackage) -> None:
        meta, called = package.meta, f"'{package.name}'"
        self.called = called
        self.count = splat_count(package)
        self.names = image_names(meta, called)
        self.order = [role for role in DECODE_ORDER if role < len(self.names)]
        means = meta_section(meta, "means", called)
        self.mins = meta_numbers(means.get("mins"), 3, "means.mins", called)
        self.maxs = meta_numbers(means.get("maxs"), 3, "means.maxs", called)
        scales, sh0 = meta_section(meta, "scales", called), meta_section(meta, "sh0", called)
        if package.version == 2:
            self.scale_tables = [_codebook(scales, "scales", called)] * 3
            self.color_tables = [_codebook(sh0, "sh0", called)] * 3
            self.opacity_table = sog_tables.inverse_sigmoid_table()
        else:
            s_low = meta_numbers(scales.get("mins"), 3, "scales.mins", called)
            s_high = meta_numbers(scales.get("maxs"), 3, "scales.maxs", called)
            c_low = meta_numbers(sh0.get("mins"), 4, "sh0.mins", called)
            c_high = meta_numbers(sh0.get("maxs"), 4, "sh0.maxs", called)
            self.scale_tables = [sog_tables.lerp_table(s_low[c], s_high[c]) for c in range(3)]
            self.color_tables = [sog_tables.lerp_table(c_low[c], c_high[c]) for c in range(3)]
            self.opacity_table = sog_tables.lerp_table(c_low[3], c_high[3])
        self.k, self.palette_count, self.sh_table = 0, 0, np.zeros(256, np.float32)
        if len(self.names) > CENTROIDS:
            width, height = webp_size(package.images[self.names[CENTROIDS]])
            self.k, self.palette_count, self.sh_table = _palette_plan(
                meta_section(meta, "shN", called), package.version == 2, width, height, called
            )
        n = self.count
        shapes = {"positions": 3, "log_scales": 3, "rotations": 4, "sh_dc": 3, "opacity": 1}
        shapes |= {"sh_rest": self.k * 3} if self.k else {}
        self._out = {key: np.empty((n, width), np.float32) for key, width in shapes.items()}
        self.values: dict[str, np.ndarray] = {}
        self._held: dict[int, np.ndarray] = {}
        self._lock = threading.Lock()

    def touch(self) -> None:
        """Write the SH array once: the kernel hands out fresh memory page by page on
        first write (180 MB for a million splats of degree 3), and done here, while the
        first images decode, it no longer slows the palette gather (one numpy call,
        which lets go of the GIL). It must end before any step writes the array: the
        helper runs it first, and ``read_sog`` waits for it before its own steps."""
        if "sh_rest" in self._out:
            self._out["sh_rest"].fill(0.0)

    def add(self, role: int, pixels: np.ndarray) -> None:
        """The splat values of one decoded image, (H, W, 4) uint8 as ``decode_image`` gives.

        Thread-safe: two threads may add different images at once.
        """
        n = self.count
        if role == CENTROIDS:
            # Row r holds entries 64r..64r+63, each K texels: entry p is texels [p, 0..K) here.
            entries = pixels.reshape(len(pixels) * PALETTE_ROW, self.k, 4)
            part = sog_tables.palette(entries, self.palette_count, self.sh_table)
        else:
            flat = pixels.reshape(-1, 4)  # row-major from the top-left: texel i = splat i
            if len(flat) < n:
                raise SplatFormatError(
                    f"{self.called}: {self.names[role]} is too small for {n:,} splats."
                )
            part = flat[:n]
        if role == QUATS:
            self._put("rotations", lambda out: sog_tables.rotations(part, out))
        elif role == SCALES:
            self._put("log_scales", lambda out: sog_tables.lookup(self.scale_tables, part, out))
        elif role == SH0:
            colors, alpha = self.color_tables, [self.opacity_table]
            self._put("sh_dc", lambda out: sog_tables.lookup(colors, part, out))
            self._put("opacity", lambda out: sog_tables.lookup(alpha, part[:, 3:], out))
        elif role in (MEANS_L, MEANS_U):
            means = self._pair(role, part, MEANS_L, MEANS_U)
            if means is not None:
                low, high = means
                tables = sog_tables.position_tables(self.mins, self.maxs)
                self._put("positions", lambda out: sog_tables.positions(low, high, tables, out))
        else:
            sh = self._pair(role, part, CENTROIDS, LABELS)
            if sh is not None:
                palette, labels = sh
                self._put(
                    "sh_rest",
                    lambda out: sog_tables.gather_sh(palette, labels, out),
                )

    def _pair(
        self, role: int, part: np.ndarray, first: int, second: int
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Both halves of a two-image step once the second is in (else None: it waits)."""
        with self._lock:
            self._held[role] = part
            if first in self._held and second in self._held:
                return self._held.pop(first), self._held.pop(second)
        return None

    def _put(self, key: str, fill: Callable[[np.ndarray], None]) -> None:
        """``fill`` writes ``key``'s values into its array (made, in its shape, up front)."""
        out = self._out[key]
        fill(out)
        with self._lock:
            self.values[key] = out

    def cloud(self) -> SplatCloud:
        """The SplatCloud, once ``add`` has had every image."""
        values = self.values
        n = self.count
        sh_rest = values.get("sh_rest", np.zeros((n, 0, 3), np.float32)).reshape(n, -1, 3)
        return SplatCloud(
            positions=values["positions"],
            log_scales=values["log_scales"],
            rotations=values["rotations"],
            opacity_logit=values["opacity"].reshape(n),
            sh_dc=values["sh_dc"],
            sh_rest=sh_rest,
            file_up=UPRIGHT["sog"].file_up,
            file_frame=UPRIGHT["sog"].file_frame,
        )


def _codebook(section: dict[str, Any], key: str, called: str) -> np.ndarray:
    return meta_numbers(section.get("codebook"), 256, f"{key}.codebook", called).astype(np.float32)


def _palette_plan(
    section: dict[str, Any], v2: bool, width: int, height: int, called: str
) -> tuple[int, int, np.ndarray]:
    """(K, palette entries, byte table) of the higher SH, from meta.json and the palette's size."""
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
        return k, palette_count, _codebook(section, "shN", called)
    bands = _V1_BANDS.get(width, 0)
    if not bands:
        raise SplatFormatError(
            f"{called}: shN centroids {width} texels wide fit no SH band count "
            "(192, 512 or 960 expected)."
        )
    k = SH_REST_COUNT[bands]
    low = float(meta_numbers(section.get("mins"), None, "shN.mins", called))
    high = float(meta_numbers(section.get("maxs"), None, "shN.maxs", called))
    return k, (width // k) * height, sog_tables.lerp_table(low, high)
