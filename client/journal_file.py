# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""The task journal's file: its entries, checked as they are read, and an atomic,
private write.

``tasks.json`` is ``{"version": 1, "tasks": [entry, ...]}``; an entry is a
``JournalEntry`` as JSON (unknown fields ignored, so an older add-on reads a newer
file). Every value read is checked (task id, https base URL, format, state, owner
token) before it is used. A write goes to a temporary file made by ``mkstemp``
beside the journal (O_EXCL, mode 0600: a link planted there is never followed),
is fsynced and renamed over the journal, which is so private too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .atomic import write_atomically
from .endpoints import check_task_id, validate_base_url
from .errors import GatewayError
from .models import RESULT_FORMATS
from .owners import check_token

VERSION = 1

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
    owner: str = ""
    """The owner token of the process that follows the task (``owners.py``), if any."""
    owner_pid: int = 0
    """That process's id, for people reading the file (liveness comes from the token)."""
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


def checked(entry: JournalEntry) -> JournalEntry:
    """``entry`` with a valid id, https base URL, known format and state; else raises."""
    entry.task_id = check_task_id(entry.task_id)
    entry.base_url = validate_base_url(entry.base_url)
    if entry.fmt not in RESULT_FORMATS:
        raise ValueError(f"unknown format {entry.fmt!r}")
    if entry.state not in STATES:
        raise ValueError(f"unknown state {entry.state!r}")
    if entry.kind not in ("prompt", "image"):
        raise ValueError(f"unknown kind {entry.kind!r}")
    check_token(entry.owner)
    return entry


def entry_from(item: object) -> JournalEntry:
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
    return checked(JournalEntry(**values))


class Damaged(ValueError):
    """The file is not a journal at all (not JSON, no task list)."""


def parse(raw: bytes) -> tuple[list[JournalEntry], int]:
    """The entries of a journal file's bytes and how many unreadable ones were skipped.
    Raises Damaged when the file as a whole is not a journal."""
    try:
        tasks = json.loads(raw.decode("utf-8"))["tasks"]
        if not isinstance(tasks, list):
            raise TypeError("'tasks' is not a list")
    except (ValueError, KeyError, TypeError) as exc:
        raise Damaged(f"{type(exc).__name__}: {exc}") from exc
    entries: list[JournalEntry] = []
    dropped = 0
    for item in tasks:
        try:
            entries.append(entry_from(item))
        except (GatewayError, TypeError, ValueError):
            dropped += 1
    return entries, dropped


def write(path: Path, entries: list[JournalEntry]) -> None:
    """Replace the journal ``path`` with ``entries``, atomically; raises OSError."""
    payload = {"version": VERSION, "tasks": [dataclasses.asdict(e) for e in entries]}
    data = json.dumps(payload, indent=1).encode("utf-8")
    write_atomically(path, data, durable=True)
    _fsync_folder(path.parent)


def set_aside(path: Path) -> str:
    """Move a damaged journal out of the way; says where it went (or why it stayed)."""
    corrupt = path.with_name(f"{path.name}.{time.strftime('%Y%m%d-%H%M%S')}.corrupt")
    try:
        os.replace(path, corrupt)
    except OSError as exc:
        return f"it could not be set aside ({exc})"
    return f"it was kept as {corrupt.name}"
