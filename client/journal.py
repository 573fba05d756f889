"""TaskJournal: every submitted task, on disk, so that a crash or restart loses none.

A generation costs money: its task id is written before polling begins and the
entry follows the task (state, results, message) until it is imported. After a
restart, unfinished tasks resume polling and downloaded ones wait for import.

Each change rewrites the whole JSON file atomically (temporary file, fsync,
``os.replace``), under a lock shared by every user of that file in this process
(``open_journal``). A damaged file is set aside as ``*.corrupt`` and a new one
started, and ``problem`` says so. Never stored: the API key, image bytes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .endpoints import check_task_id, validate_base_url
from .errors import GatewayError
from .folders import journal_path, results_folder
from .models import RESULT_FORMATS

log = logging.getLogger(__name__)

VERSION = 1
MAX_ENTRIES = 500
DEFAULT_KEEP_S = 7 * 24 * 3600.0

SUBMITTED = "submitted"
ACTIVE_STATES = frozenset({SUBMITTED, "queued", "in_progress", "partial", "downloading"})
"""Still on the gateway's side: resume polling (jobs.Phase values, plus SUBMITTED)."""
READY = "ready"
"""Downloaded into the cache, waiting to be imported."""
FAILED = "failed"
CANCELLED = "cancelled"
STATES = ACTIVE_STATES | {READY, FAILED, CANCELLED}


@dataclass
class JournalEntry:
    """One submitted task, as plain JSON-able values (no key, no image bytes)."""

    task_id: str
    base_url: str
    kind: str = "prompt"
    """``prompt`` or ``image``."""
    label: str = ""
    prompt: str = ""
    image_name: str = ""
    fmt: str = "ply"
    state: str = SUBMITTED
    results: int = 0
    message: str = ""
    result_path: str = ""
    submitted_at: float = field(default_factory=time.time)
    """Wall-clock time (time.time()), so deadlines survive a restart."""
    updated_at: float = field(default_factory=time.time)
    imported: bool = False
    object_name: str = ""
    seed: int = -1
    """The seed the task was sent with (-1: not known, from an older add-on)."""
    model: str = "404-3dgs"
    model_params: str = ""
    """The model parameters sent, as JSON text ("" when none)."""

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def finished(self) -> bool:
        return not self.active


class TaskJournal:
    """The journal file ``<user folder>/tasks.json``. Thread-safe; prefer ``open_journal``."""

    def __init__(self, user_folder: str | os.PathLike[str]) -> None:
        self.folder = Path(user_folder)
        self.path = journal_path(self.folder)
        self.results = results_folder(self.folder)
        self.problem: str | None = None
        """Set when the file was damaged or cannot be written: tell the user once."""
        self._lock = threading.RLock()
        self._entries: dict[str, JournalEntry] = {}
        self._load()

    def __repr__(self) -> str:
        return f"TaskJournal({str(self.path)!r})"

    # -- reading ---------------------------------------------------------------
    def get(self, task_id: str) -> JournalEntry | None:
        with self._lock:
            entry = self._entries.get(task_id.lower() if isinstance(task_id, str) else "")
            return dataclasses.replace(entry) if entry else None

    def entries(self) -> list[JournalEntry]:
        """Copies of every entry, oldest submission first."""
        with self._lock:
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

    # -- writing ---------------------------------------------------------------
    def record(self, entry: JournalEntry) -> bool:
        """Add or replace ``entry`` and save; False if the file could not be written."""
        entry = _checked(dataclasses.replace(entry))
        with self._lock:
            self._entries[entry.task_id] = entry
            return self._save()

    def update(self, task_id: str, **changes: Any) -> JournalEntry | None:
        """Change fields of a known task and save; None when the task is not journalled."""
        with self._lock:
            entry = self._entries.get(check_task_id(task_id))
            if entry is None:
                return None
            changed = _checked(dataclasses.replace(entry, **changes, updated_at=time.time()))
            self._entries[changed.task_id] = changed
            self._save()
            return dataclasses.replace(changed)

    def mark_imported(self, task_id: str, object_name: str = "") -> JournalEntry | None:
        return self.update(task_id, imported=True, object_name=object_name)

    def forget(self, task_id: str) -> bool:
        with self._lock:
            if self._entries.pop(check_task_id(task_id), None) is None:
                return False
            self._save()
            return True

    def prune(self, max_age_s: float = DEFAULT_KEEP_S, now: float | None = None) -> int:
        """Forget ended tasks (imported, failed, cancelled, or ready with the file gone)
        last changed more than ``max_age_s`` ago; returns how many went."""
        now = time.time() if now is None else now
        with self._lock:
            old = [
                e.task_id
                for e in self._entries.values()
                if now - e.updated_at > max_age_s and self._ended(e)
            ]
            for task_id in old:
                del self._entries[task_id]
            if old:
                self._save()
            return len(old)

    def _ended(self, entry: JournalEntry) -> bool:
        if entry.state == READY:
            return entry.imported or not self.result_file(entry).is_file()
        return entry.finished

    # -- file ------------------------------------------------------------------
    def _load(self) -> None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            self.problem = f"The task journal {self.path} cannot be read ({exc}); starting empty."
            log.warning("gen404: %s", self.problem)
            return
        try:
            payload = json.loads(raw.decode("utf-8"))
            tasks = payload["tasks"]
            if not isinstance(tasks, list):
                raise TypeError("'tasks' is not a list")
        except (ValueError, KeyError, TypeError) as exc:
            self._set_aside(f"{type(exc).__name__}: {exc}")
            return
        dropped = 0
        for item in tasks:
            try:
                entry = _entry_from(item)
            except (GatewayError, TypeError, ValueError):
                dropped += 1
                continue
            self._entries[entry.task_id] = entry
        if dropped:
            self.problem = f"{dropped} unreadable task(s) in {self.path} were skipped."
            log.warning("gen404: %s", self.problem)

    def _set_aside(self, why: str) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        corrupt = self.path.with_name(f"{self.path.name}.{stamp}.corrupt")
        try:
            os.replace(self.path, corrupt)
            kept = f"it was kept as {corrupt.name}"
        except OSError as exc:
            kept = f"it could not be set aside ({exc})"
        self.problem = (
            f"The task journal {self.path} was damaged ({why[:120]}); {kept} and a new "
            "journal was started. Tasks listed only there will not resume."
        )
        log.warning("gen404: %s", self.problem)

    def _save(self) -> bool:
        """Write every entry atomically (lock held). False, with ``problem`` set, on failure."""
        entries = sorted(self._entries.values(), key=lambda e: e.submitted_at)
        if len(entries) > MAX_ENTRIES:
            ended = [e for e in entries if self._ended(e)]
            for entry in ended[: len(entries) - MAX_ENTRIES]:
                del self._entries[entry.task_id]
            entries = sorted(self._entries.values(), key=lambda e: e.submitted_at)
        payload = {"version": VERSION, "tasks": [dataclasses.asdict(e) for e in entries]}
        data = json.dumps(payload, indent=1).encode("utf-8")
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
            _fsync_folder(self.folder)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            self.problem = (
                f"The task journal {self.path} cannot be written ({exc.strerror or exc}): "
                "running tasks will not resume after a restart."
            )
            log.warning("gen404: %s", self.problem)
            return False
        return True


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX; Windows cannot open folders)."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


_FIELDS = {f.name: f for f in dataclasses.fields(JournalEntry)}
_JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "str": str,
    "int": int,
    "float": (int, float),
    "bool": bool,
}


def _checked(entry: JournalEntry) -> JournalEntry:
    """``entry`` with a valid id, https base URL, known format and state; else raises."""
    entry.task_id = check_task_id(entry.task_id)
    entry.base_url = validate_base_url(entry.base_url)
    if entry.fmt not in RESULT_FORMATS:
        raise ValueError(f"unknown format {entry.fmt!r}")
    if entry.state not in STATES:
        raise ValueError(f"unknown state {entry.state!r}")
    if entry.kind not in ("prompt", "image"):
        raise ValueError(f"unknown kind {entry.kind!r}")
    return entry


def _entry_from(item: object) -> JournalEntry:
    """A journal entry from one decoded JSON object; unknown fields are ignored."""
    if not isinstance(item, dict):
        raise TypeError("not an object")
    if "task_id" not in item and "job_id" in item:  # rows of earlier versions
        item = {**item, "task_id": item["job_id"]}
    values: dict[str, Any] = {}
    for name, spec in _FIELDS.items():
        if name not in item:
            continue
        value = item[name]
        kind = _JSON_TYPES[str(spec.type)]
        if not isinstance(value, kind) or (spec.type == "int" and isinstance(value, bool)):
            raise TypeError(f"{name} has the wrong type")
        values[name] = value
    return _checked(JournalEntry(**values))


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
    """Forget the open journal of ``user_folder`` (tests; a re-read on next open)."""
    with _open_lock:
        _open.pop(Path(user_folder).expanduser().resolve(), None)
