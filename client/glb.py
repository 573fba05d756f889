# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""A mesh model's result: a glTF binary (GLB) file, checked before Blender sees it.

Blender's glTF importer reads the file on the main thread; what can be checked
without it happens on the worker: the 12-byte header (magic ``glTF``, version 2,
the declared length equal to the file's) and a first chunk of JSON.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from ..splats.cloud import SplatCloud
from ..splats.reader import read_splat_file
from .generation import GLB_FORMAT

MAGIC = b"glTF"
HEADER = struct.Struct("<4sII")
CHUNK = struct.Struct("<I4s")
JSON_CHUNK = b"JSON"


class GlbError(ValueError):
    """The file is no glTF binary the importer can take."""


@dataclass(frozen=True)
class MeshResult:
    """A checked GLB in the result cache, for the main thread to import."""

    path: str
    size: int


def check_glb(path: str | Path) -> MeshResult:
    """``path`` as a MeshResult when it is a whole glTF 2.0 binary; else GlbError."""
    path = Path(path)
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(HEADER.size + CHUNK.size)
    if len(head) < HEADER.size + CHUNK.size:
        raise GlbError(f"it is {size} bytes long, too short for a glTF binary (GLB)")
    magic, version, declared = HEADER.unpack_from(head)
    if magic != MAGIC:
        raise GlbError(f"it is not a glTF binary (GLB): it starts with {magic!r}, not {MAGIC!r}")
    if version != 2:
        raise GlbError(f"it is glTF version {version}; Blender imports version 2")
    if declared != size:
        raise GlbError(f"it says it is {declared} bytes long but {size} arrived: generate again")
    _, kind = CHUNK.unpack_from(head, HEADER.size)
    if kind != JSON_CHUNK:
        raise GlbError("its first chunk is not the glTF JSON")
    return MeshResult(str(path), size)


def read_result(path: Path) -> SplatCloud | MeshResult:
    """Worker-side: a downloaded result, read and decoded for the scene (a mesh model's
    GLB is only checked here: Blender's importer reads it on the main thread)."""
    if path.suffix == f".{GLB_FORMAT}":
        return check_glb(path)
    return read_splat_file(path)
