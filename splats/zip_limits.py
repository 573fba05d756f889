# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Reading untrusted zip archives without trusting them: limits, then bytes by name.

Shared by the SOG reader (a bundled ``.sog`` is a zip) and the gateway's ZIP of a
task's variants. An archive's entries are checked from its central directory
before anything is unpacked: how many, how large each and all together claim to
be, and how far each may expand from its compressed size (a zip bomb). Reading
an entry then never returns more than its limit, whatever its header said. Entry
names are only compared with names the caller expects: they never become paths.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

from .cloud import SplatFormatError

Source = bytes | bytearray | memoryview | str | os.PathLike[str]
SLACK = 1 << 20
"""An entry may always unpack to this much more than ``max_ratio`` times its size:
small entries compress by odd ratios (a run of zeros)."""


@dataclass(frozen=True)
class ZipLimits:
    """What an archive may hold before it is refused as hostile or broken."""

    max_entries: int
    max_entry_bytes: int
    max_total_bytes: int
    max_ratio: int = 100
    """A compressed entry may expand at most this many times (plus SLACK)."""
    holds: str = "its contents"
    """What such an archive holds, for messages: "a meta.json and a few images"."""


def open_zip(source: Source, called: str, hint: str) -> zipfile.ZipFile:
    """The archive in ``source`` (bytes or a path); SplatFormatError saying what it is not
    (``hint``: what to do about it)."""
    try:
        if isinstance(source, bytes | bytearray | memoryview):
            return zipfile.ZipFile(io.BytesIO(memoryview(source)))  # type: ignore[arg-type]
        return zipfile.ZipFile(os.fspath(source))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise SplatFormatError(f"{called} is not a readable zip archive ({exc}); {hint}") from None


def plain_entry_name(entry: str) -> bool:
    """A relative name inside the archive: no absolute path, drive, ``..`` or backslash."""
    if not entry or "\\" in entry or "\x00" in entry or entry.startswith("/"):
        return False
    if len(entry) > 1 and entry[1] == ":":  # a drive letter
        return False
    return all(part not in ("", ".", "..") for part in entry.rstrip("/").split("/"))


def checked_entries(
    archive: zipfile.ZipFile,
    called: str,
    limits: ZipLimits,
    name_ok: Callable[[str], bool] = plain_entry_name,
    why_not: str = "a path out of the archive or absolute",
) -> dict[str, zipfile.ZipInfo]:
    """The archive's entries by name once every one passes ``limits`` and ``name_ok``
    (``why_not`` says what a refused name is); SplatFormatError for the first that does not."""
    infos = archive.infolist()
    if len(infos) > limits.max_entries:
        raise SplatFormatError(
            f"{called} is a zip of {len(infos)} entries; it should hold {limits.holds} "
            f"(at most {limits.max_entries} are accepted): refused."
        )
    entries: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in infos:
        entry = info.filename
        if not name_ok(entry):
            raise SplatFormatError(
                f"{called} holds an entry named {entry!r}, {why_not}; it should hold "
                f"{limits.holds}, so the file is refused."
            )
        if entry in entries:
            raise SplatFormatError(f"{called} holds two entries named {entry!r}: refused.")
        entries[entry] = info
        total += info.file_size
        if info.file_size > limits.max_entry_bytes or total > limits.max_total_bytes:
            most = (
                f"{_mib(limits.max_entry_bytes)} an entry"
                if info.file_size > limits.max_entry_bytes
                else f"{_mib(limits.max_total_bytes)} in all"
            )
            raise SplatFormatError(
                f"{called} claims to unpack to {_mib(total)} (entry {entry!r}: "
                f"{_mib(info.file_size)}), more than the {most} accepted: refused."
            )
        if info.file_size > limits.max_ratio * info.compress_size + SLACK:
            raise SplatFormatError(
                f"{called}: the entry {entry!r} expands {info.file_size:,} bytes from "
                f"{info.compress_size:,} (a zip bomb?): refused."
            )
    return entries


def _mib(size: int) -> str:
    return f"{size / 2**20:,.0f} MiB" if size >= 2**20 else f"{size:,} bytes"


def read_entry(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, called: str, ratio: int
) -> bytes:
    """An entry's bytes, never more than ``limit`` (nor ``ratio`` times its compressed
    size) whatever its header claims."""
    cap = min(limit, ratio * info.compress_size + SLACK)
    try:
        with archive.open(info) as stream:
            blob = stream.read(cap + 1)
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError) as exc:
        raise SplatFormatError(
            f"{called}: its entry '{info.filename}' cannot be read ({exc})."
        ) from None
    except Exception as exc:  # zlib/bz2/lzma errors of a damaged entry
        raise SplatFormatError(
            f"{called}: its entry '{info.filename}' is damaged ({exc})."
        ) from None
    if len(blob) > cap:
        raise SplatFormatError(
            f"{called}: the entry '{info.filename}' unpacks to more than its header said "
            f"or than {info.filename!r} may be: refused."
        )
    return blob
