"""Read and write 3D Gaussian splat PLY files (the Inria 3DGS layout and its variants).

The reader follows the header, not a fixed layout: writers differ in property
order, types, byte order, normals, SH degree and extra properties. Records are
never looped over in Python; each group of columns is copied out of the file's
bytes with one strided numpy copy, so a million splats parse in a fraction of a
second. No bpy here: this runs on worker threads and in plain-Python tests.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field

import numpy as np

from .cloud import SH_REST_COUNT, SplatCloud, SplatFormatError
from .points import points_cloud

__all__ = ["read_ply", "read_ply_file", "write_ply"]

PLY_TYPES: dict[str, str] = {
    "char": "i1",
    "int8": "i1",
    "uchar": "u1",
    "uint8": "u1",
    "short": "i2",
    "int16": "i2",
    "ushort": "u2",
    "uint16": "u2",
    "int": "i4",
    "int32": "i4",
    "uint": "u4",
    "uint32": "u4",
    "float": "f4",
    "float32": "f4",
    "double": "f8",
    "float64": "f8",
}
"""PLY scalar type names (both spellings) to numpy type codes, byte order left out."""

_FORMATS = {"ascii": "", "binary_little_endian": "<", "binary_big_endian": ">"}

REQUIRED = (
    "x",
    "y",
    "z",
    "f_dc_0",
    "f_dc_1",
    "f_dc_2",
    "opacity",
    "scale_0",
    "scale_1",
    "scale_2",
    "rot_0",
    "rot_1",
    "rot_2",
    "rot_3",
)
"""Vertex properties every 3DGS PLY has; without them there is no Gaussian to show."""

SPLAT_ONLY = (*REQUIRED[3:], "f_rest_0")
"""Properties only Gaussian splats have: with none of them, a PLY is a point cloud."""

_NORMALS = ("nx", "ny", "nz")
_COLOURS = (("red", "green", "blue"), ("diffuse_red", "diffuse_green", "diffuse_blue"))
_MESH_ELEMENTS = ("face", "tristrips", "edge")
_F_REST = re.compile(r"f_rest_(\d+)")
_MAX_HEADER = 1 << 20
"""Headers are a few KB; looking further only wastes time on a file that is not PLY."""

_OTHER_MAGIC = {
    b"\x28\xb5\x2f\xfd": "a zstd-compressed file (404's SPZ); import it as SPZ",
    b"\x1f\x8b": "a gzip-compressed file (an SPZ?); import it as SPZ",
    b"NGSP": "an SPZ version 4 file; import it as SPZ",
    b"<": "text or HTML (an error page instead of a model?)",
    b"{": "JSON (an error response instead of a model?)",
}


@dataclass
class _Element:
    name: str
    count: int
    props: list[tuple[str, str]] = field(default_factory=list)  # (name, numpy code)
    lists: list[str] = field(default_factory=list)  # names of list properties
    unknown: list[str] = field(default_factory=list)  # errors, raised only if we need the data

    def record_size(self) -> int:
        return sum(np.dtype(code).itemsize for _, code in self.props)


@dataclass
class _Header:
    fmt: str  # "ascii", "binary_little_endian" or "binary_big_endian"
    elements: list[_Element]
    body_start: int  # byte offset of the first data byte


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
    """Parse a 3DGS PLY (binary little/big endian or ASCII) into a SplatCloud.

    A PLY with positions but no splat properties (a scan's point cloud, coloured
    or not) becomes round, opaque splats of a default size; cloud.warnings says so.
    Raises SplatFormatError with a message that says what is wrong and what to do.
    The returned arrays are copies: ``data`` may be reused or freed afterwards.
    """
    # numpy arrays are buffers too (read_ply_file passes one).
    buf = memoryview(data)  # type: ignore[arg-type]
    if buf.ndim != 1 or buf.itemsize != 1:
        buf = buf.cast("B")
    header = _parse_header(buf)
    vertex, skip = _vertex_element(header)
    splats = _check_vertex_props(vertex, header)

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
        names += list(_NORMALS)
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


def _not_ply(buf: memoryview) -> SplatFormatError:
    head = bytes(buf[:4])
    if not head:
        return SplatFormatError("The file is empty, not a PLY. Download or export it again.")
    for magic, what in _OTHER_MAGIC.items():
        if head.lstrip().startswith(magic):
            return SplatFormatError(f"Not a PLY file: it looks like {what}.")
    return SplatFormatError(
        "Not a PLY file: it does not start with the 'ply' signature. "
        "Choose a .ply file with 3D Gaussian splats."
    )


def _parse_header(buf: memoryview) -> _Header:
    head = bytes(buf[:_MAX_HEADER])
    if not (head.startswith(b"ply\n") or head.startswith(b"ply\r\n")):
        raise _not_ply(buf)

    fmt: str | None = None
    elements: list[_Element] = []
    pos = 0
    lineno = 0
    while True:
        nl = head.find(b"\n", pos)
        if nl < 0:
            where = "within the first 1 MiB" if len(head) == _MAX_HEADER else "at all"
            raise SplatFormatError(
                f"PLY header has no 'end_header' line {where}: the file is cut off or "
                "corrupt. Download or export it again."
            )
        raw, pos = head[pos:nl], nl + 1
        lineno += 1
        words = raw.decode("utf-8", errors="replace").split()
        if lineno == 1 or not words:
            continue  # the 'ply' signature, or a blank line some writers leave
        keyword = words[0]
        if keyword == "end_header":
            break
        if keyword in ("comment", "obj_info"):
            continue
        if keyword == "format":
            if len(words) < 2 or words[1] not in _FORMATS:
                got = words[1] if len(words) > 1 else "nothing"
                raise SplatFormatError(
                    f"PLY format {got!r} is not supported; expected binary_little_endian, "
                    "binary_big_endian or ascii."
                )
            fmt = words[1]
        elif keyword == "element":
            elements.append(_parse_element(words, lineno))
        elif keyword == "property":
            if not elements:
                raise SplatFormatError(
                    f"PLY header line {lineno}: a property before any element; "
                    "the header is corrupt."
                )
            _parse_property(elements[-1], words, lineno)
        else:
            raise SplatFormatError(
                f"PLY header line {lineno}: unknown keyword {keyword!r}; "
                "the header is corrupt or not PLY."
            )
    if fmt is None:
        raise SplatFormatError("PLY header has no 'format' line; the header is corrupt.")
    return _Header(fmt=fmt, elements=elements, body_start=pos)


def _parse_element(words: list[str], lineno: int) -> _Element:
    if len(words) != 3 or not words[2].isdigit():
        raise SplatFormatError(
            f"PLY header line {lineno}: expected 'element <name> <count>', got {' '.join(words)!r}."
        )
    return _Element(name=words[1], count=int(words[2]))


def _parse_property(element: _Element, words: list[str], lineno: int) -> None:
    if len(words) >= 2 and words[1] == "list":
        if len(words) != 5:
            raise SplatFormatError(
                f"PLY header line {lineno}: expected 'property list <count type> <type> <name>'."
            )
        element.lists.append(words[4])
        return
    if len(words) != 3:
        raise SplatFormatError(
            f"PLY header line {lineno}: expected 'property <type> <name>', got {' '.join(words)!r}."
        )
    code = PLY_TYPES.get(words[1])
    if code is None:
        # Fatal only for vertex data and what precedes it; later elements are never read.
        element.unknown.append(
            f"PLY header line {lineno}: unknown property type {words[1]!r} for "
            f"{words[2]!r}; expected one of {', '.join(sorted(set(PLY_TYPES)))}."
        )
        return
    if words[2] in (name for name, _ in element.props) or words[2] in element.lists:
        raise SplatFormatError(
            f"PLY header line {lineno}: property {words[2]!r} appears twice in "
            f"element {element.name!r}."
        )
    element.props.append((words[2], code))


def _vertex_element(header: _Header) -> tuple[_Element, list[_Element]]:
    """The vertex element and the elements stored before it (whose data must be skipped)."""
    for i, element in enumerate(header.elements):
        if element.name == "vertex":
            before = header.elements[:i]
            for other in [*before, element]:
                if other.unknown:
                    raise SplatFormatError(other.unknown[0])
            for other in before:
                if other.lists and other.count:
                    raise SplatFormatError(
                        f"PLY element {other.name!r} comes before 'vertex' and has list "
                        "properties, which this reader cannot skip. Re-export the file with "
                        "the vertex element first."
                    )
            return element, before
    names = ", ".join(repr(e.name) for e in header.elements) or "none"
    raise SplatFormatError(
        f"PLY file has no 'vertex' element (elements: {names}); it does not look like "
        "a 3D Gaussian splat PLY."
    )


def _check_vertex_props(vertex: _Element, header: _Header) -> bool:
    """True for Gaussian splats, False for a plain point cloud; raises for anything else."""
    if vertex.lists:
        raise SplatFormatError(
            f"PLY vertex element has list properties ({', '.join(vertex.lists)}); a 3D "
            "Gaussian splat PLY stores only scalar per-splat properties. Re-export it "
            "as a 3DGS PLY."
        )
    have = [name for name, _ in vertex.props]
    present = set(have)
    shown = ", ".join(have[:16]) + (", ..." if len(have) > 16 else "") if have else "none"
    if any(name in present for name in SPLAT_ONLY):
        missing = [name for name in REQUIRED if name not in present]
        if missing:
            raise SplatFormatError(
                f"PLY vertex element lacks {', '.join(missing)}; this file doesn't look like "
                f"a 3D Gaussian splat PLY (its vertex properties: {shown}). Re-export it "
                "with every splat property."
            )
        return True
    if not {"x", "y", "z"} <= present:
        raise SplatFormatError(
            f"PLY vertex element has no x, y, z positions (its properties: {shown}); "
            "there is nothing to place. Choose a PLY with Gaussian splats or points."
        )
    faces = sum(e.count for e in header.elements if e.name in _MESH_ELEMENTS)
    if faces:
        raise SplatFormatError(
            f"This PLY is a mesh ({faces:,} faces or edges over {vertex.count:,} vertices), "
            "not Gaussian splats or a point cloud. Import it with File > Import > "
            "Stanford PLY instead."
        )
    return False


def _sh_rest_layout(vertex: _Element) -> tuple[list[str], list[str], int, str | None]:
    """Which f_rest properties to read, all of them, K per channel, and a warning.

    f_rest is channel-major: f_rest_<c*P + k> is coefficient k of channel c, with P
    the file's count per channel. "Partial" SH (P not 0, 3, 8 or 15) keeps, in each
    channel, the first coefficients of the highest complete degree: bands are stored
    in order, so those are exactly the lower bands. When the channels cannot be told
    apart (a count not divisible by 3, gaps in the numbering), only degree 0 is safe.
    """
    found = sorted(int(m.group(1)) for name, _ in vertex.props if (m := _F_REST.fullmatch(name)))
    every = [f"f_rest_{i}" for i in found]
    total = len(found)
    if total == 0:
        return [], every, 0, None
    if found != list(range(total)):
        return (
            [],
            every,
            0,
            (
                f"The PLY's {total} f_rest properties are not numbered 0..{total - 1} without "
                "gaps, so their colour channels are unknown: view-dependent colour was dropped "
                "(SH degree 0)."
            ),
        )
    if total % 3:
        return (
            [],
            every,
            0,
            (
                f"The PLY has {total} f_rest properties, which do not split into three colour "
                "channels: view-dependent colour was dropped (SH degree 0)."
            ),
        )
    per_channel = total // 3
    degree = max(d for d, k in SH_REST_COUNT.items() if k <= per_channel)
    k = SH_REST_COUNT[degree]
    names = [f"f_rest_{c * per_channel + i}" for c in range(3) for i in range(k)]
    if k == per_channel:
        return names, every, k, None
    return (
        names,
        every,
        k,
        (
            f"The PLY has {total} f_rest properties ({per_channel} per colour channel); SH "
            f"degrees 0-3 use 0, 9, 24 or 45. Kept SH degree {degree} ({k} per channel) and "
            f"dropped {per_channel - k} per channel."
        ),
    )


# --- data ----------------------------------------------------------------------------


def _count_error(n: int, present: int, record: str) -> SplatFormatError:
    if present * 2 < n:
        return SplatFormatError(
            f"PLY header claims {n:,} splats but the data has room for only {present:,} "
            f"({record}); the header is corrupt or most of the file is missing. "
            "Download or export it again."
        )
    return SplatFormatError(
        f"PLY data is truncated: expected {n:,} splats, only {present:,} are present "
        f"({record}). The download or export was cut off; fetch the file again."
    )


def _binary_columns(
    buf: memoryview, header: _Header, vertex: _Element, skip: list[_Element]
) -> _Columns:
    return _Columns(buf, *_binary_layout(len(buf), header, vertex, skip))


def _binary_layout(
    size: int, header: _Header, vertex: _Element, skip: list[_Element]
) -> tuple[int, int, int, list[int], list[np.dtype]]:
    """Where the vertex records of a binary PLY of ``size`` bytes lie.

    (start, count, stride, offsets, dtypes); raises if the claimed count does not fit.
    """
    order = "<" if header.fmt == "binary_little_endian" else ">"
    dtypes = [np.dtype(order + code) for _, code in vertex.props]
    offsets = [0]
    for dt in dtypes[:-1]:
        offsets.append(offsets[-1] + dt.itemsize)
    stride = offsets[-1] + dtypes[-1].itemsize
    start = header.body_start + sum(e.count * e.record_size() for e in skip)
    available = max(0, size - start)
    n = vertex.count
    # Checked before anything is allocated: a tiny file claiming 10^9 splats stops here.
    if n * stride > available:
        raise _count_error(n, available // stride, f"{stride} bytes each, {available:,} bytes")
    return start, n, stride, offsets, dtypes


def _ascii_columns(
    buf: memoryview, header: _Header, vertex: _Element, skip: list[_Element]
) -> _Columns:
    n = vertex.count
    width = len(vertex.props)
    first = sum(e.count * len(e.props) for e in skip)
    needed = first + n * width
    body = bytes(buf[header.body_start :])
    # Each value takes at least two bytes (a digit and a separator): refuse before parsing.
    if needed * 2 - 1 > len(body):
        raise _count_error(n, len(body) // max(1, 2 * width), f"{len(body):,} bytes of text")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            values = np.fromstring(body, dtype=np.float64, sep=" ")  # type: ignore[call-overload]
        except ValueError:  # future numpy: raises instead of warning on a bad token
            values, caught = np.empty(0), [None]  # type: ignore[list-item]
    if values.size == 1 and not body.strip():
        values = values[:0]  # numpy reads whitespace-only text as [-1.0]
    if values.size < needed:
        if caught:
            raise SplatFormatError(
                f"ASCII PLY data has a non-numeric value after {values.size:,} numbers; "
                "the file is corrupt. Export it again."
            )
        present = max(0, values.size - first) // width
        raise _count_error(n, present, f"{width} values each")
    table = values[first:needed].reshape(n, width)
    f8 = np.dtype(np.float64)
    return _Columns(table, 0, n, width * 8, [8 * i for i in range(width)], [f8] * width)


def _build_cloud(vertex: _Element, cols: _Columns) -> SplatCloud:
    index = {name: i for i, (name, _) in enumerate(vertex.props)}
    rest_names, every_rest, k, warning = _sh_rest_layout(vertex)

    def take(*names: str) -> np.ndarray:
        return cols.gather([index[name] for name in names])

    has_normals = all(name in index for name in _NORMALS)
    known = set(REQUIRED) | set(every_rest) | (set(_NORMALS) if has_normals else set())
    extra = {name: take(name).reshape(cols.count) for name, _ in vertex.props if name not in known}
    return SplatCloud(
        positions=take("x", "y", "z"),
        log_scales=take("scale_0", "scale_1", "scale_2"),
        rotations=take("rot_0", "rot_1", "rot_2", "rot_3"),
        opacity_logit=take("opacity").reshape(cols.count),
        sh_dc=take("f_dc_0", "f_dc_1", "f_dc_2"),
        sh_rest=cols.gather_sh_rest([index[name] for name in rest_names], k),
        normals=take(*_NORMALS) if has_normals else None,
        extra=extra,
        warnings=[warning] if warning else [],
    )


def _build_points(vertex: _Element, cols: _Columns) -> SplatCloud:
    """A point cloud: positions, colours if it has them, everything else kept as extras."""
    index = {name: i for i, (name, _) in enumerate(vertex.props)}
    codes = dict(vertex.props)
    channels = next((c for c in _COLOURS if all(name in index for name in c)), None)
    rgb = None
    if channels:
        rgb = cols.gather([index[name] for name in channels])
        code = codes[channels[0]]
        if code[0] in "iu":  # integers: full scale of the type is white
            rgb /= np.float32(np.iinfo(np.dtype(code)).max)
        elif rgb.size and float(np.nanmax(rgb)) > 1.0:  # float 0..255, as some tools write
            rgb /= np.float32(255)
    has_normals = all(name in index for name in _NORMALS)
    known = {"x", "y", "z", *(channels or ()), *(_NORMALS if has_normals else ())}
    extra = {
        name: cols.gather([index[name]]).reshape(cols.count)
        for name, _ in vertex.props
        if name not in known
    }
    return points_cloud(
        cols.gather([index["x"], index["y"], index["z"]]),
        rgb,
        normals=cols.gather([index[name] for name in _NORMALS]) if has_normals else None,
        extra=extra,
    )
