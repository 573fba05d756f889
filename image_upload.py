# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Make a chosen image fit the gateway's upload rules (main thread, uses bpy).

The gateway takes PNG, JPEG or WebP, at most 1024 px a side and 2 MiB. A file
that already fits is sent as it is; anything else Blender can read is scaled
down and re-encoded as JPEG. Only the bytes go to the worker thread.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import Any

import bpy

MAX_SIDE = 1024
MAX_BYTES = 2 * 1024 * 1024 - 16 * 1024
"""2 MiB is the limit for the whole request: leave room for the multipart framing."""
MAX_SOURCE_BYTES = 200 * 1024 * 1024
_JPEG_QUALITIES = (92, 85, 75, 60)


class ImageUploadError(ValueError):
    """The image cannot be sent; the message says why and what to do."""


@dataclass(frozen=True)
class Upload:
    data: bytes
    filename: str
    mime: str
    width: int
    height: int
    reencoded: bool


def sniff_mime(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def path_problem(typed: str) -> str | None:
    """Why the image at ``typed`` (as the user typed it, ``//`` relative paths included)
    cannot be sent, from its name and size alone; None when it may be. Cheap: a stat."""
    typed = typed.strip()
    if not typed:
        return "Choose an image (PNG, JPEG or WebP) to generate from."
    path = bpy.path.abspath(typed)
    if os.path.isdir(path):
        return f"{typed} is a folder: choose an image file in it."
    if not os.path.isfile(path):
        return f"There is no file {typed}: choose another image."
    image_types: Any = bpy.path.extensions_image  # type: ignore[attr-defined]  # not in stubs
    if os.path.splitext(path)[1].lower() not in image_types:
        return f"{os.path.basename(path)} is not an image file: use a PNG, JPEG or WebP."
    size = os.path.getsize(path)
    if size > MAX_SOURCE_BYTES:
        return f"{os.path.basename(path)} is {size / 1e6:.0f} MB: choose an image under 200 MB."
    return None


def prepare_upload(typed: str) -> Upload:
    """The bytes to upload for the image at ``typed``; ImageUploadError if impossible."""
    problem = path_problem(typed)
    if problem:
        raise ImageUploadError(problem)
    path = bpy.path.abspath(typed)
    name = os.path.basename(path)
    with open(path, "rb") as fh:
        data = fh.read()
    try:
        image = bpy.data.images.load(path, check_existing=False)
    except RuntimeError as exc:
        raise ImageUploadError(
            f"Blender cannot read {name} as an image ({exc}): use a PNG, JPEG or WebP file."
        ) from None
    try:
        width, height = int(image.size[0]), int(image.size[1])  # type: ignore[index]
        if width == 0 or height == 0:
            raise ImageUploadError(
                f"Blender cannot read {name} as an image: use a PNG, JPEG or WebP file."
            )
        mime = sniff_mime(data)
        if mime and max(width, height) <= MAX_SIDE and len(data) <= MAX_BYTES:
            return Upload(data, name, mime, width, height, reencoded=False)
        return _reencode(image, name, width, height)
    finally:
        bpy.data.images.remove(image)


def _reencode(image: bpy.types.Image, name: str, width: int, height: int) -> Upload:
    factor = min(1.0, MAX_SIDE / max(width, height))
    new_w, new_h = max(1, round(width * factor)), max(1, round(height * factor))
    if (new_w, new_h) != (width, height):
        image.scale(new_w, new_h)
    stem = os.path.splitext(name)[0] or "image"
    with tempfile.TemporaryDirectory(prefix="gen404-") as tmp:
        out = os.path.join(tmp, stem + ".jpg")
        image.file_format = "JPEG"
        for quality in _JPEG_QUALITIES:
            image.save(filepath=out, quality=quality)
            with open(out, "rb") as fh:
                data = fh.read()
            if len(data) <= MAX_BYTES:
                return Upload(data, stem + ".jpg", "image/jpeg", new_w, new_h, reencoded=True)
    raise ImageUploadError(
        f"{name} stays over 2 MiB even as a {new_w}x{new_h} JPEG: use a simpler image."
    )
