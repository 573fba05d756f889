# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""One entry point for every splat file: PLY, SPZ (any variant), .splat or SOG.

PLY covers PlayCanvas's compressed PLY too: ``read_ply`` hands a header with a
``chunk`` element and packed vertices to ``compressed_ply``, and ``open_rows``
reads it whole (``open_ply_rows`` declines it).

The content decides, not the name: a download saved as ``model.ply`` that is
really an SPZ, or an HTML error page, is still recognised from its first bytes.
Only ``.splat`` has no signature, so for it the file name is the evidence.
A SOG is a zip holding a meta.json (bundled ``.sog``) or a meta.json beside its
WebP images (unbundled); its images need a WebP decoder, which the caller passes
(``decode_webp``, see ``sog.py``), and an unbundled one the folder it lies in.
Every reader returns its cloud in the PLY frame (see ``frames.py``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .cloud import SplatCloud, SplatFormatError
from .ply import read_ply
from .ply_rows import open_ply_rows
from .rows import CloudRows, RowSource
from .sog import (
    MAX_META_BYTES,
    WebpDecoder,
    is_sog_meta,
    is_sog_zip,
    open_sog_folder,
    open_sog_zip,
    sog_folder_meta,
)
from .sog_decode import read_sog
from .splat_format import read_dot_splat
from .spz import GZIP_MAGIC, NGSP, ZSTD_MAGIC, read_spz

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "SUPPORTED_NAMES",
    "detect_format",
    "open_rows",
    "read_splat_bytes",
    "read_splat_file",
]

SUPPORTED_EXTENSIONS = (".ply", ".spz", ".splat", ".sog")
SUPPORTED_NAMES = ("meta.json",)
"""Whole file names imported too: an unbundled SOG's meta.json (or its folder)."""

_LOOKS_LIKE = (
    (
        b"PK\x03\x04",
        "a zip archive, but not a SOG (it has no meta.json at its top); if it holds a "
        "splat file, unpack it and import that",
    ),
    (b"PK\x05\x06", "an empty zip archive"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"RIFF", "a RIFF file (WebP image or WAV audio)"),
    (b"glTF", "a binary glTF (.glb) model; import it with File > Import > glTF"),
    (b"%PDF", "a PDF document"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"\x00\x00\x00", "binary data starting with zeros (an incomplete download?)"),
)


def detect_format(data: bytes | bytearray | memoryview | np.ndarray, name: str = "") -> str:
    """'ply', 'spz', 'splat', 'sog' (a zip) or 'sog-meta' (a meta.json) for ``data``.

    SplatFormatError saying what it is otherwise.
    """
    view = memoryview(data)  # type: ignore[arg-type]  # numpy arrays are buffers too
    head = bytes(view[:16])
    if head.startswith(b"ply"):
        return "ply"
    if head.startswith((ZSTD_MAGIC, GZIP_MAGIC, NGSP)):
        return "spz"
    if head.startswith(b"PK\x03\x04") and is_sog_zip(view):
        return "sog"
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") and _json_kind(view) == "sog":
        return "sog-meta"
    if os.path.splitext(name)[1].lower() == ".splat":
        return "splat"
    raise SplatFormatError(_unknown(head, view, name))


def read_splat_bytes(
    data: bytes | bytearray | memoryview | np.ndarray,
    name: str = "",
    *,
    decode_webp: WebpDecoder | None = None,
    folder: str | os.PathLike[str] | None = None,
) -> SplatCloud:
    """Read a whole splat file held in memory; ``name`` (a file name) is only a hint.

    A SOG needs ``decode_webp``; an unbundled SOG's meta.json also the ``folder``
    holding it and its images.
    """
    kind = detect_format(data, name)
    if kind == "ply":
        return read_ply(data)
    if kind == "spz":
        return read_spz(data)
    if kind == "sog":
        return read_sog(open_sog_zip(data, name), _need_decoder(decode_webp))
    if kind == "sog-meta":
        if folder is None:
            raise SplatFormatError(
                f"'{name or 'meta.json'}' is the meta.json of an unbundled SOG, whose images "
                "are files beside it: import it from its folder on disk."
            )
        meta_path = os.path.join(folder, name or "meta.json")
        package = open_sog_folder(meta_path, bytes(memoryview(data)))  # type: ignore[arg-type]
        return read_sog(package, _need_decoder(decode_webp))
    return read_dot_splat(data)


def read_splat_file(
    path: str | os.PathLike, *, decode_webp: WebpDecoder | None = None
) -> SplatCloud:
    """Read a splat file from disk (one read, then as read_splat_bytes).

    An unbundled SOG may be given as its meta.json or its folder.
    """
    path = Path(sog_folder_meta(path) or path)
    data = np.fromfile(path, dtype=np.uint8)
    return read_splat_bytes(data, path.name, decode_webp=decode_webp, folder=path.parent)


def open_rows(path: str | os.PathLike, *, decode_webp: WebpDecoder | None = None) -> RowSource:
    """Any splat file as a RowSource: binary PLYs stream from disk, the rest is read whole.

    Close it when done.
    """
    path = sog_folder_meta(path) or path
    with open(path, "rb") as f:
        head = f.read(16)
    if head.startswith(b"ply"):
        rows = open_ply_rows(path)
        if rows is not None:
            return rows
    return CloudRows(read_splat_file(path, decode_webp=decode_webp))


def _need_decoder(decode_webp: WebpDecoder | None) -> WebpDecoder:
    if decode_webp is None:
        raise SplatFormatError(
            "this is a SOG, whose splats are stored in WebP images, and this reader was "
            "given no WebP decoder: import it through Blender (File > Import)."
        )
    return decode_webp


def _json_kind(view: memoryview) -> str:
    """'sog' (a SOG meta.json), 'lod' (a streamed SOG's lod-meta.json) or '' (other JSON)."""
    if view.nbytes > MAX_META_BYTES:
        return ""
    try:
        obj = json.loads(bytes(view).decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        return ""
    if is_sog_meta(obj):
        return "sog"
    if isinstance(obj, dict) and "lodLevels" in obj and "filenames" in obj:
        return "lod"
    return ""


def _unknown(head: bytes, view: memoryview, name: str) -> str:
    called = f" '{name}'" if name else ""
    if view.nbytes == 0:
        return f"The file{called} is empty. Download or export it again."
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        what = "an HTML page (an error page saved instead of the model?)"
    elif text.startswith(b"<?xml") or text.startswith(b"<"):
        what = "XML or HTML text (an error page saved instead of the model?)"
    elif text.startswith((b"{", b"[")) and _json_kind(view) == "lod":
        return (
            f"The file{called} is a streamed SOG's lod-meta.json, which points to many .sog "
            "files by level of detail; this importer reads single scenes: import one of its "
            ".sog files, or convert the scene to one .sog or .ply with splat-transform."
        )
    elif text.startswith((b"{", b"[")):
        what = "JSON text, but not a SOG meta.json (an error response saved instead of the model?)"
    else:
        what = next((w for magic, w in _LOOKS_LIKE if head.startswith(magic)), "")
        if not what and all(32 <= b < 127 or b in b"\t\r\n" for b in head):
            what = f"text starting {head.decode('ascii')!r}"
        elif not what:
            what = f"unknown binary data (first bytes {head[:8].hex(' ')})"
    return (
        f"The file{called} is not a splat file: it looks like {what}. Import a "
        f"{', '.join(SUPPORTED_EXTENSIONS)} file or a SOG's meta.json."
    )
