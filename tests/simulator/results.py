"""What a task's result is, by model and seed, as the gateway would serve it.

The same seed gives the same bytes and different seeds differ: a PLY carries its
seed in a header comment (the last before ``end_header``), a GLB in
``asset.extras``. A splat task's SPZ is the figure's SPZ whatever the seed.
``tiny_glb`` is a hand-made untextured quad, enough for the unit tests; the
Blender tests hand the simulator a GLB that Blender's own glTF exporter wrote.

Variants (``all=true``): variant 1 is the result above; variant k is it scaled by
``variant_scale(k)`` (1.5, 2), so every variant differs in size and bytes, and the
same seed still gives the same bytes.
"""

from __future__ import annotations

import json
import struct

import numpy as np

from .figure import arrays_of_ply, ply_bytes, result_spz_bytes, spz_bytes

GLB_MAGIC = b"glTF"
JSON_CHUNK = b"JSON"
BIN_CHUNK = b"BIN\x00"


def _pad(data: bytes, fill: bytes) -> bytes:
    return data + fill * (-len(data) % 4)


def pack_glb(document: dict, binary: bytes = b"") -> bytes:
    """A glTF 2.0 binary from its JSON document and binary buffer."""
    chunks = _pad(json.dumps(document, separators=(",", ":")).encode(), b" ")
    out = struct.pack("<I4s", len(chunks), JSON_CHUNK) + chunks
    if binary:
        padded = _pad(binary, b"\x00")
        out += struct.pack("<I4s", len(padded), BIN_CHUNK) + padded
    return struct.pack("<4sII", GLB_MAGIC, 2, 12 + len(out)) + out


def unpack_glb(data: bytes) -> tuple[dict, bytes]:
    """The JSON document and binary buffer of a GLB (raises ValueError if it is none)."""
    magic, version, length = struct.unpack_from("<4sII", data)
    if magic != GLB_MAGIC or version != 2 or length != len(data):
        raise ValueError("not a glTF 2.0 binary")
    size, kind = struct.unpack_from("<I4s", data, 12)
    if kind != JSON_CHUNK:
        raise ValueError("the first chunk is not JSON")
    document = json.loads(data[20 : 20 + size])
    binary = b""
    offset = 20 + size
    if offset + 8 <= len(data):
        bsize, bkind = struct.unpack_from("<I4s", data, offset)
        if bkind == BIN_CHUNK:
            binary = data[offset + 8 : offset + 8 + bsize]
    return document, binary


def tiny_glb() -> bytes:
    """A unit quad standing in the XY plane (glTF's +Y up), red, as one mesh node."""
    positions = struct.pack("<12f", -0.5, 0, 0, 0.5, 0, 0, 0.5, 1, 0, -0.5, 1, 0)
    indices = struct.pack("<6H", 0, 1, 2, 0, 2, 3)
    binary = positions + indices
    document = {
        "asset": {"version": "2.0", "generator": "gen404 gateway simulator"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": "result"}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "indices": 1, "material": 0}]}],
        "materials": [{"pbrMetallicRoughness": {"baseColorFactor": [0.8, 0.1, 0.1, 1.0]}}],
        "accessors": [
            {
                "bufferView": 0,
                "componentType": 5126,
                "count": 4,
                "type": "VEC3",
                "min": [-0.5, 0, 0],
                "max": [0.5, 1, 0],
            },
            {"bufferView": 1, "componentType": 5123, "count": 6, "type": "SCALAR"},
        ],
        "bufferViews": [
            {"buffer": 0, "byteOffset": 0, "byteLength": 48},
            {"buffer": 0, "byteOffset": 48, "byteLength": 12},
        ],
        "buffers": [{"byteLength": len(binary)}],
    }
    return pack_glb(document, binary)


def seeded_glb(glb: bytes, seed: int) -> bytes:
    """``glb`` with ``seed`` in its ``asset.extras``: same geometry, bytes of its own."""
    try:
        document, binary = unpack_glb(glb)
    except (ValueError, struct.error):  # a broken result handed over on purpose: as it is
        return glb
    asset = document.setdefault("asset", {"version": "2.0"})
    asset.setdefault("extras", {})["gen404_sim_seed"] = seed
    return pack_glb(document, binary)


def seeded_ply(ply: bytes, seed: int) -> bytes:
    """``ply`` with a ``comment seed N`` header line just before ``end_header``."""
    end = ply.index(b"end_header\n")
    return ply[:end] + f"comment seed {seed}\n".encode() + ply[end:]


VARIANT_GROWTH = 0.5


def variant_scale(number: int) -> float:
    """How much larger variant ``number`` is than the result (variant 1)."""
    return 1.0 + VARIANT_GROWTH * (number - 1)


def _with_comment(ply: bytes, comment: str) -> bytes:
    end = ply.index(b"end_header\n")
    return ply[:end] + f"comment {comment}\n".encode() + ply[end:]


def _scaled(ply: bytes, number: int) -> dict[str, np.ndarray] | None:
    """The result's arrays scaled for variant ``number`` (None: not in 404's layout)."""
    try:
        arrays = arrays_of_ply(ply)
    except ValueError:
        return None
    factor = variant_scale(number)
    return {
        **arrays,
        "positions": arrays["positions"] * np.float32(factor),
        "log_scales": arrays["log_scales"] + np.float32(np.log(factor)),
    }


def variant_ply(ply: bytes, seed: int, number: int) -> bytes:
    """Variant ``number`` of the PLY result of a task with ``seed``."""
    if number == 1:
        return seeded_ply(ply, seed)
    arrays = _scaled(ply, number)
    data = ply if arrays is None else ply_bytes(arrays)
    return _with_comment(seeded_ply(data, seed), f"variant {number}")


def variant_spz(ply: bytes, number: int) -> bytes:
    """Variant ``number`` as 404's SPZ (seed-blind, like the single SPZ result)."""
    arrays = _scaled(ply, number) if number > 1 else None
    return result_spz_bytes(ply) if arrays is None else spz_bytes(arrays)


def variant_glb(glb: bytes, seed: int, number: int) -> bytes:
    """Variant ``number`` of a mesh result: its root nodes scaled, numbered in extras."""
    seeded = seeded_glb(glb, seed)
    if number == 1:
        return seeded
    try:
        document, binary = unpack_glb(seeded)
    except (ValueError, struct.error):
        return seeded
    factor = variant_scale(number)
    scene = document.get("scenes", [{}])[document.get("scene", 0)]
    for index in scene.get("nodes", []):
        node = document["nodes"][index]
        if "matrix" not in node:
            node["scale"] = [factor * v for v in node.get("scale", [1.0, 1.0, 1.0])]
    document["asset"].setdefault("extras", {})["gen404_sim_variant"] = number
    return pack_glb(document, binary)
