"""One entry point for every splat file: PLY, SPZ (any variant) or .splat.

PLY covers PlayCanvas's compressed PLY too: ``read_ply`` hands a header with a
``chunk`` element and packed vertices to ``compressed_ply``, and ``open_rows``
reads it whole (``open_ply_rows`` declines it).

The content decides, not the name: a download saved as ``model.ply`` that is
really an SPZ, or an HTML error page, is still recognised from its first bytes.
Only ``.splat`` has no signature, so for it the file name is the evidence.
Every reader returns its cloud in the PLY frame (see ``frames.py``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .cloud import SplatCloud, SplatFormatError
from .ply import read_ply
from .ply_rows import open_ply_rows
from .rows import CloudRows, RowSource
from .splat_format import read_dot_splat
from .spz import GZIP_MAGIC, NGSP, ZSTD_MAGIC, read_spz

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "detect_format",
    "open_rows",
    "read_splat_bytes",
    "read_splat_file",
]

SUPPORTED_EXTENSIONS = (".ply", ".spz", ".splat")

_LOOKS_LIKE = (
    (b"PK\x03\x04", "a zip archive; unpack it and import the .ply, .spz or .splat inside"),
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
    """'ply', 'spz' or 'splat' for ``data``; SplatFormatError saying what it is otherwise."""
    view = memoryview(data)  # type: ignore[arg-type]  # numpy arrays are buffers too
    head = bytes(view[:16])
    if head.startswith(b"ply"):
        return "ply"
    if head.startswith((ZSTD_MAGIC, GZIP_MAGIC, NGSP)):
        return "spz"
    if os.path.splitext(name)[1].lower() == ".splat":
        return "splat"
    raise SplatFormatError(_unknown(head, view.nbytes, name))


def read_splat_bytes(
    data: bytes | bytearray | memoryview | np.ndarray, name: str = ""
) -> SplatCloud:
    """Read a whole splat file held in memory; ``name`` (a file name) is only a hint."""
    kind = detect_format(data, name)
    if kind == "ply":
        return read_ply(data)
    if kind == "spz":
        return read_spz(data)
    return read_dot_splat(data)


def read_splat_file(path: str | os.PathLike) -> SplatCloud:
    """Read a .ply, .spz or .splat file from disk (one read, then as read_splat_bytes)."""
    path = Path(path)
    return read_splat_bytes(np.fromfile(path, dtype=np.uint8), path.name)


def open_rows(path: str | os.PathLike) -> RowSource:
    """Any splat file as a RowSource: binary PLYs stream from disk, the rest is read whole.

    Close it when done.
    """
    with open(path, "rb") as f:
        head = f.read(16)
    if head.startswith(b"ply"):
        rows = open_ply_rows(path)
        if rows is not None:
            return rows
    return CloudRows(read_splat_file(path))


def _unknown(head: bytes, size: int, name: str) -> str:
    called = f" '{name}'" if name else ""
    if size == 0:
        return f"The file{called} is empty. Download or export it again."
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        what = "an HTML page (an error page saved instead of the model?)"
    elif text.startswith(b"<?xml") or text.startswith(b"<"):
        what = "XML or HTML text (an error page saved instead of the model?)"
    elif text.startswith((b"{", b"[")):
        what = "JSON text (an error response saved instead of the model?)"
    else:
        what = next((w for magic, w in _LOOKS_LIKE if head.startswith(magic)), "")
        if not what and all(32 <= b < 127 or b in b"\t\r\n" for b in head):
            what = f"text starting {head.decode('ascii')!r}"
        elif not what:
            what = f"unknown binary data (first bytes {head[:8].hex(' ')})"
    return (
        f"The file{called} is not a splat file: it looks like {what}. Import a "
        f"{', '.join(SUPPORTED_EXTENSIONS[:-1])} or {SUPPORTED_EXTENSIONS[-1]} file."
    )
