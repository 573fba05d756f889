# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Splat files from disk to SplatClouds, off the main thread: no bpy here.

The import operator's UI path runs ``ImportJob`` on a daemon thread so Blender
stays responsive while a large capture is read and decoded; the main thread only
takes finished clouds off its queue. Reading goes in chunks so progress moves and
a cancel is honoured mid-file.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .cloud import SplatCloud, SplatFormatError
from .reader import read_splat_bytes
from .sog import WebpDecoder, sog_folder_meta

READ_CHUNK = 8 << 20
"""Bytes read per step on the worker, so progress moves while a big file loads."""
READ_SHARE = 0.8
"""The share of a file's progress given to reading; decoding takes the rest."""


def problem_text(path: str, exc: BaseException) -> str:
    """What to tell the user about a file that failed to import."""
    name = os.path.basename(os.path.normpath(path))
    if isinstance(exc, FileNotFoundError):
        return f"{path} does not exist: choose another file."
    if isinstance(exc, SplatFormatError | OSError | ValueError):
        return f"Cannot import {name}: {exc}"
    return f"Cannot import {name}: {type(exc).__name__}: {exc}"


def file_buffer(size: int) -> mmap.mmap | bytearray:
    """Memory for a whole file: fresh anonymous pages, filled by the kernel in one go.

    A big numpy or bytes buffer is faulted in page by page (and, with transparent
    huge pages, can stall on compaction); an anonymous map with MAP_POPULATE
    costs a fraction of that. It is not a map of the file itself, so a file that
    shrinks while being read is an error, not a crash (SIGBUS).
    """
    populate = getattr(mmap, "MAP_POPULATE", 0)
    anonymous = getattr(mmap, "MAP_ANONYMOUS", 0)
    if size < (1 << 20) or not (populate and anonymous):
        return bytearray(size)
    return mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | anonymous | populate)


def load_file(
    path: str,
    progress: Callable[[float], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    decode_webp: WebpDecoder | None = None,
) -> SplatCloud | None:
    """Read and decode one file, in chunks so progress and cancel work mid-file.

    None when ``cancelled`` said so before the end. A SOG's images go through
    ``decode_webp``; an unbundled SOG may be given as its folder.
    """
    path = sog_folder_meta(path) or path
    name = os.path.basename(path)
    size = os.path.getsize(path)
    buffer = file_buffer(size)
    view = memoryview(buffer)
    try:
        done = 0
        with open(path, "rb", buffering=0) as f:
            while done < size:
                if cancelled is not None and cancelled():
                    return None
                got = f.readinto(view[done : done + READ_CHUNK])
                if not got:
                    raise SplatFormatError(f"{name} shrank while it was being read")
                done += got
                if progress is not None:
                    progress(done / size)
        folder = os.path.dirname(os.path.abspath(path))
        # copies out what it keeps
        return read_splat_bytes(view, name, decode_webp=decode_webp, folder=folder)
    finally:
        view.release()
        if isinstance(buffer, mmap.mmap):
            with contextlib.suppress(BufferError):  # a reader kept a view: freed with it
                buffer.close()


@dataclass
class Loaded:
    """One file's outcome on the worker: its splats, or what went wrong."""

    path: str
    cloud: SplatCloud | None = None
    error: BaseException | None = None


class ImportJob:
    """Reads and decodes files on one daemon thread.

    Results come out in file order through a queue (plain numpy in a SplatCloud),
    then None once every file is handled; progress is a fraction of all the work
    and a short sentence, safe to read from any thread.
    """

    def __init__(self, paths: Sequence[str], decode_webp: WebpDecoder | None = None) -> None:
        self.paths = list(paths)
        self.decode_webp = decode_webp
        self.results: queue.Queue[Loaded | None] = queue.Queue()  # None: all files done
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        self._progress = (0.0, "Starting")
        self._thread = threading.Thread(target=self._run, name="gen404 import", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        self._cancel.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; True if it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def progress(self) -> tuple[float, str]:
        with self._lock:
            return self._progress

    def _report(self, index: int, part: float, text: str) -> None:
        with self._lock:
            self._progress = ((index + part) / len(self.paths), text)

    def _run(self) -> None:
        for index, path in enumerate(self.paths):
            if self._cancel.is_set():
                break
            name = os.path.basename(os.path.normpath(path))
            try:

                def progress(part: float, index: int = index, name: str = name) -> None:
                    self._report(index, READ_SHARE * part, f"Reading {name}")

                cloud = load_file(path, progress, self._cancel.is_set, self.decode_webp)
                if cloud is None:
                    break
                self._report(index, 1.0, f"Read {name}")
                self.results.put(Loaded(path, cloud=cloud))
                del cloud
            except Exception as exc:  # reported on the main thread, file by file
                self.results.put(Loaded(path, error=exc))
        self.results.put(None)
