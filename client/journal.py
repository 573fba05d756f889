# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""TaskJournal: every submitted task, on disk, so that a crash or restart loses none.

A generation costs money: its task id is written before polling begins and the
entry follows the task (state, results, message) until it is imported. After a
restart, unfinished tasks resume polling and downloaded ones wait for import.

Several Blenders may share one user folder. Each change takes the lock file
``tasks.json.lock`` (``locking.py``: flock on POSIX, msvcrt on Windows), re-reads
the file, applies itself to what the file holds now and rewrites it atomically (a
private temporary file from ``mkstemp`` beside it, fsync, ``os.replace``), so no
process undoes another's tasks; within a process one ``open_journal`` object per
folder also serialises threads. Each task names the process that follows it
(``owners.py``): a live owner keeps it, a dead one's tasks are taken over
(``claim``). A damaged file is set aside as ``*.corrupt`` and a new one started,
and ``problem`` says so. Private (0600); never stored: the API key, image bytes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from . import journal_file
from .endpoints import check_task_id
from .folders import journal_path, results_folder
from .journal_file import (
    ACTIVE_STATES,
    CANCELLED,
    FAILED,
    READY,
    STATES,
    SUBMITTED,
    VERSION,
    JournalEntry,
)
from .journal_file import checked as _checked
from .locking import LockTimeout, locked
from .owners import Owner

__all__ = [
    "ACTIVE_STATES",
    "CANCELLED",
    "FAILED",
    "READY",
    "STATES",
    "SUBMITTED",
    "VERSION",
    "JournalEntry",
    "TaskJournal",
    "close_journal",
    "open_journal",
]

log = logging.getLogger(__name__)

MAX_ENTRIES = 500
DEFAULT_KEEP_S = 7 * 24 * 3600.0
LOCK_TIMEOUT_S = 10.0
"""Wait this long for another process to let go of the journal (it holds it for
milliseconds): then the change is kept in memory and ``problem`` says so."""


class TaskJournal:
    """The journal file ``<user folder>/tasks.json``. Thread-safe and shared with other
    processes on the same folder; within a process prefer ``open_journal``."""

    def __init__(self, user_folder: str | os.PathLike[str]) -> None:
        self.folder = Path(user_folder)
        self.path = journal_path(self.folder)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.results = results_folder(self.folder)
        self.problem: str | None = None
        """Set when the file was damaged or cannot be written: tell the user once."""
        self._lock = threading.RLock()
        self._file_depth = 0
        self._owner = Owner(self.folder)
        self._entries: dict[str, JournalEntry] = {}
        self._unsaved: dict[str, JournalEntry | None] = {}
        """Changes not written yet (the file could not be): kept, written with the next."""
        with self._lock:
            self._read_locked()

    def __repr__(self) -> str:
        return f"TaskJournal({str(self.path)!r})"

    @property
    def owner(self) -> str:
        """This journal's owner token: tasks it records or claims name it."""
        return self._owner.token

    # -- reading ---------------------------------------------------------------
    def get(self, task_id: str) -> JournalEntry | None:
        with self._lock:
            self._read_locked()
            entry = self._entries.get(task_id.lower() if isinstance(task_id, str) else "")
            return dataclasses.replace(entry) if entry else None

    def entries(self) -> list[JournalEntry]:
        """Copies of every entry as the file has them now, oldest submission first."""
        with self._lock:
            self._read_locked()
            ordered = sorted(self._entries.values(), key=lambda e: e.submitted_at)
            return [dataclasses.replace(e) for e in ordered]

    def unfinished(self) -> list[JournalEntry]:
        """Tasks still running on the gateway: resume polling them (no new add_task)."""
        return [e for e in self.entries() if e.active]

    def ready_to_import(self) -> list[JournalEntry]:
        """Downloaded, not yet imported, and the file still in the cache."""
        return [
            e
            for e in self.entries()
            if e.state == READY and not e.imported and self.result_file(e).is_file()
        ]

    def result_file(self, entry: JournalEntry) -> Path:
        """Where the entry's result is cached; derived from the id, never the stored path."""
        return self.results / f"{check_task_id(entry.task_id)}.{entry.fmt}"

    def held_elsewhere(self, entry: JournalEntry) -> bool:
        """Whether another live process (another Blender) owns ``entry``'s task."""
        if not entry.owner or entry.owner == self.owner:
            return False
        with self._lock:
            try:
                with self.file_lock():
                    return self._owner.alive(entry.owner)
            except OSError:  # the journal is busy: say "theirs", the safe answer
                return True

    # -- writing ---------------------------------------------------------------
    def record(self, entry: JournalEntry) -> bool:
        """Add or replace ``entry``, owned by us, and save; False if it was not written."""
        entry = _checked(dataclasses.replace(entry))

        def apply(entries: dict[str, JournalEntry]) -> list[str]:
            entries[entry.task_id] = self._owned(entry)
            return [entry.task_id]

        return self._change(apply)

    def update(self, task_id: str, **changes: Any) -> JournalEntry | None:
        """Change fields of a known task (as the file has it now) and save; None when the
        task is not journalled."""
        task_id = check_task_id(task_id)
        changed: JournalEntry | None = None

        def apply(entries: dict[str, JournalEntry]) -> list[str]:
            nonlocal changed
            entry = entries.get(task_id)
            if entry is None:
                return []
            changed = _checked(dataclasses.replace(entry, **changes, updated_at=time.time()))
            entries[task_id] = changed
            return [task_id]

        self._change(apply)
        return dataclasses.replace(changed) if changed else None

    def mark_imported(self, task_id: str, object_name: str = "") -> JournalEntry | None:
        return self.update(task_id, imported=True, object_name=object_name)

    def forget(self, task_id: str) -> bool:
        task_id = check_task_id(task_id)
        found = False

        def apply(entries: dict[str, JournalEntry]) -> list[str]:
            nonlocal found
            found = entries.pop(task_id, None) is not None
            return [task_id] if found else []

        self._change(apply)
        return found

    def prune(self, max_age_s: float = DEFAULT_KEEP_S, now: float | None = None) -> int:
        """Forget ended tasks (imported, failed, cancelled, or ready with the file gone)
        last changed more than ``max_age_s`` ago, and the lock files of owners that are
        gone; returns how many tasks went."""
        now = time.time() if now is None else now
        old: list[str] = []

        def apply(entries: dict[str, JournalEntry]) -> list[str]:
            if self._file_depth:  # only with the journal's lock: see owners.py
                self._owner.sweep()
            old.extend(
                e.task_id
                for e in entries.values()
                if now - e.updated_at > max_age_s and self._ended(e)
            )
            for task_id in old:
                del entries[task_id]
            return list(old)

        self._change(apply)
        return len(old)

    def claim(self, task_id: str) -> bool:
        """Make the task ours to follow (resume, import) unless another live process owns
        it: of several processes claiming one task, exactly one wins. True for a task
        not journalled (nobody follows it). Raises OSError when the journal stays
        locked (``LOCK_TIMEOUT_S``): then nobody can tell whose it is."""
        task_id = check_task_id(task_id)
        won = True

        def apply(entries: dict[str, JournalEntry]) -> list[str]:
            nonlocal won
            entry = entries.get(task_id)
            if entry is None:
                return []
            if entry.owner != self.owner and self._owner.alive(entry.owner):
                won = False
                return []
            self._owner.bury(entry.owner)  # gone (or ours): its lock file with it
            owned = self._owned(entry)
            if (owned.owner, owned.owner_pid) == (entry.owner, entry.owner_pid):
                return []
            entries[task_id] = owned
            return [task_id]

        self._change(apply, strict=True)
        return won

    def close(self) -> None:
        """Let go of every task we own (Blender quits): other processes may take them."""
        with self._lock:
            if not self._owner.holding:
                return
            try:
                with self.file_lock():
                    self._owner.release()
            except OSError:
                self._owner.release()  # its lock goes anyway; the file stays behind

    def _owned(self, entry: JournalEntry) -> JournalEntry:
        """``entry`` naming us its owner; our owner lock held (file lock held)."""
        try:
            self._owner.hold()
        except OSError as exc:
            log.warning("gen404: the task journal's owner lock cannot be taken: %s", exc)
        return dataclasses.replace(entry, owner=self.owner, owner_pid=os.getpid())

    def _ended(self, entry: JournalEntry) -> bool:
        if entry.state == READY:
            return entry.imported or not self.result_file(entry).is_file()
        return entry.finished

    # -- file ------------------------------------------------------------------
    @contextlib.contextmanager
    def file_lock(self) -> Iterator[None]:
        """Hold the journal's lock file (``tasks.json.lock``) for the block: other
        processes wait (up to ``LOCK_TIMEOUT_S``, then LockTimeout). Re-entrant within
        this journal; take ``self._lock`` first."""
        with self._lock:
            if self._file_depth:
                self._file_depth += 1
                try:
                    yield
                finally:
                    self._file_depth -= 1
                return
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            with locked(self.lock_path, LOCK_TIMEOUT_S):
                self._file_depth = 1
                try:
                    yield
                finally:
                    self._file_depth = 0

    def _change(
        self, apply: Callable[[dict[str, JournalEntry]], list[str]], *, strict: bool = False
    ) -> bool:
        """Under the lock file: re-read the file, ``apply`` the change (it returns the ids
        it touched) to what it holds now, and write it back. When the lock cannot be
        had the change is kept in memory, written with the next one (``strict``: raise)."""
        with self._lock:
            try:
                with self.file_lock():
                    self._read_locked()
                    touched = apply(self._entries)
                    self._unsaved.update({t: self._entries.get(t) for t in touched})
                    return self._save() if self._unsaved else True
            except LockTimeout as exc:
                if strict:
                    raise
                reason: OSError = exc
            except OSError as exc:  # no folder, no lock file (a link in its place)
                if strict:
                    raise
                reason = exc
            touched = apply(self._entries)
            self._unsaved.update({t: self._entries.get(t) for t in touched})
            self._cannot_write(reason)
            return False

    def _read_locked(self) -> None:
        """Re-read the file under the lock file (another process may have written it);
        when the lock cannot be had, read it anyway: writes are atomic renames."""
        if not self.path.parent.is_dir():
            return
        try:
            with self.file_lock():
                self._read()
        except OSError:
            self._read()

    def _read(self) -> None:
        """The file's entries, plus changes not written yet; a damaged file is set aside
        and the entries known before kept (written again with the next change)."""
        try:
            loaded, dropped = journal_file.parse(self.path.read_bytes())
        except FileNotFoundError:
            loaded, dropped = [], 0
        except OSError as exc:
            self._say(f"The task journal {self.path} cannot be read ({exc}); starting empty.")
            return
        except journal_file.Damaged as exc:
            kept = journal_file.set_aside(self.path)
            self._say(
                f"The task journal {self.path} was damaged ({str(exc)[:120]}); {kept} and a "
                "new journal was started. Tasks listed only there will not resume."
            )
            return
        entries = {e.task_id: e for e in loaded}
        for task_id, unsaved in self._unsaved.items():
            if unsaved is None:
                entries.pop(task_id, None)
            else:
                entries[task_id] = unsaved
        self._entries = entries
        if dropped:
            self._say(f"{dropped} unreadable task(s) in {self.path} were skipped.")

    def _say(self, problem: str) -> None:
        if problem != self.problem:
            self.problem = problem
            log.warning("gen404: %s", problem)

    def _save(self) -> bool:
        """Write every entry atomically (both locks held). False, with ``problem`` set,
        on failure."""
        entries = sorted(self._entries.values(), key=lambda e: e.submitted_at)
        if len(entries) > MAX_ENTRIES:
            ended = [e for e in entries if self._ended(e)]
            for entry in ended[: len(entries) - MAX_ENTRIES]:
                del self._entries[entry.task_id]
            entries = sorted(self._entries.values(), key=lambda e: e.submitted_at)
        try:
            journal_file.write(self.path, entries)
        except OSError as exc:
            self._cannot_write(exc)
            return False
        self._unsaved.clear()
        return True

    def _cannot_write(self, exc: OSError) -> None:
        why = (
            "another Blender holds it"
            if isinstance(exc, LockTimeout)
            else (exc.strerror or str(exc))
        )
        self._say(
            f"The task journal {self.path} cannot be written ({why}): "
            "running tasks will not resume after a restart."
        )


_open: dict[Path, TaskJournal] = {}
_open_lock = threading.Lock()


def open_journal(user_folder: str | os.PathLike[str]) -> TaskJournal:
    """The one TaskJournal of this process for ``user_folder`` (loaded on first use), so
    that every thread writing it shares one lock."""
    key = Path(user_folder).expanduser().resolve()
    with _open_lock:
        journal = _open.get(key)
        if journal is None:
            journal = _open[key] = TaskJournal(key)
        return journal


def close_journal(user_folder: str | os.PathLike[str]) -> None:
    """Close the open journal of ``user_folder``: its tasks are free for other processes
    to take over, and the next ``open_journal`` starts a new owner."""
    with _open_lock:
        journal = _open.pop(Path(user_folder).expanduser().resolve(), None)
    if journal is not None:
        journal.close()
