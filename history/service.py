# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""HistoryService: the History's rows and thumbnails, kept fresh on worker threads.

The panel draws from ``rows()``, a snapshot; it never reads the journal or a
result file itself. The main thread calls ``refresh()`` now and then (a timer):
it compares the journal's and the cache's modification stamps (two ``stat``
calls) and only when they changed hands a re-read to the worker. The worker reads
the rows and asks a second worker for the missing thumbnails, newest first (so a
slow picture never holds up the rows), which reports each one (``take_changes``)
for the main thread to load into Blender's previews. A result whose thumbnail
cannot be made is said once (``problems``) and not retried.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import queue
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from ..client.folders import journal_path, results_folder
from ..client.journal import open_journal
from .rows import HistoryRow, read_rows, sweep_thumbnails
from .thumbnails import make_thumbnail

log = logging.getLogger(__name__)

Stamp = tuple[int, int, int]


class HistoryService:
    """Rows and thumbnails of one user folder; thread-safe."""

    def __init__(self, user_folder: str | os.PathLike[str]) -> None:
        self.user_folder = Path(user_folder)
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gen404-history")
        self._painter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gen404-thumbnail")
        self._drawing: dict[str, Future[None]] = {}
        """Thumbnails asked for and not made yet, by task id."""
        self._lock = threading.Lock()
        self._rows: list[HistoryRow] = []
        self._stamp: Stamp | None = None
        self._queued: Future[None] | None = None
        self._changed = False
        self._made: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.problems: dict[str, str] = {}
        """Task id -> why its thumbnail could not be made."""
        self.worker_threads: set[int] = set()
        """Ids of the threads that made thumbnails (never the main thread)."""
        self._closed = False

    def stamp(self) -> Stamp:
        """What changes when the journal is written or a result comes or goes."""

        def mtime(path: Path) -> int:
            try:
                return path.stat().st_mtime_ns
            except OSError:
                return 0

        journal = journal_path(self.user_folder)
        with contextlib.suppress(OSError):
            return (mtime(journal), journal.stat().st_size, mtime(results_folder(self.user_folder)))
        return (0, 0, mtime(results_folder(self.user_folder)))

    def refresh(self, *, force: bool = False) -> Future[None] | None:
        """Re-read the rows on the worker when the stamp changed (or ``force``); the
        pending work (None when nothing needs doing)."""
        stamp = self.stamp()
        with self._lock:
            if self._closed or (stamp == self._stamp and not force):
                return None
            self._stamp = stamp
            waiting = self._queued
            if waiting is not None and not waiting.running() and not waiting.done():
                return waiting  # one re-read waiting to start covers both
            self._queued = self._reader.submit(self._work)
            return self._queued

    def rows(self) -> list[HistoryRow]:
        with self._lock:
            return list(self._rows)

    def busy(self) -> bool:
        with self._lock:
            reading = self._queued is not None and not self._queued.done()
            return reading or bool(self._drawing)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the rows are read and their thumbnails made (scripts); False on
        timeout."""
        end = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            pending = self._queued
        try:
            if pending is not None:
                pending.result(None if end is None else max(0.0, end - time.monotonic()))
            with self._lock:
                drawing = list(self._drawing.values())
            for future in drawing:
                future.result(None if end is None else max(0.0, end - time.monotonic()))
        except TimeoutError:
            return False
        return True

    def take_changes(self) -> tuple[bool, list[str]]:
        """(whether the rows changed, task ids whose thumbnail was made) since the last call."""
        made = []
        with contextlib.suppress(queue.Empty):
            while True:
                made.append(self._made.get_nowait())
        with self._lock:
            changed, self._changed = self._changed, False
        return changed, made

    def drop(self, task_id: str) -> None:
        """Forget a removed task: its row goes now, its problem too."""
        with self._lock:
            self._rows = [r for r in self._rows if r.task_id != task_id]
            self._changed = True
        self.problems.pop(task_id, None)

    def shutdown(self) -> None:
        """Stop taking work; a thumbnail being made finishes on its own."""
        with self._lock:
            self._closed = True
        self._reader.shutdown(wait=False, cancel_futures=True)
        self._painter.shutdown(wait=False, cancel_futures=True)

    # -- worker ----------------------------------------------------------------
    def _work(self) -> None:
        try:
            rows = read_rows(self.user_folder)
            known = {e.task_id for e in open_journal(self.user_folder).entries()}
        except Exception:  # a journal that cannot be read: the panel says so elsewhere
            log.exception("gen404: reading the History failed")
            return
        with self._lock:
            self._rows, self._changed = rows, True
        sweep_thumbnails(self.user_folder, known)
        for row in rows:  # newest first
            if not row.cached or row.has_thumbnail or row.task_id in self.problems:
                continue
            with self._lock:
                if self._closed or row.task_id in self._drawing:
                    continue
                self._drawing[row.task_id] = self._painter.submit(self._make, row)

    def _make(self, row: HistoryRow) -> None:
        self.worker_threads.add(threading.get_ident())
        try:
            self._paint(row)
        finally:
            with self._lock:
                self._drawing.pop(row.task_id, None)

    def _paint(self, row: HistoryRow) -> None:
        try:
            make_thumbnail(row.result_file, row.thumbnail)
        except (OSError, ValueError, MemoryError) as exc:  # damaged, unreadable, too big
            self.problems[row.task_id] = f"No thumbnail: {exc}"
            log.warning("gen404: no thumbnail for task %s: %s", row.task_id, exc)
            return
        except Exception as exc:  # a bug here must not stop the other thumbnails
            self.problems[row.task_id] = f"No thumbnail: {type(exc).__name__}: {exc}"
            log.exception("gen404: making the thumbnail of task %s failed", row.task_id)
            return
        if not Path(row.result_file).is_file():  # removed meanwhile: no orphan picture
            Path(row.thumbnail).unlink(missing_ok=True)
            return
        with self._lock:
            self._rows = [
                dataclasses.replace(r, has_thumbnail=True) if r.task_id == row.task_id else r
                for r in self._rows
            ]
        self._made.put(row.task_id)
