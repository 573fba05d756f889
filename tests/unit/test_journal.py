"""The task journal: atomic writes, corruption, concurrency, pruning, validation."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from pathlib import Path

import pytest
from gen404.client.errors import GatewayError
from gen404.client.journal import (
    CANCELLED,
    FAILED,
    READY,
    TaskJournal,
    close_journal,
    open_journal,
)

from tests.unit.journal_rows import BASE, entry


def test_round_trip_and_lists(tmp_path: Path) -> None:
    journal = TaskJournal(tmp_path)
    running = entry(prompt="a red chair", state="queued")
    image = entry(kind="image", image_name="photo.png", state="in_progress")
    done = entry(state=READY)
    imported = entry(state=READY, imported=True)
    failed = entry(state=FAILED, message="Task timed out")
    for e in (running, image, done, imported, failed):
        assert journal.record(e)
    journal.results.mkdir(parents=True)
    for e in (done, imported):
        journal.result_file(e).write_bytes(b"ply\n")

    again = TaskJournal(tmp_path)
    assert again.problem is None
    assert [e.task_id for e in again.entries()] == [
        e.task_id for e in (running, image, done, imported, failed)
    ]
    assert {e.task_id for e in again.unfinished()} == {running.task_id, image.task_id}
    assert [e.task_id for e in again.ready_to_import()] == [done.task_id]
    got = again.get(image.task_id)
    assert got is not None and (got.kind, got.image_name) == ("image", "photo.png")

    again.mark_imported(done.task_id, object_name="a red chair")
    assert TaskJournal(tmp_path).ready_to_import() == []
    journal.result_file(done).unlink()  # a ready result evicted from the cache
    again.update(done.task_id, imported=False)
    assert again.ready_to_import() == []


def test_copies_cannot_change_the_journal(tmp_path: Path) -> None:
    journal = TaskJournal(tmp_path)
    e = entry()
    journal.record(e)
    e.state = FAILED
    copy = journal.get(e.task_id)
    assert copy is not None and copy.state != FAILED
    copy.state = CANCELLED
    assert journal.get(e.task_id).state != CANCELLED  # type: ignore[union-attr]


def test_update_forget_and_unknown_fields(tmp_path: Path) -> None:
    journal = TaskJournal(tmp_path)
    e = entry()
    journal.record(e)
    before = journal.get(e.task_id).updated_at  # type: ignore[union-attr]
    time.sleep(0.01)
    changed = journal.update(e.task_id, state="partial", results=1, message="1 result")
    assert changed is not None and changed.updated_at > before
    assert journal.update(str(uuid.uuid4()), state="queued") is None
    with pytest.raises(TypeError):
        journal.update(e.task_id, api_key="5e1a7c2e-4b0d-4f3a-9c61-0d2b8e4f7a10")
    with pytest.raises(ValueError, match="state"):
        journal.update(e.task_id, state="exploded")
    assert journal.forget(e.task_id) and not journal.forget(e.task_id)
    assert json.loads(journal.path.read_text())["tasks"] == []


@pytest.mark.parametrize(
    "task_id", ["../../etc/passwd", "42", "", "11111111-2222-4333-8444-55555555555/"]
)
def test_task_ids_are_validated(tmp_path: Path, task_id: str) -> None:
    journal = TaskJournal(tmp_path)
    with pytest.raises(GatewayError, match="not a task id"):
        journal.record(entry(task_id=task_id))
    with pytest.raises(GatewayError, match="not a task id"):
        journal.update(task_id, state="queued")
    assert not journal.path.exists()


def test_only_https_base_urls(tmp_path: Path) -> None:
    journal = TaskJournal(tmp_path)
    with pytest.raises(GatewayError, match="https://"):
        journal.record(entry(base_url="http://evil.example"))


def test_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write that fails half-way (here: the fsync) leaves the previous file intact."""
    journal = TaskJournal(tmp_path)
    first = entry()
    journal.record(first)
    good = journal.path.read_bytes()

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    assert not journal.record(entry())
    assert journal.path.read_bytes() == good
    assert "cannot be written" in (journal.problem or "")
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []  # none left
    monkeypatch.undo()
    assert journal.record(entry())
    assert len(TaskJournal(tmp_path).entries()) == 3  # the in-memory entry was kept


def test_write_goes_through_a_temp_file_and_replace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, str]] = []
    real_replace = os.replace

    def spy(src: str, dst: str) -> None:
        calls.append((Path(src).name, Path(dst).name))
        assert json.loads(Path(src).read_text())["version"] == 1  # complete before the swap
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    journal = TaskJournal(tmp_path)
    journal.record(entry())
    ((src, dst),) = calls
    assert dst == "tasks.json" and src.endswith(".tmp") and src != dst


@pytest.mark.parametrize(
    "damage",
    [b"{not json", b"\xff\xfe\x00garbage", b"[]", b'{"tasks": 3}', b'{"version": 1}', b""],
)
def test_corrupt_file_is_set_aside(tmp_path: Path, damage: bytes) -> None:
    path = tmp_path / "tasks.json"
    path.write_bytes(damage)
    journal = TaskJournal(tmp_path)
    assert journal.entries() == []
    assert journal.problem and "damaged" in journal.problem and ".corrupt" in journal.problem
    (kept,) = tmp_path.glob("tasks.json.*.corrupt")
    assert kept.read_bytes() == damage
    assert not path.exists()
    journal.record(entry())
    assert len(TaskJournal(tmp_path).entries()) == 1


def test_bad_entries_are_skipped_good_ones_kept(tmp_path: Path) -> None:
    good = entry()
    rows = [
        {**good.__dict__},
        {**entry().__dict__, "task_id": "../../x"},
        {**entry().__dict__, "base_url": "http://plain.example"},
        {**entry().__dict__, "results": "three"},
        {**entry().__dict__, "imported": 1},
        {**entry().__dict__, "fmt": "exe"},
        "not an object",
        {**entry().__dict__, "new_field_from_a_later_version": True},
    ]
    (tmp_path / "tasks.json").write_text(json.dumps({"version": 1, "tasks": rows}))
    journal = TaskJournal(tmp_path)
    assert len(journal.entries()) == 2 and journal.get(good.task_id) is not None
    assert journal.problem and "6 unreadable" in journal.problem


def test_two_threads_and_more(tmp_path: Path) -> None:
    journal = TaskJournal(tmp_path)
    ids = [str(uuid.uuid4()) for _ in range(8)]
    for task_id in ids:
        journal.record(entry(task_id=task_id))
    errors: list[BaseException] = []

    def churn(task_id: str) -> None:
        try:
            for n in range(15):
                journal.update(task_id, results=n, message=f"step {n}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=churn, args=(t,)) for t in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    reread = TaskJournal(tmp_path)
    assert reread.problem is None
    assert {e.task_id: e.results for e in reread.entries()} == dict.fromkeys(ids, 14)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_prune(tmp_path: Path) -> None:
    journal = TaskJournal(tmp_path)
    stale = [
        entry(state=FAILED),
        entry(state=CANCELLED),
        entry(state=READY, imported=True),
        entry(state=READY),  # its file is gone
    ]
    keep = [entry(state="queued"), entry(state=READY)]  # still running; waiting for import
    for e in stale + keep:
        journal.record(e)
    journal.results.mkdir(parents=True)
    journal.result_file(keep[1]).write_bytes(b"ply\n")
    assert journal.prune(max_age_s=7 * 86400) == 0  # all recent
    assert journal.prune(max_age_s=7 * 86400, now=time.time() + 8 * 86400) == len(stale)
    assert {e.task_id for e in TaskJournal(tmp_path).entries()} == {e.task_id for e in keep}


def test_open_journal_is_shared(tmp_path: Path) -> None:
    a = open_journal(tmp_path)
    b = open_journal(tmp_path / "." / "")
    assert a is b
    close_journal(tmp_path)
    assert open_journal(tmp_path) is not a


def test_a_journal_of_the_previous_version_with_job_id_rows_still_loads(tmp_path: Path) -> None:
    """Rows that named the gateway's task id ``job_id`` load as ``task_id``; the next
    write stores ``task_id`` only."""
    old_id = str(uuid.uuid4())
    row = {"job_id": old_id, "base_url": BASE, "label": "an old chair", "state": "queued"}
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps({"version": 1, "tasks": [row]}))
    journal = TaskJournal(tmp_path)
    assert journal.problem is None
    (loaded,) = journal.unfinished()
    assert (loaded.task_id, loaded.label) == (old_id, "an old chair")
    journal.update(old_id, state=READY)
    (saved,) = json.loads(path.read_text())["tasks"]
    assert saved["task_id"] == old_id and "job_id" not in saved
