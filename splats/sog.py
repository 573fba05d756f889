# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""SOG, PlayCanvas's web splat format: a meta.json and lossless WebP images.

Two packagings: *bundled*, one ``.sog`` file that is a zip holding ``meta.json``
and the images; *unbundled*, a folder with ``meta.json`` beside the images (the
user picks the meta.json or the folder). Two versions of meta.json: version 2
(``"version": 2``, what splat-transform 3.x writes: codebooks of 256 values) and
the older version 1 (no ``version``: per-channel ``mins``/``maxs`` ranges).

Values come out as splat-transform 3.7.0 decodes them (its ``readSog``), in the
PLY frame (SOG stores the PLY's own axes):

- texel ``i`` (row-major from the top-left) of every per-splat image is splat ``i``;
- positions: 16 bits per axis (``means_l`` low byte, ``means_u`` high byte) lerp
  between ``mins`` and ``maxs`` of ``sign(x)·ln(|x|+1)``, undone by
  ``sign(v)·(e^|v| - 1)``;
- rotations: ``quats`` RGB hold three components ``(c/255·2 - 1)/√2`` and A is
  ``252 + index`` of the largest one (w, x, y, z), rebuilt as
  ``√(1 - sum of squares)``; any other A is the identity;
- v2: ``scales`` RGB and ``sh0`` RGB index 256-value codebooks (log scales, f_dc),
  ``sh0`` A is the sigmoid of opacity times 255; v1: each byte lerps between the
  channel's ``mins`` and ``maxs`` (``sh0`` A lerps the opacity logit);
- higher SH: ``shN_labels`` RG is a 16-bit palette index; palette entry ``p``
  lies in ``shN_centroids`` at row ``p // 64``, columns ``(p % 64)·K`` to
  ``+K-1`` (K coefficients, RGB = the three channels), each byte indexing the
  ``shN`` codebook (v2) or lerping between its scalar ``mins``/``maxs`` (v1).

This module reads the package (meta.json and the images' bytes); ``sog_decode.py``
turns it into splats. Decoding WebP needs a real decoder, which these bpy-free
modules do not have: callers pass ``decode_webp(bytes) -> (H, W, 4) uint8`` (top row first).
The add-on gives Blender's own image loader (``scene/webp.py``), the tests
Pillow. Everything else runs here, without bpy, on any thread.

Files are untrusted: a zip is read entry by entry into memory by name (names
never become paths), with limits on entry count, sizes and compression ratio;
an unbundled meta.json may only name plain files beside it; image sizes are
read from their headers and checked against the splat count before anything
is decoded, so a tiny file cannot claim gigabytes of pixels.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .cloud import SplatFormatError
from .zip_limits import ZipLimits, checked_entries, open_zip, read_entry

WebpDecoder = Callable[[bytes], np.ndarray]
"""Lossless WebP file bytes -> (H, W, 4) uint8 RGBA, top row first."""

META_NAME = "meta.json"
MAX_SPLATS = 20_000_000
"""More splats than any single SOG holds (splat-transform advises streamed SOG past ~2M)."""
MAX_ENTRIES = 64
"""Entries a .sog zip may hold (splat-transform writes 6 to 8)."""
MAX_META_BYTES = 16 << 20
MAX_ENTRY_BYTES = 512 << 20
MAX_TOTAL_BYTES = 2 << 30
MAX_RATIO = 100
"""A compressed zip entry may expand at most this many times (plus 1 MiB)."""
LIMITS = ZipLimits(
    MAX_ENTRIES, MAX_ENTRY_BYTES, MAX_TOTAL_BYTES, MAX_RATIO, "a meta.json and a few images"
)

# --- the package: meta.json and its images, as bytes ------------------------------------


@dataclass
class SogPackage:
    """A SOG's meta.json (parsed and checked) and the bytes of the images it names."""

    name: str
    meta: dict[str, Any]
    images: dict[str, bytes] = field(default_factory=dict)

    @property
    def version(self) -> int:
        return 2 if "version" in self.meta else 1


def is_sog_meta(obj: object) -> bool:
    """Whether parsed JSON looks like a SOG meta.json (either version)."""
    return isinstance(obj, dict) and all(key in obj for key in ("means", "quats", "scales", "sh0"))


def is_sog_zip(data: bytes | bytearray | memoryview | np.ndarray) -> bool:
    """A zip archive with a meta.json at its top: a bundled SOG."""
    try:
        with zipfile.ZipFile(io.BytesIO(memoryview(data))) as archive:  # type: ignore[arg-type]
            return any(info.filename == META_NAME for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        return False


def sog_folder_meta(path: str | os.PathLike[str]) -> str | None:
    """The meta.json of an unbundled SOG chosen as a folder; None if ``path`` is no such folder."""
    candidate = os.path.join(path, META_NAME)
    return candidate if os.path.isdir(path) and os.path.isfile(candidate) else None


def open_sog_zip(data: bytes | bytearray | memoryview | np.ndarray, name: str = "") -> SogPackage:
    """A bundled .sog: meta.json and the images it names, read into memory by entry name."""
    called = f"'{name}'" if name else "The SOG file"
    view = memoryview(data)  # type: ignore[arg-type]  # numpy arrays are buffers too
    archive = open_zip(view, called, "a .sog must be one: download or export it again.")
    with archive:
        entries = checked_entries(archive, called, LIMITS)
        if META_NAME not in entries:
            raise SplatFormatError(
                f"{called} is a zip archive without a meta.json at its top, so it is not a "
                "SOG; if it holds a splat file, unpack it and import that file."
            )

        def read(entry: str, limit: int) -> bytes:
            info = entries.get(entry)
            if info is None:
                raise SplatFormatError(
                    f"{called} is incomplete: its meta.json names '{entry}', which the "
                    "archive does not hold. Export the SOG again."
                )
            return read_entry(archive, info, limit, called, MAX_RATIO)

        meta = _parse_meta(read(META_NAME, MAX_META_BYTES), called)
        package = SogPackage(name, meta)
        total = 0
        for image in image_names(meta, called):
            blob = read(image, MAX_ENTRY_BYTES)
            total += len(blob)
            if total > MAX_TOTAL_BYTES:
                raise SplatFormatError(f"{called} unpacks to more than 2 GiB: refused.")
            package.images[image] = blob
    return package


def open_sog_folder(
    meta_path: str | os.PathLike[str], meta_bytes: bytes | None = None
) -> SogPackage:
    """An unbundled SOG: ``meta_path`` (a meta.json) and the images beside it.

    Only plain file names in the meta.json's own folder are read; ``meta_bytes``
    saves reading the meta.json again when the caller has it.
    """
    meta_path = os.fspath(meta_path)
    folder = os.path.dirname(os.path.abspath(meta_path))
    called = f"'{os.path.basename(meta_path)}'"
    if meta_bytes is None:
        with open(meta_path, "rb") as f:
            meta_bytes = f.read(MAX_META_BYTES + 1)
    if len(meta_bytes) > MAX_META_BYTES:
        raise SplatFormatError(f"{called} is larger than a SOG meta.json can be (16 MiB).")
    meta = _parse_meta(meta_bytes, called)
    package = SogPackage(os.path.basename(meta_path), meta)
    total = 0
    for image in image_names(meta, called):
        path = os.path.join(folder, image)
        try:
            size = os.path.getsize(path)
            if size > MAX_ENTRY_BYTES:
                raise SplatFormatError(f"{image} beside {called} is over 512 MiB: refused.")
            with open(path, "rb") as f:
                blob = f.read(MAX_ENTRY_BYTES + 1)
        except FileNotFoundError:
            raise SplatFormatError(
                f"{called} names the image '{image}', which is not in its folder "
                f"({folder}). Keep a SOG's meta.json and its .webp images together."
            ) from None
        total += len(blob)
        if total > MAX_TOTAL_BYTES:
            raise SplatFormatError(f"the images of {called} add up to more than 2 GiB: refused.")
        package.images[image] = blob
    return package


def _parse_meta(blob: bytes, called: str) -> dict[str, Any]:
    try:
        meta = json.loads(blob.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SplatFormatError(f"the meta.json of {called} is not valid JSON ({exc}).") from None
    if not is_sog_meta(meta):
        raise SplatFormatError(
            f"the meta.json of {called} is not a SOG's: it lacks the means, quats, scales "
            "and sh0 entries."
        )
    version = meta.get("version")
    if version is not None and version != 2:
        raise SplatFormatError(
            f"{called} is SOG version {version!r}; versions 1 and 2 can be read. "
            "Convert it with a newer tool, or update the add-on."
        )
    return meta


def image_names(meta: Mapping[str, Any], called: str) -> list[str]:
    """The image files meta.json names, in decoding order; each a plain file name."""
    wanted = [("means", 2), ("quats", 1), ("scales", 1), ("sh0", 1)]
    if meta.get("shN") is not None:
        wanted.append(("shN", 2))
    names = []
    for key, count in wanted:
        files = meta_section(meta, key, called).get("files")
        if (
            not isinstance(files, list)
            or len(files) < count
            or not all(isinstance(f, str) for f in files[:count])
        ):
            raise SplatFormatError(f"{called}: meta.json's {key} names no image files.")
        for image in files[:count]:
            if image in ("", ".", "..") or any(ch in image for ch in "/\\\x00:"):
                raise SplatFormatError(
                    f"{called}: meta.json names the image {image!r}, which is not a plain "
                    "file name beside it: refused."
                )
            names.append(image)
    return names


def meta_section(meta: Mapping[str, Any], key: str, called: str) -> dict[str, Any]:
    value = meta.get(key)
    if not isinstance(value, dict):
        raise SplatFormatError(f"{called}: meta.json's {key} entry is missing or not an object.")
    return value


def meta_numbers(value: object, count: int | None, what: str, called: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        arr = np.empty(0)
    if arr.ndim != (0 if count is None else 1) or (count is not None and len(arr) != count):
        size = "a number" if count is None else f"{count} numbers"
        raise SplatFormatError(f"{called}: meta.json's {what} should be {size}.")
    if not np.all(np.isfinite(arr)):
        raise SplatFormatError(f"{called}: meta.json's {what} holds a non-finite number.")
    return arr
