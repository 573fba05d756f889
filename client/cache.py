# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""ResultCache: downloaded results kept on disk by task id, bounded in size.

Re-importing a finished task then needs no network (the gateway forgets results
after about 5 minutes anyway). File names come only from a validated task id and
a known format, never from the server. Partial downloads live in the same folder
(``*.part``) so that the final rename is atomic; only an intact file gets a cache
name. Safe for several threads and processes: every step tolerates a file that
another one has just removed.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

from .endpoints import check_task_id, is_uuid
from .errors import GatewayError
from .models import DEFAULT_CACHE_BYTES, RESULT_FORMATS

PARTIAL_SUFFIX = ".part"
STALE_PARTIAL_S = 3600.0
"""A partial download untouched this long belongs to a crashed process."""
UNPACKED_PREFIX = ".variant-"
"""A mesh variant unpacked from its task's ZIP for Blender's importer (variants.py)."""
PARTIAL_PATTERNS = (f".download-*{PARTIAL_SUFFIX}", f"{UNPACKED_PREFIX}*")
"""Temporary files: downloads under way and unpacked variants (swept once stale)."""

_NAME = re.compile(r"[0-9a-fA-F-]{36}\.(" + "|".join(map(re.escape, RESULT_FORMATS)) + ")")


class ResultCache:
    """Results in ``folder`` named ``<task id>.<format>``; the oldest (by mtime) go first
    once the total passes ``max_bytes``. Reading a file counts as using it."""

    def __init__(self, folder: str | os.PathLike[str], max_bytes: int = DEFAULT_CACHE_BYTES):
        self.folder = Path(folder)
        self.max_bytes = max_bytes

    def __repr__(self) -> str:
        return f"ResultCache({str(self.folder)!r}, max_bytes={self.max_bytes})"

    def path_for(self, task_id: str, fmt: str) -> Path:
        if fmt not in RESULT_FORMATS:
            raise GatewayError(f"Unknown result format {fmt!r}: use 'ply' or 'spz'.")
        return self.folder / f"{check_task_id(task_id)}.{fmt}"

    def get(self, task_id: str, fmt: str) -> Path | None:
        """The cached result, or None; a hit becomes the newest file."""
        path = self.path_for(task_id, fmt)
        try:
            if not path.is_file() or path.stat().st_size == 0:
                return None
        except OSError:
            return None
        with contextlib.suppress(OSError):  # a read-only folder still serves its files
            os.utime(path)
        return path

    def new_partial(self) -> tuple[Path, BinaryIO]:
        """A fresh, open temporary file inside the cache folder for one download."""
        self.folder.mkdir(parents=True, exist_ok=True)
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115  (the caller closes it)
            dir=self.folder, prefix=".download-", suffix=PARTIAL_SUFFIX, delete=False
        )
        return Path(handle.name), handle  # type: ignore[return-value]

    def put_from_temp(self, tmp: str | os.PathLike[str], task_id: str, fmt: str) -> Path:
        """Move a complete download into the cache (atomically) and evict to the budget."""
        dest = self.path_for(task_id, fmt)
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = Path(tmp)
        if tmp.parent.resolve() != self.folder.resolve():  # os.replace needs one file system
            staged, handle = self.new_partial()
            handle.close()
            shutil.copyfile(tmp, staged)
            tmp.unlink(missing_ok=True)
            tmp = staged
        os.replace(tmp, dest)
        with contextlib.suppress(OSError):
            os.utime(dest)
        self.evict(keep=(dest,))
        return dest

    def remove(self, task_id: str, fmt: str) -> None:
        self.path_for(task_id, fmt).unlink(missing_ok=True)

    def files(self) -> list[tuple[Path, int, float]]:
        """(path, size, mtime) of every cached result, oldest first."""
        found = []
        try:
            candidates = list(self.folder.iterdir())
        except OSError:
            return []
        for path in candidates:
            if not _NAME.fullmatch(path.name) or not is_uuid(path.name[:36]):
                continue
            try:
                st = path.stat()
            except OSError:
                continue
            found.append((path, st.st_size, st.st_mtime))
        return sorted(found, key=lambda item: item[2])

    def total_bytes(self) -> int:
        return sum(size for _, size, _ in self.files())

    def evict(self, keep: tuple[Path, ...] = ()) -> list[Path]:
        """Delete the oldest results until the total fits ``max_bytes`` (never one in
        ``keep``), and partial downloads abandoned by a crash. Returns what went."""
        removed = self._remove_stale_partials()
        files = self.files()
        total = sum(size for _, size, _ in files)
        kept = {p.resolve() for p in keep}
        for path, size, _ in files:
            if total <= self.max_bytes:
                break
            if path.resolve() in kept:
                continue
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
            total -= size
        return removed

    def _remove_stale_partials(self) -> list[Path]:
        removed = []
        cutoff = time.time() - STALE_PARTIAL_S
        with contextlib.suppress(OSError):
            for pattern in PARTIAL_PATTERNS:
                for path in self.folder.glob(pattern):
                    with contextlib.suppress(OSError):
                        if path.stat().st_mtime < cutoff:
                            path.unlink()
                            removed.append(path)
        return removed
