# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Read PlayCanvas's compressed PLY (SuperSplat's default export, ``.compressed.ply``).

A compressed PLY is a binary little-endian PLY with up to three elements:

- ``chunk``: one record of floats per 256 splats (splat i uses chunk i // 256):
  ``min_x min_y min_z max_x max_y max_z``, then ``min_scale_x.. max_scale_z``
  (bounds of the log scales), and in files from splat-transform and newer
  SuperSplat six more, ``min_r min_g min_b max_r max_g max_b`` (bounds of the
  display colour ``0.5 + SH_C0 * f_dc``). Early SuperSplat files have the first
  twelve only, and their colour bytes are the display colour itself.
- ``vertex``: four uint32 per splat. ``packed_position`` and ``packed_scale`` hold
  three unsigned fractions of 11, 10 and 11 bits (x in the top 11 bits, y in the
  next 10, z in the low 11), each placed between its chunk's min and max.
  ``packed_rotation``: the index of the largest quaternion component (of rot_0..3,
  w x y z) in the top 2 bits, then the other three in index order, 10 bits each,
  as ``(u / 1023 - 0.5) * sqrt(2)``; the largest is ``sqrt(1 - others²)``.
  ``packed_color``: bytes r g b (top byte first) and alpha in the low byte, the
  activated opacity.
- ``sh`` (optional): ``f_rest_0..`` as uchar, 9, 24 or 45 a splat (SH degree
  1-3, PLY's channel-major order), each ``(b + 0.5) / 256 * 8 - 4``, with byte 0
  meaning -4 and byte 255 meaning +4.

The decoding follows what splat-transform (the format's reference tool) does,
with whole-array numpy operations only (never a loop over splats). Two choices of
our own: alpha bytes 0 and 255, whose logit is infinite, become the clamped logit
every reader here uses (``quantize.U8_OPACITY_LOGIT``), and the arithmetic runs
in float32, within a few units in the last place of splat-transform's float64.

Values come back raw (log scales, opacity logit, f_dc, SH) in the PLY frame, as
every writer of the format stores them. No bpy here."""

from __future__ import annotations

import numpy as np

from .cloud import SH_C0, SH_REST_COUNT, SplatCloud, SplatFormatError
from .ply_header import Element, Header, parse_header
from .quantize import RGB_DC, U8_OPACITY_LOGIT
from .upright import UPRIGHT

__all__ = ["CHUNK_SPLATS", "is_compressed_ply", "read_compressed_ply"]

CHUNK_SPLATS = 256
"""Splats per chunk record: splat i uses the bounds of chunk i // 256."""

PACKED = ("packed_position", "packed_rotation", "packed_scale", "packed_color")
POSITION_BOUNDS = ("min_x", "min_y", "min_z", "max_x", "max_y", "max_z")
SCALE_BOUNDS = (
    "min_scale_x",
    "min_scale_y",
    "min_scale_z",
    "max_scale_x",
    "max_scale_y",
    "max_scale_z",
)
COLOUR_BOUNDS = ("min_r", "min_g", "min_b", "max_r", "max_g", "max_b")

WHAT = "PlayCanvas compressed PLY (SuperSplat's .compressed.ply)"
AGAIN = "Export it again from SuperSplat or splat-transform, or export a plain .ply."

_SQRT2 = np.float32(np.sqrt(2.0))

_BYTES = np.arange(256, dtype=np.float64)
_SH_FRACTION = np.where(_BYTES == 0, 0.0, np.where(_BYTES == 255, 1.0, (_BYTES + 0.5) / 256))
SH_BYTE = ((_SH_FRACTION - 0.5) * 8).astype(np.float32)
"""SH byte -> coefficient (-4..4)."""
_PAIRS = np.arange(1 << 16)
SH_BYTE_PAIRS = np.stack([SH_BYTE[_PAIRS & 0xFF], SH_BYTE[_PAIRS >> 8]], 1).view(np.uint64)[:, 0]
"""Two SH bytes read as a little-endian uint16 -> their two float32 coefficients."""


def is_compressed_ply(header: Header) -> bool:
    """True when the header is (or tries to be) a compressed PLY.

    ``packed_position`` among the vertex properties marks one, as for
    splat-transform; so does a ``chunk`` element or another packed property on
    vertices without x, y, z, so that a malformed file gets a message about
    compressed PLY rather than one about missing positions.
    """
    vertex = next((e for e in header.elements if e.name == "vertex"), None)
    names = (vertex.names | set(vertex.lists)) if vertex is not None else set()
    if "packed_position" in names:
        return True
    has_chunk = any(e.name == "chunk" for e in header.elements)
    packed = any(name in names for name in PACKED)
    return (has_chunk or packed) and not {"x", "y", "z"} <= names


def read_compressed_ply(
    data: bytes | bytearray | memoryview | np.ndarray, header: Header | None = None
) -> SplatCloud:
    """Decode a compressed PLY held in memory into a SplatCloud (PLY frame, raw values).

    Every size is checked against the file before anything is allocated.
    Raises SplatFormatError naming the format and what to do.
    """
    buf = memoryview(data)  # type: ignore[arg-type]  # numpy arrays are buffers too
    if buf.ndim != 1 or buf.itemsize != 1:
        buf = buf.cast("B")
    if header is None:
        header = parse_header(buf)
    layout = _Layout(header, len(buf))
    return _decode(buf, layout)


class _Layout:
    """Where each element of a compressed PLY lies, checked against the file's size."""

    def __init__(self, header: Header, size: int) -> None:
        if header.fmt != "binary_little_endian":
            raise SplatFormatError(
                f"This {WHAT} is stored as {header.fmt}; the format is binary little-endian "
                f"only. {AGAIN}"
            )
        by_name: dict[str, Element] = {}
        for element in header.elements:
            by_name.setdefault(element.name, element)
        vertex, chunk, sh = by_name.get("vertex"), by_name.get("chunk"), by_name.get("sh")
        if vertex is None or chunk is None:
            missing = " and ".join(
                repr(name) for name, e in (("chunk", chunk), ("vertex", vertex)) if e is None
            )
            present = ", ".join(repr(e.name) for e in header.elements) or "none"
            raise SplatFormatError(
                f"This looks like a {WHAT}, but it has no {missing} element (its elements: "
                f"{present}); the file is incomplete or corrupt. {AGAIN}"
            )
        self.vertex, self.chunk, self.sh = vertex, chunk, sh
        wanted = [e for e in (chunk, vertex, sh) if e is not None]
        self.starts: dict[str, int] = {}
        pos = header.body_start
        last = max(i for i, e in enumerate(header.elements) if any(e is w for w in wanted))
        for element in header.elements[: last + 1]:
            if element.unknown:
                raise SplatFormatError(f"{element.unknown[0]} (in a {WHAT}). {AGAIN}")
            if element.lists and element.count:
                raise SplatFormatError(
                    f"This {WHAT} has list properties in element {element.name!r} "
                    f"({', '.join(element.lists)}), which the format never has. {AGAIN}"
                )
            self.starts.setdefault(element.name, pos)
            pos += element.count * element.record_size()
        self._check_vertex()
        self._check_chunk()
        self.rest = self._check_sh()
        # Checked before anything is allocated: a tiny file claiming 10^9 splats stops here.
        if pos > size:
            have = max(0, size - header.body_start)
            need = pos - header.body_start
            n = vertex.count
            if have * 2 < need:
                raise SplatFormatError(
                    f"This {WHAT} claims {n:,} splats, which take {need:,} bytes of data, but "
                    f"the file holds only {have:,}: the header is corrupt or most of the file "
                    "is missing. Download or export it again."
                )
            raise SplatFormatError(
                f"This {WHAT} is cut off: its {n:,} splats take {need:,} bytes of data and "
                f"the file holds {have:,}. The download or export was interrupted; fetch "
                "the file again."
            )

    def _check_vertex(self) -> None:
        codes = dict(self.vertex.props)
        missing = [name for name in PACKED if name not in codes]
        if missing:
            raise SplatFormatError(
                f"This {WHAT} lacks vertex properties {', '.join(missing)}; the file is "
                f"incomplete or corrupt. {AGAIN}"
            )
        wrong = [f"{name} ({codes[name]})" for name in PACKED if codes[name] not in ("u4", "i4")]
        if wrong:
            raise SplatFormatError(
                f"In this {WHAT} the packed vertex properties must be 32-bit unsigned ints "
                f"('uint'), but {', '.join(wrong)} are not. {AGAIN}"
            )
        self.offsets = _offsets(self.vertex)
        self.extra = [name for name, _ in self.vertex.props if name not in PACKED]

    def _check_chunk(self) -> None:
        codes = dict(self.chunk.props)
        missing = [name for name in (*POSITION_BOUNDS, *SCALE_BOUNDS) if name not in codes]
        if missing:
            raise SplatFormatError(
                f"This {WHAT} lacks chunk bounds {', '.join(missing)}; the file is incomplete "
                f"or corrupt. {AGAIN}"
            )
        colours = [name in codes for name in COLOUR_BOUNDS]
        if any(colours) and not all(colours):
            absent = [name for name in COLOUR_BOUNDS if name not in codes]
            raise SplatFormatError(
                f"This {WHAT} has some colour bounds in its chunks but not "
                f"{', '.join(absent)}; the file is corrupt. {AGAIN}"
            )
        self.colour_bounds = all(colours)
        needed = -(-self.vertex.count // CHUNK_SPLATS)
        if self.chunk.count < needed:
            raise SplatFormatError(
                f"This {WHAT} has {self.vertex.count:,} splats but only {self.chunk.count:,} "
                f"chunk records; it needs one per {CHUNK_SPLATS} splats ({needed:,}). The file "
                f"is corrupt. {AGAIN}"
            )

    def _check_sh(self) -> int:
        """Higher SH coefficients per channel (0 without an sh element)."""
        sh = self.sh
        if sh is None:
            return 0
        if sh.count != self.vertex.count:
            raise SplatFormatError(
                f"This {WHAT} has {self.vertex.count:,} splats but {sh.count:,} records of "
                f"view-dependent colour ('sh'); the file is corrupt. {AGAIN}"
            )
        names = [name for name, _ in sh.props]
        total = len(names)
        per_channel = total // 3
        if total % 3 or per_channel not in SH_REST_COUNT.values() or per_channel == 0:
            raise SplatFormatError(
                f"This {WHAT} has {total} view-dependent colour properties a splat; the format "
                f"has 9, 24 or 45 (SH degree 1-3). {AGAIN}"
            )
        if set(names) != {f"f_rest_{i}" for i in range(total)}:
            raise SplatFormatError(
                f"This {WHAT}'s 'sh' element should hold f_rest_0..f_rest_{total - 1}, but its "
                f"properties are {', '.join(names[:8])}{', ...' if total > 8 else ''}. {AGAIN}"
            )
        wrong = sorted({code for _, code in sh.props if code != "u1"})
        if wrong:
            raise SplatFormatError(
                f"This {WHAT}'s view-dependent colour must be bytes ('uchar'), not "
                f"{', '.join(wrong)}. {AGAIN}"
            )
        offsets = _offsets(sh)
        self.sh_order = [offsets[f"f_rest_{i}"] for i in range(total)]
        return per_channel


def _offsets(element: Element) -> dict[str, int]:
    """Byte offset of each scalar property within the element's record."""
    out, pos = {}, 0
    for name, code in element.props:
        out[name] = pos
        pos += np.dtype(code).itemsize
    return out


def _column(
    buf: memoryview, start: int, element: Element, name: str, code: str, count: int
) -> np.ndarray:
    """One property of ``count`` records as a strided view of the file's bytes."""
    stride = element.record_size()
    offset = _offsets(element)[name]
    return np.ndarray(
        (count,), dtype=np.dtype("<" + code), buffer=buf, offset=start + offset, strides=(stride,)
    )


def _decode(buf: memoryview, lay: _Layout) -> SplatCloud:
    n = lay.vertex.count
    chunks = -(-n // CHUNK_SPLATS)
    chunk_codes = dict(lay.chunk.props)

    def bounds(names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """(chunks, 3) float64 minima and maxima."""
        out = np.empty((chunks, 6), dtype=np.float64)
        start = lay.starts["chunk"]
        for j, name in enumerate(names):
            out[:, j] = _column(buf, start, lay.chunk, name, chunk_codes[name], chunks)
        return out[:, :3], out[:, 3:]

    # The vertex records, copied once into aligned memory: each packed word is then a
    # strided view, and so is each byte of the colour word (little-endian: a, b, g, r).
    vstart, stride = lay.starts["vertex"], lay.vertex.record_size()
    records = np.empty((n, stride), dtype=np.uint8)  # aligned, unlike the file's bytes
    records[...] = np.ndarray((n, stride), dtype=np.uint8, buffer=buf, offset=vstart)

    def word(name: str) -> np.ndarray:
        at = lay.offsets[name]
        return records[:, at : at + 4].view("<u4")[:, 0]

    positions = _unpack_11_10_11(word("packed_position"), *bounds(POSITION_BOUNDS))
    log_scales = _unpack_11_10_11(word("packed_scale"), *bounds(SCALE_BOUNDS))
    rotations = _rotations(word("packed_rotation"))

    at = lay.offsets["packed_color"]
    opacity_logit = U8_OPACITY_LOGIT[records[:, at]]
    sh_dc = np.empty((n, 3), dtype=np.float32)
    if lay.colour_bounds:
        lo, hi = bounds(COLOUR_BOUNDS)
        # dc = (lo + b / 255 * (hi - lo) - 0.5) / SH_C0, as one multiply-add per value.
        scale, offset = (hi - lo) / (255 * SH_C0), (lo - 0.5) / SH_C0
        for c in range(3):
            _per_chunk(records[:, at + 3 - c], scale[:, c], offset[:, c], sh_dc[:, c])
    else:  # early files: the bytes are the display colour itself
        for c in range(3):
            sh_dc[:, c] = RGB_DC[records[:, at + 3 - c]]

    k = lay.rest
    if k and lay.sh is not None:
        sh_stride = lay.sh.record_size()
        sh_bytes: np.ndarray = np.ndarray(
            (n, sh_stride), dtype=np.uint8, buffer=buf, offset=lay.starts["sh"]
        )
        # The file is channel-major (f_rest_<c * k + i>); SplatCloud is (n, k, channel):
        # one gather of each splat's bytes in that order, then one table lookup per
        # pair of bytes (half the lookups of one per byte).
        order = np.asarray(lay.sh_order).reshape(3, k).T.ravel()
        size = n * 3 * k
        gathered = np.empty(size + size % 2, dtype=np.uint8)
        np.take(sh_bytes, order, axis=1, out=gathered[:size].reshape(n, 3 * k))
        gathered[size:] = 0
        pairs = SH_BYTE_PAIRS[gathered.view("<u2")]
        sh_rest = pairs.view(np.float32)[:size].reshape(n, k, 3)
    else:
        sh_rest = np.zeros((n, 0, 3), dtype=np.float32)

    warnings = []
    if lay.extra:
        warnings.append(
            f"The compressed PLY's vertex properties {', '.join(lay.extra)} are not part of "
            "the format and were ignored."
        )
    # The six arrays in SplatCloud's order (positions ... sh_rest).
    arrays = positions, log_scales, rotations, opacity_logit, sh_dc, sh_rest
    return SplatCloud(*arrays, warnings=warnings, **UPRIGHT["compressed ply"].declared())


def _per_chunk(values: np.ndarray, scale: np.ndarray, offset: np.ndarray, out: np.ndarray) -> None:
    """``out = values * scale + offset``, with the scale and offset of each row's chunk.

    values: (n,) integers; scale, offset: (chunks,) float64; out: (n,) float32, any stride.
    One float32 temporary, worked on a chunk row (256 values) at a time.
    """
    n = len(values)
    f = values.astype(np.float32)
    full = n // CHUNK_SPLATS
    body = f[: full * CHUNK_SPLATS].reshape(full, CHUNK_SPLATS)
    body *= scale[:full, None].astype(np.float32)
    body += offset[:full, None].astype(np.float32)
    if full * CHUNK_SPLATS < n:
        tail = f[full * CHUNK_SPLATS :]
        tail *= np.float32(scale[full])
        tail += np.float32(offset[full])
    out[:] = f


def _unpack_11_10_11(words: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """(n, 3) float32 from 11-10-11 bit fractions (x high, z low) between chunk bounds.

    ``lo + u / (2^bits - 1) * (hi - lo)`` per value: one multiply-add with a per-chunk
    scale, bit-for-bit what splat-transform computes but for float32 rounding.
    """
    n = len(words)
    out = np.empty((n, 3), dtype=np.float32)
    field = np.empty(n, dtype=np.uint32)
    for j, (shift, bits) in enumerate(((21, 11), (11, 10), (0, 11))):
        mask = (1 << bits) - 1
        np.right_shift(words, np.uint32(shift), out=field)
        np.bitwise_and(field, np.uint32(mask), out=field)
        _per_chunk(field, (hi[:, j] - lo[:, j]) / mask, lo[:, j], out[:, j])
    return out


def _rotations(words: np.ndarray) -> np.ndarray:
    """(n, 4) w x y z from the 2+10+10+10 "smallest three" packing of rot_0..3."""
    n = len(words)
    field = np.empty(n, dtype=np.uint32)
    values = np.empty((3, n), dtype=np.float32)
    for j, shift in enumerate((20, 10, 0)):  # (u / 1023 - 0.5) * sqrt(2)
        np.right_shift(words, np.uint32(shift), out=field)
        np.bitwise_and(field, np.uint32(0x3FF), out=field)
        v = values[j]
        v[:] = field
        v *= _SQRT2 / np.float32(1023)
        v -= _SQRT2 / np.float32(2)
    big = np.einsum("ij,ij->j", values, values)
    np.subtract(np.float32(1), big, out=big)
    np.maximum(big, np.float32(0), out=big)
    np.sqrt(big, out=big)
    largest = (words >> np.uint32(30)).astype(np.uint8)
    v0, v1, v2 = values
    q = np.empty((n, 4), dtype=np.float32)
    # Component i: the largest where L == i, else stored value i where i < L, i - 1 where i > L.
    q[:, 0] = np.where(largest == 0, big, v0)
    q[:, 1] = np.where(largest == 1, big, np.where(largest > 1, v1, v0))
    q[:, 2] = np.where(largest == 2, big, np.where(largest > 2, v2, v1))
    q[:, 3] = np.where(largest == 3, big, v2)
    return q
