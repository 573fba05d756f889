# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""A mesh model's result: a glTF binary (GLB) file, checked before Blender sees it.

Blender's glTF importer reads the file on the main thread; what can be checked
without it happens on the worker: the 12-byte header (magic ``glTF``, version 2,
the declared length equal to the file's) and a first chunk of JSON.
"""

from __future__ import annotations

import contextlib
import struct
from dataclasses import dataclass
from pathlib import Path

from ..splats.cloud import SplatCloud, SplatFormatError
from ..splats.ply_header import parse_header, vertex_element
from ..splats.reader import read_splat_file
from ..splats.spz import claimed_count
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


MAX_RESULT_SPLATS = 10_000_000
"""No 404 result comes near this (404's own SPZ reader refuses more): a download that
claims more is refused before it is decoded, whatever its size would allow."""


def read_result(path: Path) -> SplatCloud | MeshResult:
    """Worker-side: a downloaded result, read and decoded for the scene (a mesh model's
    GLB is only checked here: Blender's importer reads it on the main thread)."""
    if path.suffix == f".{GLB_FORMAT}":
        return check_glb(path)
    refuse_huge(result_claim(path))
    return read_splat_file(path)


def refuse_huge(claimed: int | None) -> None:
    """SplatFormatError for a result claiming more splats than any 404 result has."""
    if claimed is not None and claimed > MAX_RESULT_SPLATS:
        raise SplatFormatError(
            f"The gateway's result claims {claimed:,} splats; no 404 result has more than "
            f"{MAX_RESULT_SPLATS:,}, so it was not decoded (a corrupt or hostile download). "
            "Generate again; if it happens again, tell 404's support the task id."
        )


def result_claim(path: Path) -> int | None:
    """The splat count a downloaded PLY's or SPZ's header claims, reading only its start."""
    with open(path, "rb") as f:
        return claim_of(f.read(CLAIM_BYTES))


CLAIM_BYTES = 1 << 16
"""A PLY header or an SPZ's first zstd block says its splat count within this."""


def claim_of(head: bytes) -> int | None:
    """The splat count the start of a PLY or SPZ (``head``) claims; None if it says none."""
    if head.startswith(b"ply"):
        with contextlib.suppress(SplatFormatError):
            return vertex_element(parse_header(memoryview(head)))[0].count
        return None
    return claimed_count(head)
