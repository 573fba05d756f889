# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Read and write 3D Gaussian splat PLY files (the Inria 3DGS layout and its variants).

The reader follows the header, not a fixed layout: writers differ in property
order, types, byte order, normals, SH degree and extra properties. Records are
never looped over in Python; each group of columns is copied out of the file's
bytes with one strided numpy copy, so a million splats parse in a fraction of a
second. No bpy here: this runs on worker threads and in plain-Python tests.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np

from .cloud import SH_REST_COUNT, SplatCloud, SplatFormatError
from .compressed_ply import is_compressed_ply, read_compressed_ply
from .ply_header import (
    COLOURS,
    NORMALS,
    REQUIRED,
    Element,
    Header,
    binary_layout,
    check_vertex_props,
    count_error,
    parse_header,
    sh_rest_layout,
    vertex_element,
)
from .points import points_cloud
from .upright import ply_upright

__all__ = ["read_ply", "read_ply_file", "write_ply"]


@dataclass
class _Columns:
    """The vertex records as columns over a buffer: (offset, dtype) per property.

    The buffer is the file's bytes (binary PLY) or a float64 table (parsed ASCII).

    A column or a run of adjacent same-typed columns is a strided view of the
    buffer, so copying it out as float32 is one vectorised cast, with no
    intermediate structured array.
    """

    buf: memoryview | np.ndarray
    start: int
    count: int
    stride: int
    offsets: list[int]
    dtypes: list[np.dtype]

    def _block(self, first: int, width: int) -> np.ndarray:
        dt = self.dtypes[first]
        return np.ndarray(
            (self.count, width),
            dtype=dt,
            buffer=self.buf,
            offset=self.start + self.offsets[first],
            strides=(self.stride, dt.itemsize),
        )

    def gather(self, cols: list[int]) -> np.ndarray:
        """(count, len(cols)) float32 C-contiguous copy of the given columns, in that order.

        Doubles beyond float32's range become ±inf, quietly: that is their float32 value.
        """
        out = np.empty((self.count, len(cols)), dtype=np.float32)
        if self.count == 0:
            return out
        i = 0
        while i < len(cols):
            j = i + 1
            while (
                j < len(cols)
                and cols[j] == cols[j - 1] + 1
                and self.dtypes[cols[j]] == self.dtypes[cols[i]]
            ):
                j += 1
            with np.errstate(over="ignore"):
                out[:, i:j] = self._block(cols[i], j - i)
            i = j
        return out

    def gather_sh_rest(self, cols: list[int], k: int) -> np.ndarray:
        """(count, k, 3) float32 from f_rest columns in PLY's channel-major order."""
        if k == 0 or self.count == 0:
            return np.zeros((self.count, k, 3), dtype=np.float32)
        first = cols[0]
        dt = self.dtypes[first]
        if cols == list(range(first, first + 3 * k)) and all(self.dtypes[c] == dt for c in cols):
            # One strided (N, channel, coef) view, written transposed in a single pass.
            src: np.ndarray = np.ndarray(
                (self.count, 3, k),
                dtype=dt,
                buffer=self.buf,
                offset=self.start + self.offsets[first],
                strides=(self.stride, k * dt.itemsize, dt.itemsize),
            )
            out = np.empty((self.count, k, 3), dtype=np.float32)
            with np.errstate(over="ignore"):
                out[...] = src.transpose(0, 2, 1)
            return out
        flat = self.gather(cols)
        return np.ascontiguousarray(flat.reshape(self.count, 3, k).transpose(0, 2, 1))


def read_ply_file(path: str | os.PathLike) -> SplatCloud:
    """Read a splat PLY from disk in one read; see :func:`read_ply`.

    np.fromfile is the fastest single read measured here. A memory map is faster
    still but crashes the process (SIGBUS) if the file shrinks while mapped and
    locks the file on Windows, so it is not used.
    """
    return read_ply(np.fromfile(os.fspath(path), dtype=np.uint8))


def read_ply(data: bytes | bytearray | memoryview | np.ndarray) -> SplatCloud:
    """Parse a 3DGS PLY (binary little/big endian or ASCII, or compressed) into a SplatCloud.

    A PLY with positions but no splat properties (a scan's point cloud, coloured
    or not) becomes round, opaque splats of a default size; cloud.warnings says so.
    Raises SplatFormatError with a message that says what is wrong and what to do.
    The returned arrays are copies: ``data`` may be reused or freed afterwards.
    """
    # numpy arrays are buffers too (read_ply_file passes one).
    buf = memoryview(data)  # type: ignore[arg-type]
    if buf.ndim != 1 or buf.itemsize != 1:
        buf = buf.cast("B")
    header = parse_header(buf)
    if is_compressed_ply(header):  # PlayCanvas's .compressed.ply: packed, with chunk bounds
        return read_compressed_ply(buf, header)
    vertex, skip = vertex_element(header)
    splats = check_vertex_props(vertex, header)

    if header.fmt == "ascii":
        cols = _ascii_columns(buf, header, vertex, skip)
    else:
        cols = _binary_columns(buf, header, vertex, skip)
    return _build_cloud(vertex, cols) if splats else _build_points(vertex, cols)


def write_ply(cloud: SplatCloud) -> bytes:
    """Serialise a SplatCloud as a binary little-endian 3DGS PLY (all float32).

    Property order is the Inria one (x y z [nx ny nz] f_dc f_rest opacity scale rot),
    then extras, so any 3DGS viewer can open the result.
    """
    n = cloud.count
    k = cloud.sh_rest.shape[1]
    names = ["x", "y", "z"]
    blocks: list[np.ndarray] = [cloud.positions]
    if cloud.normals is not None:
        names += list(NORMALS)
        blocks.append(cloud.normals)
    names += ["f_dc_0", "f_dc_1", "f_dc_2"]
    blocks.append(cloud.sh_dc)
    names += [f"f_rest_{i}" for i in range(3 * k)]
    blocks.append(cloud.sh_rest.transpose(0, 2, 1).reshape(n, 3 * k))  # channel-major
    names += ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    blocks += [cloud.opacity_logit.reshape(n, 1), cloud.log_scales, cloud.rotations]
    for name, values in cloud.extra.items():
        if not name or any(ch.isspace() for ch in name) or name in names:
            raise SplatFormatError(f"extra property name {name!r} cannot be written to a PLY")
        names.append(name)
        blocks.append(np.asarray(values).reshape(n, 1))

    table = np.empty((n, len(names)), dtype="<f4")
    col = 0
    for block in blocks:
        table[:, col : col + block.shape[1]] = block
        col += block.shape[1]
    lines = ["ply", "format binary_little_endian 1.0", f"element vertex {n}"]
    lines += [f"property float {name}" for name in names]
    lines.append("end_header\n")
    return "\n".join(lines).encode("ascii") + table.tobytes()


# --- header --------------------------------------------------------------------------


# --- data ----------------------------------------------------------------------------


def _binary_columns(
    buf: memoryview, header: Header, vertex: Element, skip: list[Element]
) -> _Columns:
    return _Columns(buf, *binary_layout(len(buf), header, vertex, skip))


def _ascii_columns(
    buf: memoryview, header: Header, vertex: Element, skip: list[Element]
) -> _Columns:
    n = vertex.count
    width = len(vertex.props)
    first = sum(e.count * len(e.props) for e in skip)
    needed = first + n * width
    whole = buf[header.body_start :]
    # Each value takes at least two bytes (a digit and a separator): refuse before parsing.
    if needed * 2 - 1 > len(whole):
        raise count_error(n, len(whole) // max(1, 2 * width), f"{len(whole):,} bytes of text")
    # One record a line: parse the lines up to the last vertex, not what follows them
    # (faces, or a huge tail behind a small claim). Records spread over several lines
    # come up short here and are parsed from the whole text.
    end = _line_end(np.frombuffer(whole, dtype=np.uint8), sum(e.count for e in skip) + n)
    values, caught = _parse_ascii(bytes(whole[:end]))
    if values.size < needed and end < len(whole):
        values, caught = _parse_ascii(bytes(whole))
    if values.size < needed:
        if caught:
            raise SplatFormatError(
                f"ASCII PLY data has a non-numeric value after {values.size:,} numbers; "
                "the file is corrupt. Export it again."
            )
        present = max(0, values.size - first) // width
        raise count_error(n, present, f"{width} values each")
    table = values[first:needed].reshape(n, width)
    f8 = np.dtype(np.float64)
    return _Columns(table, 0, n, width * 8, [8 * i for i in range(width)], [f8] * width)


def _line_end(text: np.ndarray, lines: int) -> int:
    """Offset just past the ``lines``-th newline of ``text`` (or its end), a MiB at a time."""
    pos, left, step = 0, lines, 1 << 20
    while left > 0 and pos < len(text):
        newlines = np.flatnonzero(text[pos : pos + step] == 10)
        if len(newlines) >= left:
            return pos + int(newlines[left - 1]) + 1
        left -= len(newlines)
        pos += step
    return len(text)


def _parse_ascii(body: bytes) -> tuple[np.ndarray, list]:
    """Every number in ``body``, and whether a token was not a number."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            values = np.fromstring(body, dtype=np.float64, sep=" ")  # type: ignore[call-overload]
        except ValueError:  # future numpy: raises instead of warning on a bad token
            values, caught = np.empty(0), [None]  # type: ignore[list-item]
    if values.size == 1 and not body.strip():
        values = values[:0]  # numpy reads whitespace-only text as [-1.0]
    return values, list(caught)


def _build_cloud(vertex: Element, cols: _Columns) -> SplatCloud:
    index = {name: i for i, (name, _) in enumerate(vertex.props)}
    rest_names, every_rest, k, warning = sh_rest_layout(vertex)

    def take(*names: str) -> np.ndarray:
        return cols.gather([index[name] for name in names])

    has_normals = all(name in index for name in NORMALS)
    known = set(REQUIRED) | set(every_rest) | (set(NORMALS) if has_normals else set())
    extra = {name: take(name).reshape(cols.count) for name, _ in vertex.props if name not in known}
    sh_rest = cols.gather_sh_rest([index[name] for name in rest_names], k)
    upright = ply_upright(next(d for d, c in SH_REST_COUNT.items() if c == k))
    return SplatCloud(
        positions=take("x", "y", "z"),
        log_scales=take("scale_0", "scale_1", "scale_2"),
        rotations=take("rot_0", "rot_1", "rot_2", "rot_3"),
        opacity_logit=take("opacity").reshape(cols.count),
        sh_dc=take("f_dc_0", "f_dc_1", "f_dc_2"),
        sh_rest=sh_rest,
        normals=take(*NORMALS) if has_normals else None,
        extra=extra,
        warnings=[warning] if warning else [],
        file_up=upright.file_up,
        file_frame=upright.file_frame,
    )


def _build_points(vertex: Element, cols: _Columns) -> SplatCloud:
    """A point cloud: positions, colours if it has them, everything else kept as extras."""
    index = {name: i for i, (name, _) in enumerate(vertex.props)}
    codes = dict(vertex.props)
    channels = next((c for c in COLOURS if all(name in index for name in c)), None)
    rgb = None
    if channels:
        rgb = cols.gather([index[name] for name in channels])
        code = codes[channels[0]]
        if code[0] in "iu":  # integers: full scale of the type is white
            rgb /= np.float32(np.iinfo(np.dtype(code)).max)
        elif rgb.size and float(np.nanmax(rgb)) > 1.0:  # float 0..255, as some tools write
            rgb /= np.float32(255)
    has_normals = all(name in index for name in NORMALS)
    known = {"x", "y", "z", *(channels or ()), *(NORMALS if has_normals else ())}
    extra = {
        name: cols.gather([index[name]]).reshape(cols.count)
        for name, _ in vertex.props
        if name not in known
    }
    return points_cloud(
        cols.gather([index["x"], index["y"], index["z"]]),
        rgb,
        normals=cols.gather([index[name] for name in NORMALS]) if has_normals else None,
        extra=extra,
    )
