# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""The header of a PLY file, and where its vertex records lie (no bpy).

Shared by the whole-file reader (``ply.py``) and the streamed import
(``ply_rows.py``), so both accept and refuse exactly the same files with the
same messages, and both check a claimed splat count against the file's size
before allocating anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from .cloud import SH_REST_COUNT, SplatFormatError

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

FORMATS = {"ascii": "", "binary_little_endian": "<", "binary_big_endian": ">"}

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

NORMALS = ("nx", "ny", "nz")
COLOURS = (("red", "green", "blue"), ("diffuse_red", "diffuse_green", "diffuse_blue"))
MESH_ELEMENTS = ("face", "tristrips", "edge")
F_REST = re.compile(r"f_rest_(\d+)")
MAX_HEADER = 1 << 20
"""Headers are a few KB; looking further only wastes time on a file that is not PLY."""

OTHER_MAGIC = {
    b"\x28\xb5\x2f\xfd": "a zstd-compressed file (404's SPZ); import it as SPZ",
    b"\x1f\x8b": "a gzip-compressed file (an SPZ?); import it as SPZ",
    b"NGSP": "an SPZ version 4 file; import it as SPZ",
    b"<": "text or HTML (an error page instead of a model?)",
    b"{": "JSON (an error response instead of a model?)",
}


@dataclass
class Element:
    """One element of the header: its name, count and scalar properties."""

    name: str
    count: int
    props: list[tuple[str, str]] = field(default_factory=list)  # (name, numpy code)
    lists: list[str] = field(default_factory=list)  # names of list properties
    unknown: list[str] = field(default_factory=list)  # errors, raised only if we need the data
    names: set[str] = field(default_factory=set)  # of props: a duplicate is found in O(1)

    def record_size(self) -> int:
        return sum(np.dtype(code).itemsize for _, code in self.props)


@dataclass
class Header:
    """A parsed PLY header."""

    fmt: str  # "ascii", "binary_little_endian" or "binary_big_endian"
    elements: list[Element]
    body_start: int  # byte offset of the first data byte


def not_ply(buf: memoryview) -> SplatFormatError:
    head = bytes(buf[:4])
    if not head:
        return SplatFormatError("The file is empty, not a PLY. Download or export it again.")
    for magic, what in OTHER_MAGIC.items():
        if head.lstrip().startswith(magic):
            return SplatFormatError(f"Not a PLY file: it looks like {what}.")
    return SplatFormatError(
        "Not a PLY file: it does not start with the 'ply' signature. "
        "Choose a .ply file with 3D Gaussian splats."
    )


def parse_header(buf: memoryview) -> Header:
    """Parse the header at the start of ``buf``; SplatFormatError says what is wrong."""
    head = bytes(buf[:MAX_HEADER])
    if not (head.startswith(b"ply\n") or head.startswith(b"ply\r\n")):
        raise not_ply(buf)

    fmt: str | None = None
    elements: list[Element] = []
    pos = 0
    lineno = 0
    while True:
        nl = head.find(b"\n", pos)
        if nl < 0:
            where = "within the first 1 MiB" if len(head) == MAX_HEADER else "at all"
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
            if len(words) < 2 or words[1] not in FORMATS:
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
    return Header(fmt=fmt, elements=elements, body_start=pos)


def _parse_element(words: list[str], lineno: int) -> Element:
    if len(words) != 3 or not words[2].isdigit():
        raise SplatFormatError(
            f"PLY header line {lineno}: expected 'element <name> <count>', got {' '.join(words)!r}."
        )
    return Element(name=words[1], count=int(words[2]))


def _parse_property(element: Element, words: list[str], lineno: int) -> None:
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
    if words[2] in element.names or words[2] in element.lists:
        raise SplatFormatError(
            f"PLY header line {lineno}: property {words[2]!r} appears twice in "
            f"element {element.name!r}."
        )
    element.names.add(words[2])
    element.props.append((words[2], code))


def vertex_element(header: Header) -> tuple[Element, list[Element]]:
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


def check_vertex_props(vertex: Element, header: Header) -> bool:
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
    faces = sum(e.count for e in header.elements if e.name in MESH_ELEMENTS)
    if faces:
        raise SplatFormatError(
            f"This PLY is a mesh ({faces:,} faces or edges over {vertex.count:,} vertices), "
            "not Gaussian splats or a point cloud. Import it with File > Import > "
            "Stanford PLY instead."
        )
    return False


def sh_rest_layout(vertex: Element) -> tuple[list[str], list[str], int, str | None]:
    """Which f_rest properties to read, all of them, K per channel, and a warning.

    f_rest is channel-major: f_rest_<c*P + k> is coefficient k of channel c, with P
    the file's count per channel. "Partial" SH (P not 0, 3, 8 or 15) keeps, in each
    channel, the first coefficients of the highest complete degree: bands are stored
    in order, so those are exactly the lower bands. When the channels cannot be told
    apart (a count not divisible by 3, gaps in the numbering), only degree 0 is safe.
    """
    found = sorted(int(m.group(1)) for name, _ in vertex.props if (m := F_REST.fullmatch(name)))
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


def count_error(n: int, present: int, record: str) -> SplatFormatError:
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


def binary_layout(
    size: int, header: Header, vertex: Element, skip: list[Element]
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
        raise count_error(n, available // stride, f"{stride} bytes each, {available:,} bytes")
    return start, n, stride, offsets, dtypes
