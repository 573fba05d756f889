# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Read SPZ, the compressed splat container, in every variant a user meets.

Told apart by the first bytes:

- ``28 B5 2F FD``: one zstd frame around a version 1-2 payload. 404's fork writes
  these (the gateway serves them); its SPZ shares the PLY's frame, so nothing turns.
- ``1F 8B``: gzip around a version 1-3 payload: upstream (Niantic) SPZ.
- ``NGSP``: upstream version 4: a plain 32-byte header, optional extension records,
  a table of contents and one zstd stream per attribute. (A plain header with an
  older version number is an uncompressed version 1-3 payload, read as such.)

Upstream SPZ is stored right-up-back (RUB) unless a version 4 coordinate-system
extension names another frame; it is turned into the PLY frame (RDF) here: y and
z negated for positions, quaternions and SH. See ``frames.py``. The cloud declares
the frame it came from and that frame's up axis (+Y for RUB), and 404's SPZ its
+Y up (``upright.py``).

Values come back as a 3DGS PLY stores them (log scales, opacity logits, f_dc,
coefficient-major SH), decoded by ``spz_decode`` with whole-array numpy operations, never a loop
over splats. Before anything large is allocated, the header's counts are checked
against the input's size, and decompression stops at what those counts need.
"""

from __future__ import annotations

import struct

import numpy as np

from .cloud import SplatCloud, SplatFormatError
from .frames import PLY_FRAME, SPZ_COORDINATE_SYSTEMS
from .inflate import (
    GzipInflater,
    Inflater,
    ZstdInflater,
    check_honest,
    check_ratio,
    zstd_frame,
)
from .spz_decode import REST_PER_CHANNEL, SpzLayout, decode
from .upright import UPRIGHT

__all__ = ["MAX_SPLATS", "claimed_count", "read_spz"]

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
GZIP_MAGIC = b"\x1f\x8b"
NGSP = b"NGSP"

MAX_SPLATS = 100_000_000
"""Ten times what the SPZ libraries load (10 million): beyond this a file is corrupt
or too big for Blender anyway, and refusing it costs nothing."""

MAX_EXTENSION_BYTES = 1 << 16
"""Room allowed for extension records inside a gzip payload (they are a few bytes)."""


FLAG_ANTIALIASED = 0x1
FLAG_EXTENSIONS = 0x2
EXT_COORDINATE_SYSTEM = 0xADBE0003
UPSTREAM_FRAME = "RUB"

_HEADER = struct.Struct("<4sIIBBBB")  # versions 1-3, inside the compression
_HEADER_V4 = struct.Struct("<4sIIBBBBI12s")
_TOC_ENTRY = struct.Struct("<QQ")
_EXTENSION = struct.Struct("<II")


def read_spz(data: bytes | bytearray | memoryview | np.ndarray) -> SplatCloud:
    """Decode any SPZ variant into a SplatCloud in the PLY frame.

    Raises SplatFormatError naming the problem for anything that is not a
    complete, consistent SPZ file.
    """
    buf = memoryview(data)  # type: ignore[arg-type]  # numpy arrays are buffers too
    if buf.ndim != 1 or buf.itemsize != 1:
        buf = buf.cast("B")
    head = bytes(buf[:4])
    if head == ZSTD_MAGIC:
        cloud = _read_legacy(ZstdInflater(buf), len(buf), "404", (1, 2), PLY_FRAME)
        cloud.file_up = UPRIGHT["404 spz"].file_up  # 404's frame, not the RDF it is named by
        return cloud
    if head[:2] == GZIP_MAGIC:
        return _read_legacy(GzipInflater(buf), len(buf), "gzip", (1, 2, 3), UPSTREAM_FRAME)
    if head == NGSP:
        if len(buf) >= 8 and struct.unpack_from("<I", buf, 4)[0] < 4:
            return _read_legacy(_Plain(buf), len(buf), "plain", (1, 2, 3), UPSTREAM_FRAME)
        return _read_v4(buf)
    if not head:
        raise SplatFormatError("The file is empty, not an SPZ. Download or export it again.")
    raise SplatFormatError(
        f"Not an SPZ file: it starts with {head.hex(' ')}, not zstd (28 b5 2f fd), "
        "gzip (1f 8b) or 'NGSP'."
    )


def claimed_count(data: bytes | bytearray | memoryview | np.ndarray) -> int | None:
    """The splat count an SPZ's header claims (only the header is inflated); None if
    the header cannot be read (``read_spz`` then says why)."""
    buf = memoryview(data)  # type: ignore[arg-type]
    if buf.ndim != 1 or buf.itemsize != 1:
        buf = buf.cast("B")
    head = bytes(buf[:4])
    try:
        if head == ZSTD_MAGIC:
            raw = ZstdInflater(buf).read(_HEADER.size)
        elif head[:2] == GZIP_MAGIC:
            raw = GzipInflater(buf).read(_HEADER.size)
        else:
            raw = bytes(buf[: _HEADER.size])
    except SplatFormatError:
        return None
    if len(raw) < _HEADER.size or raw[:4] != NGSP:
        return None
    return int(_HEADER.unpack(raw)[2])


# --- versions 1-3: one compressed payload ------------------------------------------------


class _Plain:
    """An uncompressed payload behind the same interface as the inflaters."""

    kind = "plain"

    def __init__(self, buf: memoryview) -> None:
        self._buf = buf
        self._pos = 0

    def read(self, size: int) -> bytes:
        out = bytes(self._buf[self._pos : self._pos + size])
        self._pos += len(out)
        return out


def _read_legacy(
    inflater: Inflater, size: int, wrapper: str, versions: tuple[int, ...], frame: str
) -> SplatCloud:
    what = {"404": "zstd-compressed", "gzip": "gzip-compressed", "plain": "uncompressed"}[wrapper]
    raw = inflater.read(_HEADER.size)
    if len(raw) < _HEADER.size:
        raise SplatFormatError(
            f"The {what} data ends after {len(raw)} bytes, before the 16-byte SPZ header: "
            "the file is cut off or not an SPZ."
        )
    magic, version, count, degree, bits, flags, _ = _HEADER.unpack(raw)
    if magic != NGSP:
        inner = "a PLY" if magic.startswith(b"ply") else f"bytes {magic.hex(' ')}"
        raise SplatFormatError(
            f"Not an SPZ file: the {what} data holds {inner}, not the 'NGSP' SPZ header."
        )
    if version not in versions:
        source = "404's zstd-wrapped SPZ" if wrapper == "404" else f"{what} SPZ"
        raise SplatFormatError(
            f"SPZ version {version} is not valid for {source} (versions "
            f"{', '.join(map(str, versions))}); the file is corrupt or from an unknown writer."
        )
    layout = _check_layout(version, count, degree, bits, flags)
    if inflater.kind != "plain":  # uncompressed data is never read beyond what exists
        check_ratio(inflater.kind, size, _HEADER.size + layout.data_size, layout.claim)
        check_honest(size, _HEADER.size + layout.data_size, layout.claim)

    room = MAX_EXTENSION_BYTES if flags & FLAG_EXTENSIONS else 0
    body = inflater.read(layout.data_size + room)
    if len(body) < layout.data_size:
        raise _truncated(layout, len(body))
    if room and len(body) == layout.data_size + room and inflater.read(1):
        raise SplatFormatError(
            "SPZ extension records exceed 64 KiB or the payload is longer than its "
            "counts need; the file is corrupt."
        )
    # Extension records sit between header and data; the data fills the payload's end.
    start = len(body) - layout.data_size
    warnings: list[str] = []
    if start and wrapper != "404":
        frame = _extension_frame(memoryview(body)[:start], warnings) or frame
    arrays = _split(memoryview(body)[start:], layout)
    return decode(arrays, layout, frame, warnings)


def _check_layout(version: int, count: int, degree: int, bits: int, flags: int) -> SpzLayout:
    if degree not in REST_PER_CHANNEL:
        raise SplatFormatError(
            f"SPZ header gives SH degree {degree}; SPZ has degrees 0-4. The file is corrupt."
        )
    if count > MAX_SPLATS:
        raise SplatFormatError(
            f"SPZ header claims {count:,} splats; more than {MAX_SPLATS:,} means a corrupt "
            "header or a scene too large to import."
        )
    if bits > 24:
        raise SplatFormatError(
            f"SPZ header gives {bits} fractional bits for 24-bit positions; the file is corrupt."
        )
    return SpzLayout(version, count, degree, bits, flags)


def _truncated(layout: SpzLayout, present: int) -> SplatFormatError:
    per_splat = layout.data_size // max(1, layout.count)
    return SplatFormatError(
        f"SPZ data is truncated: {layout.claim} need {layout.data_size:,} bytes, only "
        f"{present:,} are present (about {present // max(1, per_splat):,} splats' worth). "
        "The download or export was cut off; fetch the file again."
    )


def _split(body: memoryview, layout: SpzLayout) -> dict[str, memoryview]:
    arrays = {}
    offset = 0
    for name, size in layout.sizes():
        arrays[name] = body[offset : offset + size]
        offset += size
    return arrays


# --- version 4: plain header, table of contents, zstd streams ----------------------------


def _read_v4(buf: memoryview) -> SplatCloud:
    if len(buf) < _HEADER_V4.size:
        raise SplatFormatError(
            f"SPZ version 4 file ends after {len(buf)} bytes, inside its 32-byte header: "
            "the file is cut off."
        )
    _, version, count, degree, bits, flags, streams, toc, _ = _HEADER_V4.unpack_from(buf)
    if version != 4:
        raise SplatFormatError(
            f"SPZ version {version} is newer than this add-on can read (versions 1-4). "
            "Convert the file to PLY or an older SPZ version."
        )
    layout = _check_layout(version, count, degree, bits, flags)
    sizes = layout.sizes()
    if layout.degree == 0:
        sizes = sizes[:5]  # degree 0 writers may leave the empty SH stream out
    if streams < len(sizes):
        raise SplatFormatError(
            f"SPZ version 4 file has {streams} data streams; SH degree {degree} needs "
            f"{len(sizes)}. The file is corrupt."
        )
    check_honest(len(buf), layout.data_size, layout.claim)
    data_start = toc + streams * _TOC_ENTRY.size
    if toc < _HEADER_V4.size or data_start > len(buf):
        raise SplatFormatError(
            f"SPZ version 4 table of contents at byte {toc} ({streams} entries) lies outside "
            f"the {len(buf):,}-byte file: it is cut off or corrupt."
        )
    warnings: list[str] = []
    frame = UPSTREAM_FRAME
    if flags & FLAG_EXTENSIONS:
        frame = _extension_frame(buf[_HEADER_V4.size : toc], warnings) or frame

    arrays: dict[str, memoryview | bytes] = {"sh": b""}
    offset = data_start
    for i in range(streams):
        compressed, expected = _TOC_ENTRY.unpack_from(buf, toc + i * _TOC_ENTRY.size)
        name, need = sizes[i] if i < len(sizes) else (f"extra stream {i}", expected)
        if expected != need:
            raise SplatFormatError(
                f"SPZ version 4 stream '{name}' holds {expected:,} bytes but "
                f"{layout.claim} need {need:,}; the file is corrupt."
            )
        if offset + compressed > len(buf):
            raise SplatFormatError(
                f"SPZ version 4 stream '{name}' ({compressed:,} bytes from byte {offset:,}) "
                f"runs past the end of the {len(buf):,}-byte file: the file is cut off."
            )
        if i < len(sizes):
            chunk = buf[offset : offset + compressed]
            arrays[name] = zstd_frame(chunk, expected, f"'{name}' stream") if expected else b""
        offset += compressed
    return decode(arrays, layout, frame, warnings)


def _extension_frame(zone: memoryview, warnings: list[str]) -> str | None:
    """The frame a coordinate-system extension record names, if there is one.

    Records are ``u32 type, u32 byteLength, payload``; other types are skipped.
    """
    offset = 0
    while offset + _EXTENSION.size <= len(zone):
        kind, length = _EXTENSION.unpack_from(zone, offset)
        payload = zone[offset + _EXTENSION.size : offset + _EXTENSION.size + length]
        if len(payload) < length:
            break
        if kind == EXT_COORDINATE_SYSTEM and length >= 4:
            code = struct.unpack_from("<I", payload)[0]
            if code < len(SPZ_COORDINATE_SYSTEMS):
                # UNSPECIFIED falls back to the format's default, as the SPZ library does.
                return None if code == 0 else SPZ_COORDINATE_SYSTEMS[code]
            warnings.append(
                f"The SPZ names coordinate system {code}, which is unknown; "
                f"read as {UPSTREAM_FRAME} (the SPZ default)."
            )
            return None
        offset += _EXTENSION.size + length
    if offset != len(zone):
        warnings.append(
            "The SPZ's extension records could not be parsed and were ignored; "
            f"the splats were read in the SPZ default frame ({UPSTREAM_FRAME})."
        )
    return None
