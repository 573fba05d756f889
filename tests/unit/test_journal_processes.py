"""Several processes (or copies) on one journal: merged writes, one lock, one owner per task."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from gen404.client import journal as journal_module
from gen404.client import records
from gen404.client.errors import GatewayError
from gen404.client.jobs import JobRunner
from gen404.client.journal import READY, JournalEntry, TaskJournal, close_journal
from gen404.client.models import Phase

from tests.simulator import GatewaySimulator
from tests.unit.conftest import settings_for, wait_jobs
from tests.unit.journal_rows import entry

CHILD = Path(__file__).with_name("journal_child.py")


def write_rows(folder: Path, entries: list[JournalEntry]) -> None:
    """A journal as an earlier version (or a process that has since ended) left it."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [
        {k: v for k, v in e.__dict__.items() if k not in ("owner", "owner_pid")} for e in entries
    ]
    (folder / "tasks.json").write_text(json.dumps({"version": 1, "tasks": rows}))


def child(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(CHILD), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def first_line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line, proc.stderr.read() if proc.stderr else ""
    return line.strip()


@pytest.fixture
def children() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


# -- merging -----------------------------------------------------------------------
def test_two_copies_of_one_journal_keep_each_others_tasks(tmp_path: Path) -> None:
    """Before: each copy rewrote the file from its own entries; the file listed 1 task."""
    a, b = TaskJournal(tmp_path), TaskJournal(tmp_path)  # both loaded the empty folder
    first, second = entry(), entry()
    assert a.record(first) and b.record(second)
    listed = {e.task_id for e in TaskJournal(tmp_path).entries()}
    assert listed == {first.task_id, second.task_id}
    assert {e.task_id for e in a.entries()} == listed  # a reads what b wrote


def test_an_update_applies_to_the_file_as_it_is_now(tmp_path: Path) -> None:
    a, b = TaskJournal(tmp_path), TaskJournal(tmp_path)
    x = entry(state="queued")
    a.record(x)
    changed = b.update(x.task_id, state="partial", results=1)  # b never saw x before
    assert changed is not None and changed.label == "a red chair"
    a.update(x.task_id, message="1 result")  # a's older copy does not undo b's change
    (saved,) = TaskJournal(tmp_path).entries()
    assert (saved.state, saved.results, saved.message) == ("partial", 1, "1 result")


def test_a_forgotten_task_stays_forgotten(tmp_path: Path) -> None:
    x, y = entry(), entry()
    write_rows(tmp_path, [x, y])
    a, b = TaskJournal(tmp_path), TaskJournal(tmp_path)
    assert a.forget(x.task_id)
    b.update(y.task_id, message="still here")
    assert [e.task_id for e in TaskJournal(tmp_path).entries()] == [y.task_id]


def test_processes_recording_at_once_lose_nothing(
    tmp_path: Path, children: list[subprocess.Popen[str]]
) -> None:
    """Before: three processes recording five tasks each left one process's tasks."""
    go = tmp_path / "go"
    for _ in range(3):
        children.append(child("record", str(tmp_path / "user"), "5", str(go)))
    time.sleep(1.0)  # every child has loaded the (missing) journal: stale copies
    go.touch()
    ids = set()
    for proc in children:
        ids |= set(json.loads(first_line(proc)))
        assert proc.wait(30) == 0
    listed = {e.task_id for e in TaskJournal(tmp_path / "user").entries()}
    assert len(ids) == 15 and listed == ids


# -- the lock ----------------------------------------------------------------------
def test_a_write_waits_while_another_process_holds_the_lock(
    tmp_path: Path, children: list[subprocess.Popen[str]]
) -> None:
    holder = child("hold-lock", str(tmp_path))
    children.append(holder)
    assert first_line(holder) == "locked"
    journal = TaskJournal(tmp_path)
    x = entry()
    done: list[bool] = []
    writer = threading.Thread(target=lambda: done.append(journal.record(x)))
    writer.start()
    time.sleep(0.5)
    assert done == [] and not journal.path.exists()  # waiting for the other process
    assert holder.stdin is not None
    holder.stdin.close()  # the other process lets go
    writer.join(10)
    assert done == [True]
    assert [e.task_id for e in TaskJournal(tmp_path).entries()] == [x.task_id]


def test_a_lock_held_too_long_fails_the_write_instead_of_hanging(
    tmp_path: Path, children: list[subprocess.Popen[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal_module, "LOCK_TIMEOUT_S", 0.3)
    holder = child("hold-lock", str(tmp_path))
    children.append(holder)
    assert first_line(holder) == "locked"
    journal = TaskJournal(tmp_path)
    started = time.monotonic()
    assert not journal.record(entry())
    assert time.monotonic() - started < 3
    assert "another Blender" in (journal.problem or "")


# -- one owner per task --------------------------------------------------------------
def test_a_live_owner_keeps_its_task_until_it_closes(tmp_path: Path) -> None:
    a, b = TaskJournal(tmp_path), TaskJournal(tmp_path)
    x = entry(state="queued")
    a.record(x)  # submitting a task makes it yours
    assert a.claim(x.task_id)
    assert not b.claim(x.task_id)
    assert b.held_elsewhere(b.get(x.task_id))  # type: ignore[arg-type]
    a.close()  # Blender quits, or the add-on is disabled
    assert b.claim(x.task_id)
    assert not a.claim(x.task_id)  # now b's
    saved = TaskJournal(tmp_path).get(x.task_id)
    assert saved is not None and saved.owner == b.owner


def test_a_killed_owner_does_not_hold_its_task(
    tmp_path: Path, children: list[subprocess.Popen[str]]
) -> None:
    task_id = str(uuid.uuid4())
    dead = child("own-and-die", str(tmp_path), task_id)
    children.append(dead)
    assert first_line(dead) == "recorded"
    dead.wait(30)
    orphan = TaskJournal(tmp_path).get(task_id)
    assert orphan is not None and orphan.owner and orphan.owner_pid == dead.pid
    b = TaskJournal(tmp_path)
    assert not b.held_elsewhere(orphan)
    assert (tmp_path / "owners" / f"{orphan.owner}.lock").exists()
    b.prune()  # at start-up: the lock files of owners that are gone go too
    assert not (tmp_path / "owners" / f"{orphan.owner}.lock").exists()
    assert b.claim(task_id)
    assert [p.name for p in (tmp_path / "owners").iterdir()] == [f"{b.owner}.lock"]


def test_each_task_is_claimed_by_exactly_one_process(
    tmp_path: Path, children: list[subprocess.Popen[str]]
) -> None:
    """Before: no claims; every process resumed every task."""
    tasks = [entry(state="queued") for _ in range(4)]
    write_rows(tmp_path, tasks)
    ids = [t.task_id for t in tasks]
    go = tmp_path / "go"
    for _ in range(3):
        children.append(child("claim", str(tmp_path), str(go), *ids))
    time.sleep(1.0)
    go.touch()
    won = [json.loads(first_line(proc)) for proc in children]
    assert sorted(t for w in won for t in w) == sorted(ids)  # each once, none lost
    owners = {e.task_id: e.owner_pid for e in TaskJournal(tmp_path).entries()}
    for proc, tasks_won in zip(children, won, strict=True):
        assert all(owners[t] == proc.pid for t in tasks_won)


def test_owner_tokens_from_the_file_are_checked(tmp_path: Path) -> None:
    good, bad = entry(), entry()
    write_rows(tmp_path, [good, bad])
    rows = json.loads((tmp_path / "tasks.json").read_text())
    rows["tasks"][1]["owner"] = "../../../etc/passwd"
    (tmp_path / "tasks.json").write_text(json.dumps(rows))
    journal = TaskJournal(tmp_path)
    assert [e.task_id for e in journal.entries()] == [good.task_id]
    assert journal.problem and "1 unreadable" in journal.problem


# -- the runner and start-up ---------------------------------------------------------
def test_start_up_leaves_tasks_another_live_blender_follows(user_folder: Path) -> None:
    mine, theirs, done = entry(state="queued"), entry(state="queued"), entry(state=READY)
    write_rows(user_folder, [mine, done])
    other = TaskJournal(user_folder)  # another Blender, following its own task
    other.record(theirs)
    other.record(dataclasses.replace(done))  # it downloaded this one too
    (user_folder / "results").mkdir()
    (user_folder / "results" / f"{done.task_id}.ply").write_bytes(b"ply\n")
    earlier = records.earlier_tasks(str(user_folder))
    assert [e.task_id for e in earlier.unfinished] == [mine.task_id]
    assert earlier.ready == []
    other.close()
    close_journal(user_folder)
    again = records.earlier_tasks(str(user_folder))
    assert {e.task_id for e in again.unfinished} == {mine.task_id, theirs.task_id}
    assert [e.task_id for e in again.ready] == [done.task_id]


def test_resume_refuses_a_task_another_live_blender_follows(
    sim: GatewaySimulator, user_folder: Path
) -> None:
    settings = settings_for(sim, deadline_s=0.3)
    other = TaskJournal(user_folder)
    x = entry(base_url=sim.url, state="queued")
    other.record(x)
    runner = JobRunner(parse=len)
    try:
        with pytest.raises(GatewayError, match="Another Blender"):
            runner.resume(x.task_id, settings)
        assert sim.stats().connections == 0
        other.close()  # that Blender quit: the task is free
        job_id = runner.resume(x.task_id, settings)
        assert wait_jobs(runner, [job_id])[job_id][-1].phase is Phase.FAILED  # sim never knew it
    finally:
        runner.shutdown()
        close_journal(user_folder)
