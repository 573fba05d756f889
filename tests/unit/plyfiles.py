"""Write PLY test files by hand, independently of ``splats/ply.py``.

The reader under test must not check itself: these helpers build headers as text
and records with numpy structured arrays (or ``np.savetxt`` for ASCII), so a bug
shared by reader and writer cannot hide.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

NUMPY_CODE = {
    name: code
    for names, code in (
        ("char int8", "i1"),
        ("uchar uint8", "u1"),
        ("short int16", "i2"),
        ("ushort uint16", "u2"),
        ("int int32", "i4"),
        ("uint uint32", "u4"),
        ("float float32", "f4"),
        ("double float64", "f8"),
    )
    for name in names.split()
}
"""Every PLY scalar type name, in both spellings, to a numpy type code."""

REST_PER_CHANNEL = {0: 0, 1: 3, 2: 8, 3: 15}

BYTE_ORDER = {"binary_little_endian": "<", "binary_big_endian": ">", "ascii": "<"}


@dataclass
class RawElement:
    """An element written verbatim: header lines (no trailing newline) and its data."""

    header: str
    data: bytes


def splat_names(degree: int = 0, normals: bool = False) -> list[str]:
    """3DGS property names in the Inria order (normals and f_rest only if asked)."""
    names = ["x", "y", "z"]
    if normals:
        names += ["nx", "ny", "nz"]
    names += ["f_dc_0", "f_dc_1", "f_dc_2"]
    names += [f"f_rest_{i}" for i in range(3 * REST_PER_CHANNEL[degree])]
    names += ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    return names


def splat_columns(
    n: int, degree: int = 0, normals: bool = False, seed: int = 0
) -> dict[str, np.ndarray]:
    """Random float32 values for every 3DGS property of ``n`` splats, Inria order.

    Every value is distinct, so a column landing in the wrong place is always seen.
    """
    rng = np.random.default_rng(seed)
    names = splat_names(degree, normals)
    values = rng.permutation(n * len(names)).astype(np.float32) / 8.0 - 100.0
    table = values.reshape(len(names), n)
    return {name: table[i].copy() for i, name in enumerate(names)}


def expected_sh_rest(columns: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    """(n, K, 3) coefficient-major SH from PLY's channel-major f_rest_<c*K + k>, by index."""
    total = sum(1 for name in columns if name.startswith("f_rest_"))
    k = total // 3
    out = np.zeros((n, k, 3), dtype=np.float32)
    for coef in range(k):
        for channel in range(3):
            out[:, coef, channel] = columns[f"f_rest_{channel * k + coef}"]
    return out


def make_ply(
    columns: Mapping[str, np.ndarray],
    *,
    types: Mapping[str, str] | None = None,
    order: Iterable[str] | None = None,
    fmt: str = "binary_little_endian",
    newline: str = "\n",
    comments: Iterable[str] = (),
    count: int | None = None,
    before: Iterable[RawElement] = (),
    after: Iterable[RawElement] = (),
    extra_vertex_header: Iterable[str] = (),
) -> bytes:
    """PLY bytes with one vertex element holding ``columns``.

    types:   PLY type name per property (default ``float``); values are cast to it.
    order:   property order in the file (default: the mapping's order).
    fmt:     ascii, binary_little_endian or binary_big_endian.
    newline: header line ending (``\\n`` or ``\\r\\n``; ASCII data uses it too).
    count:   vertex count to claim in the header (default: the real one), to fake
             truncated or absurd files.
    before/after: other elements written before/after the vertex element.
    extra_vertex_header: raw lines appended to the vertex element's header, e.g. a
             ``property list ...`` line.
    """
    types = dict(types or {})
    names = list(order) if order is not None else list(columns)
    n = len(next(iter(columns.values()))) if columns else 0
    ply_types = [types.get(name, "float") for name in names]

    head = ["ply", f"format {fmt} 1.0"]
    head += [f"comment {c}" for c in comments]
    for element in before:
        head += element.header.split("\n")
    head.append(f"element vertex {n if count is None else count}")
    head += [f"property {t} {name}" for t, name in zip(ply_types, names, strict=True)]
    head += list(extra_vertex_header)
    for element in after:
        head += element.header.split("\n")
    head.append("end_header")
    header = newline.join(head) + newline

    order_char = BYTE_ORDER[fmt]
    dtype = np.dtype({"names": names, "formats": [order_char + NUMPY_CODE[t] for t in ply_types]})
    records = np.zeros(n, dtype=dtype)
    for name in names:
        records[name] = columns[name]

    if fmt == "ascii":
        formats = [
            "%.17g" if NUMPY_CODE[t] == "f8" else "%.9g" if NUMPY_CODE[t] == "f4" else "%d"
            for t in ply_types
        ]
        text = io.StringIO()
        np.savetxt(text, records, fmt=formats, delimiter=" ", newline=newline)
        body = text.getvalue().encode("ascii")
    else:
        body = records.tobytes()
    return (
        header.encode("ascii")
        + b"".join(e.data for e in before)
        + body
        + b"".join(e.data for e in after)
    )


def face_element(fmt: str = "binary_little_endian") -> RawElement:
    """Two triangles as a list-property element, the way mesh PLYs store faces."""
    header = "element face 2\nproperty list uchar int vertex_indices"
    if fmt == "ascii":
        return RawElement(header, b"3 0 1 2\n3 2 1 0\n")
    order = BYTE_ORDER[fmt]
    rows = [(3, (0, 1, 2)), (3, (2, 1, 0))]
    data = b"".join(
        np.array([c], "u1").tobytes() + np.array(idx, order + "i4").tobytes() for c, idx in rows
    )
    return RawElement(header, data)


def scalar_element(
    name: str, rows: int, fmt: str = "binary_little_endian", types: tuple[str, ...] = ("double",)
) -> RawElement:
    """An element with scalar properties only (e.g. a camera block), filled with 7s."""
    header = f"element {name} {rows}\n" + "\n".join(
        f"property {t} {name}_p{i}" for i, t in enumerate(types)
    )
    if fmt == "ascii":
        return RawElement(
            header, b"".join(b" ".join([b"7"] * len(types)) + b"\n" for _ in range(rows))
        )
    order = BYTE_ORDER[fmt]
    dtype = np.dtype(
        {
            "names": [f"p{i}" for i in range(len(types))],
            "formats": [order + NUMPY_CODE[t] for t in types],
        }
    )
    records = np.zeros(rows, dtype=dtype)
    for field_name in dtype.names or ():
        records[field_name] = 7
    return RawElement(header, records.tobytes())
