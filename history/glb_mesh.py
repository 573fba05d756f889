# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""The triangles of a GLB mesh result, with a colour each, for its thumbnail (no bpy).

Reads what a thumbnail needs and nothing more: the default scene's node tree
(matrices or translation/rotation/scale), each mesh primitive's triangles
(``POSITION``, ``indices``), and its colour: the material's ``baseColorFactor``
times ``COLOR_0`` where the file has vertex colours. Textures are not decoded.
Every offset, length and index is checked against the file before it is used:
a damaged or hostile GLB raises GlbError, never reads outside its own bytes.
Primitives this cannot read (compressed with Draco or meshopt, buffers outside
the file, lines or points) are skipped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..client.glb import CHUNK, HEADER, GlbError, check_glb

BIN_CHUNK = b"BIN\x00"
MAX_JSON_BYTES = 64 << 20
MAX_DEPTH = 64
MAX_VISITS = 100_000
"""Nodes nested deeper, or more node visits (a cycle, a hostile file), are refused."""
MAX_TRIANGLES = 4_000_000
"""Triangles drawn at most (404-mesh-v2 makes up to 2,000,000 faces): an even subsample
beyond."""
TRIANGLES = 4
_DTYPES = {5120: "i1", 5121: "u1", 5122: "<i2", 5123: "<u2", 5125: "<u4", 5126: "<f4"}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}
_NORMALISE = {5121: 255.0, 5123: 65535.0}


def read_chunks(path: Path) -> tuple[dict[str, Any], memoryview]:
    """The glTF JSON and the binary chunk (empty when there is none) of a checked GLB."""
    size = check_glb(path).size
    data = memoryview(path.read_bytes())
    if len(data) != size:
        raise GlbError("the file changed while it was being read")
    offset = HEADER.size
    json_length, _ = CHUNK.unpack_from(data, offset)
    start = offset + CHUNK.size
    if json_length > MAX_JSON_BYTES or start + json_length > size:
        raise GlbError(f"its JSON chunk ({json_length} bytes) does not fit in the file")
    try:
        document = json.loads(bytes(data[start : start + json_length]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise GlbError(f"its JSON chunk cannot be read: {exc}") from exc
    if not isinstance(document, dict):
        raise GlbError("its JSON chunk is not an object")
    offset = start + ((json_length + 3) & ~3)
    binary = memoryview(b"")
    if offset + CHUNK.size <= size:
        length, kind = CHUNK.unpack_from(data, offset)
        body = offset + CHUNK.size
        if kind == BIN_CHUNK and body + length <= size:
            binary = data[body : body + length]
    return document, binary


def _list(document: dict[str, Any], key: str) -> list[Any]:
    value = document.get(key, [])
    return value if isinstance(value, list) else []


def _item(items: list[Any], index: object) -> dict[str, Any]:
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(items):
        raise GlbError(f"it refers to an item {index!r} it does not have")
    item = items[index]
    if not isinstance(item, dict):
        raise GlbError(f"its item {index} is not an object")
    return item


def _numbers(value: object, count: int, default: tuple[float, ...]) -> np.ndarray:
    if value is None:
        return np.asarray(default, dtype=np.float64)
    array = np.asarray(value, dtype=np.float64) if isinstance(value, list) else np.zeros(0)
    if array.shape != (count,) or not np.isfinite(array).all():
        raise GlbError(f"a node or material holds {value!r} where {count} numbers belong")
    return array


def node_matrix(node: dict[str, Any]) -> np.ndarray:
    """A node's local 4x4 matrix: ``matrix`` (column-major) or T * R * S."""
    if "matrix" in node:
        return _numbers(node["matrix"], 16, ()).reshape(4, 4).T
    t = _numbers(node.get("translation"), 3, (0.0, 0.0, 0.0))
    x, y, z, w = _numbers(node.get("rotation"), 4, (0.0, 0.0, 0.0, 1.0))
    s = _numbers(node.get("scale"), 3, (1.0, 1.0, 1.0))
    rotation = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )
    matrix = np.eye(4)
    matrix[:3, :3] = rotation * s[None, :]
    matrix[:3, 3] = t
    return matrix


def read_accessor(document: dict[str, Any], binary: memoryview, index: object) -> np.ndarray:
    """An accessor's values as float64 (count, width), normalised integers scaled to 0..1."""
    accessor = _item(_list(document, "accessors"), index)
    kind = _DTYPES.get(accessor.get("componentType"))  # type: ignore[arg-type]
    width = _WIDTH.get(accessor.get("type"))  # type: ignore[arg-type]
    count = accessor.get("count")
    if kind is None or width is None or not isinstance(count, int) or count < 0:
        raise GlbError(f"its accessor {index} has a type this reader does not know")
    view = _item(_list(document, "bufferViews"), accessor.get("bufferView"))
    if view.get("buffer", 0) != 0 or "uri" in _item(_list(document, "buffers"), 0):
        raise GlbError("its data lies in a file outside the GLB")
    item = np.dtype(kind).itemsize * width
    stride = view.get("byteStride") or item
    start = int(view.get("byteOffset", 0)) + int(accessor.get("byteOffset", 0))
    length = int(view.get("byteLength", 0))
    end = start + (stride * (count - 1) + item if count else 0)
    if stride < item or start < 0 or end > int(view.get("byteOffset", 0)) + length:
        raise GlbError(f"its accessor {index} reaches outside its buffer view")
    if end > len(binary):
        raise GlbError(f"its accessor {index} reaches past the end of the file's data")
    values = np.ndarray(
        (count, width), dtype=kind, buffer=binary, offset=start, strides=(stride, item // width)
    ).astype(np.float64)
    if accessor.get("normalized") and accessor.get("componentType") in _NORMALISE:
        values /= _NORMALISE[accessor["componentType"]]
    return values


def _primitive(
    document: dict[str, Any], binary: memoryview, primitive: dict[str, Any], matrix: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """A primitive's triangles (T, 3, 3) in world space and their colours (T, 3)."""
    attributes = primitive.get("attributes")
    if primitive.get("mode", TRIANGLES) != TRIANGLES or not isinstance(attributes, dict):
        return None
    if "POSITION" not in attributes or primitive.get("extensions"):
        return None  # compressed (Draco, meshopt): not read here
    positions = read_accessor(document, binary, attributes["POSITION"])[:, :3]
    if "indices" in primitive:
        indices = read_accessor(document, binary, primitive["indices"])[:, 0].astype(np.int64)
    else:
        indices = np.arange(len(positions))
    indices = indices[: len(indices) // 3 * 3].reshape(-1, 3)
    if len(indices) and (indices.min() < 0 or indices.max() >= len(positions)):
        raise GlbError("a triangle names a vertex the mesh does not have")
    world = positions @ matrix[:3, :3].T + matrix[:3, 3]
    colour = np.ones(3)
    material_index = primitive.get("material")
    if material_index is not None:
        material = _item(_list(document, "materials"), material_index)
        pbr = material.get("pbrMetallicRoughness") or {}
        factor = pbr.get("baseColorFactor") if isinstance(pbr, dict) else None
        colour = _numbers(factor, 4, (1.0, 1.0, 1.0, 1.0))[:3]
    colours = np.broadcast_to(colour, (len(indices), 3))
    if "COLOR_0" in attributes:
        vertex = read_accessor(document, binary, attributes["COLOR_0"])[:, :3]
        if len(vertex) == len(positions):
            colours = colours * vertex[indices].mean(axis=1)
    return world[indices], np.clip(colours, 0.0, 1.0)


def read_glb_triangles(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Every triangle of a GLB's default scene (T, 3, 3), in glTF's axes (+Y up), and
    its colour (T, 3). Raises GlbError when the file is no GLB or holds no triangles."""
    document, binary = read_chunks(Path(path))
    nodes, meshes = _list(document, "nodes"), _list(document, "meshes")
    scenes = _list(document, "scenes")
    if scenes:
        roots = _item(scenes, document.get("scene", 0)).get("nodes", [])
    else:
        children = {c for n in nodes if isinstance(n, dict) for c in n.get("children", [])}
        roots = [i for i in range(len(nodes)) if i not in children]
    triangles: list[np.ndarray] = []
    colours: list[np.ndarray] = []
    total = 0
    stack = [(root, np.eye(4), 0) for root in (roots if isinstance(roots, list) else [])]
    visits = 0
    while stack:
        index, parent, depth = stack.pop()
        visits += 1
        if depth > MAX_DEPTH or visits > MAX_VISITS:
            raise GlbError("its node tree is too deep or too large (a cycle?)")
        node = _item(nodes, index)
        matrix = parent @ node_matrix(node)
        if "mesh" in node:
            for primitive in _item(meshes, node["mesh"]).get("primitives", []):
                if not isinstance(primitive, dict):
                    continue
                found = _primitive(document, binary, primitive, matrix)
                if found is not None and len(found[0]):
                    triangles.append(found[0])
                    colours.append(found[1])
                    total += len(found[0])
                    if total > 4 * MAX_TRIANGLES:
                        raise GlbError(f"it holds more than {4 * MAX_TRIANGLES:,} triangles")
        children = node.get("children", [])
        if isinstance(children, list):
            stack.extend((child, matrix, depth + 1) for child in children)
    if not triangles:
        raise GlbError("it holds no triangles this reader can draw (compressed, or empty)")
    all_triangles, all_colours = np.concatenate(triangles), np.concatenate(colours)
    if len(all_triangles) > MAX_TRIANGLES:
        step = -(-len(all_triangles) // MAX_TRIANGLES)
        all_triangles, all_colours = all_triangles[::step], all_colours[::step]
    return all_triangles, all_colours
