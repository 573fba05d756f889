"""Another process on the same journal, for test_journal_processes.py (not collected).

python journal_child.py record FOLDER N GO      wait for the file GO, record N tasks,
                                                print their ids
python journal_child.py claim FOLDER GO ID...   wait for GO, claim each task, print
                                                the ids won, and stay alive until
                                                stdin closes
python journal_child.py own-and-die FOLDER ID   record the task (it is ours) and die
                                                without a word (SIGKILL / TerminateProcess)
python journal_child.py hold-lock FOLDER        take the journal's lock, print
                                                "locked", hold it until stdin closes
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
importlib.import_module("tests.conftest")  # makes the repository importable as gen404
journal = importlib.import_module("gen404.client.journal")
JournalEntry, TaskJournal = journal.JournalEntry, journal.TaskJournal

BASE = "https://gateway-eu.404.xyz:4443"


def _wait_for(go: str) -> None:
    end = time.monotonic() + 60
    while not Path(go).exists():
        if time.monotonic() > end:
            raise SystemExit("no go")
        time.sleep(0.005)


def record(folder: str, count: int, go: str) -> None:
    copy = TaskJournal(folder)  # loaded before the others write: a stale copy
    _wait_for(go)
    ids = [str(uuid.uuid4()) for _ in range(count)]
    for task_id in ids:
        assert copy.record(JournalEntry(task_id, BASE, label=f"from {os.getpid()}"))
    print(json.dumps(ids), flush=True)


def claim(folder: str, go: str, ids: list[str]) -> None:
    mine = TaskJournal(folder)
    _wait_for(go)
    won = [task_id for task_id in ids if mine.claim(task_id)]
    print(json.dumps(won), flush=True)
    sys.stdin.read()  # alive (and owning) until the test lets go


def own_and_die(folder: str, task_id: str) -> None:
    mine = TaskJournal(folder)
    assert mine.record(JournalEntry(task_id, BASE, label="orphan", state="queued"))
    print("recorded", flush=True)
    if os.name == "posix":
        os.kill(os.getpid(), signal.SIGKILL)
    os._exit(9)  # Windows: TerminateProcess, no clean-up either


def hold_lock(folder: str) -> None:
    mine = TaskJournal(folder)
    with mine.file_lock():
        print("locked", flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    mode, folder, *rest = sys.argv[1:]
    if mode == "record":
        record(folder, int(rest[0]), rest[1])
    elif mode == "claim":
        claim(folder, rest[0], rest[1:])
    elif mode == "own-and-die":
        own_and_die(folder, rest[0])
    elif mode == "hold-lock":
        hold_lock(folder)
    else:
        raise SystemExit(f"unknown mode {mode}")
