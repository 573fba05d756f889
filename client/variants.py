# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""A task's variants: the gateway's ZIP of every worker's result, read without trusting it.

Up to three workers run each task; ``get_result?all=true`` answers a ZIP holding
``1.spz``, ``2.spz``... (``.ply``; ``.glb`` for the mesh models), one per worker that
succeeded. A job downloads it into the result cache like any result
(``<task id>.spz.zip``) and reads it here, on its worker thread. The archive is
checked from its central directory before anything is unpacked (``zip_limits``): at
most MAX_VARIANTS entries, each at most the download limit, all together at most
WORKERS times it, none expanding more than MAX_RATIO times. Entry names are only
matched against ENTRY_NAME: they never become paths. A splat entry must be a PLY or
an SPZ and is decoded in memory; a mesh entry is checked and written to a temporary
file in the cache folder for Blender's importer, removed once it was imported
(``Variants.discard``, or when the Variants is dropped; the cache sweeps any a crash
left behind).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import weakref
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..splats.cloud import SplatCloud, SplatFormatError
from ..splats.reader import read_splat_bytes
from ..splats.spz import GZIP_MAGIC, NGSP, ZSTD_MAGIC
from ..splats.zip_limits import ZipLimits, checked_entries, open_zip, read_entry
from .cache import UNPACKED_PREFIX
from .generation import GLB_FORMAT, is_variants_format, member_format
from .glb import CLAIM_BYTES, GlbError, MeshResult, check_glb, claim_of, refuse_huge
from .glb import read_result as read_single
from .models import DEFAULT_MAX_DOWNLOAD_BYTES, SPLAT_FORMATS

ENTRY_NAME = re.compile(r"([1-9][0-9]?)\.(spz|ply|glb)")
"""The only entry names taken: a variant's number and its format (``2.spz``)."""
MAX_VARIANTS = 8
"""Entries a ZIP of variants may hold (the gateway runs up to three workers a task)."""
WORKERS = 3
MAX_RATIO = 100
"""SPZ and GLB hardly compress, a PLY about twofold: more expansion is a zip bomb."""
CALLED = "The gateway's ZIP of variants"
NAME_BYTES = 63
"""Blender 4.x keeps names of at most 63 bytes (UTF-8): longer ones are cut."""


class VariantsError(ValueError):
    """The ZIP of variants is refused: the message says why and where the file is kept."""


@dataclass(frozen=True)
class Variant:
    number: int
    """The gateway's number of the variant (its entry ``2.spz`` is variant 2)."""
    result: SplatCloud | MeshResult


class Variants:
    """Every variant of one task in the gateway's order, for the main thread to import."""

    def __init__(self, variants: list[Variant], unpacked: list[Path]) -> None:
        self.variants = tuple(variants)
        self._discard = weakref.finalize(self, _remove, tuple(unpacked))

    def __len__(self) -> int:
        return len(self.variants)

    def __repr__(self) -> str:
        return f"Variants({[v.number for v in self.variants]})"

    def discard(self) -> None:
        """Remove the files unpacked for Blender's importer (once imported, or not)."""
        self._discard()


def _remove(paths: tuple[Path, ...]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink()


def read_result(
    path: Path, max_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES
) -> SplatCloud | MeshResult | Variants:
    """Worker-side: any download in the result cache (the job runner's ``parse_file``). A
    ZIP of variants becomes Variants, each entry at most ``max_bytes`` unpacked."""
    if is_variants_format(path.name):
        return read_variants(path, max_bytes)
    return read_single(path)


def read_variants(path: Path, max_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES) -> Variants:
    """The variants in the ZIP at ``path`` (named ``<task id>.<format>.zip``); VariantsError
    naming the problem otherwise (the file stays where it is)."""
    member = member_format(path.name.partition(".")[2])
    formats = (GLB_FORMAT,) if member == GLB_FORMAT else SPLAT_FORMATS
    example = ", ".join(f"{n}.{formats[-1]}" for n in (1, 2, 3)) + ", …"
    limits = ZipLimits(
        MAX_VARIANTS, max_bytes, WORKERS * max_bytes, MAX_RATIO, f"numbered results ({example})"
    )
    unpacked: list[Path] = []
    try:
        with open_zip(path, CALLED, "the gateway answered something else") as zf:
            entries = checked_entries(
                zf,
                CALLED,
                limits,
                name_ok=lambda name: _number(name, formats) is not None,
                why_not="which is no numbered result of this task",
            )
            numbered = sorted(
                ((_number(name, formats) or 0, info) for name, info in entries.items()),
                key=lambda item: item[0],
            )
            _check_numbers(numbered)
            found = []
            for number, info in numbered:
                result = _read(zf, info, max_bytes, path.parent, unpacked)
                found.append(Variant(number, result))
        return Variants(found, unpacked)
    except (SplatFormatError, GlbError, VariantsError, OSError) as exc:
        _remove(tuple(unpacked))
        why = str(exc).rstrip(".")
        raise VariantsError(
            f"{why}. Generate again; if it happens again, tell 404's support the task id. "
            f"The download is kept as {path}."
        ) from None


def _number(name: str, formats: tuple[str, ...]) -> int | None:
    match = ENTRY_NAME.fullmatch(name)
    if match is None or match.group(2) not in formats:
        return None
    return int(match.group(1))


def _check_numbers(numbered: list[tuple[int, zipfile.ZipInfo]]) -> None:
    """Refuse a ZIP without a result, or with one variant in two formats (``1.spz``, ``1.ply``)."""
    if not numbered:
        raise VariantsError(f"{CALLED} holds no result")
    seen: dict[int, str] = {}
    for number, info in numbered:
        if number in seen:
            raise VariantsError(
                f"{CALLED} holds variant {number} twice ({seen[number]}, {info.filename})."
            )
        seen[number] = info.filename


def _read(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, max_bytes: int, folder: Path, unpacked: list[Path]
) -> SplatCloud | MeshResult:
    """One entry: a decoded splat cloud, or a checked GLB written to a temporary file."""
    blob = read_entry(zf, info, max_bytes, CALLED, MAX_RATIO)
    name = info.filename
    if name.endswith(f".{GLB_FORMAT}"):
        fd, temp = tempfile.mkstemp(prefix=UNPACKED_PREFIX, suffix=f".{GLB_FORMAT}", dir=folder)
        unpacked.append(Path(temp))
        with os.fdopen(fd, "wb") as handle:
            handle.write(blob)
        try:
            return check_glb(temp)
        except GlbError as exc:
            raise VariantsError(f"{CALLED}: its entry '{name}' is refused: {exc}") from None
    if not blob.startswith((b"ply", ZSTD_MAGIC, GZIP_MAGIC, NGSP)):
        raise VariantsError(
            f"{CALLED}: its entry '{name}' is neither a PLY nor an SPZ file (it starts "
            f"{blob[:12]!r})."
        )
    refuse_huge(claim_of(blob[:CLAIM_BYTES]))
    try:
        return read_splat_bytes(blob, name)
    except SplatFormatError as exc:
        raise VariantsError(f"{CALLED}: its entry '{name}' cannot be read: {exc}") from None


def fit_name(text: str, tail: str, limit: int = NAME_BYTES) -> str:
    """``text`` cut (between characters) so that ``text + tail`` fits in ``limit`` bytes:
    Blender would otherwise cut the tail, the part that tells the names apart."""
    room = max(0, limit - len(tail.encode()))
    return text.encode()[:room].decode("utf-8", "ignore").rstrip() + tail


def variant_name(label: str, number: int) -> str:
    """The object a variant becomes: ``"<label> 2"``."""
    return fit_name(label, f" {number}")


def group_name(label: str, task_id: str) -> str:
    """The collection of a task's variants: ``"<label> (<short task id>)"``."""
    return fit_name(label, f" ({task_id[:8]})" if task_id else "")
