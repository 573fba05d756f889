"""The journal's files: a private journal, a temp file from mkstemp, no symlink followed."""

from __future__ import annotations

import json
import os
import stat
import tempfile
import threading
from pathlib import Path

import pytest
from gen404.client.journal import TaskJournal

from tests.unit.journal_rows import entry


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_the_temp_file_comes_from_mkstemp_beside_the_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[str] = []
    real_mkstemp = tempfile.mkstemp

    def spy(*args: object, **kwargs: object) -> tuple[int, str]:
        fd, name = real_mkstemp(*args, **kwargs)  # type: ignore[call-overload]
        made.append(name)
        return fd, name

    replaced: list[str] = []
    real_replace = os.replace

    def replace_spy(src: str, dst: str) -> None:
        replaced.append(str(src))
        real_replace(src, dst)

    monkeypatch.setattr(tempfile, "mkstemp", spy)
    monkeypatch.setattr(os, "replace", replace_spy)
    journal = TaskJournal(tmp_path)
    assert journal.record(entry())
    assert len(made) == 1 and Path(made[0]).parent == tmp_path
    assert replaced == made
    assert not Path(made[0]).exists()


def test_the_journal_is_private(tmp_path: Path) -> None:
    journal = TaskJournal(tmp_path)
    assert journal.record(entry())
    assert mode(journal.path) == 0o600
    for lock in tmp_path.glob("*.lock"):
        assert mode(lock) == 0o600, lock


def test_a_world_readable_journal_of_an_earlier_version_becomes_private(tmp_path: Path) -> None:
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps({"version": 1, "tasks": []}))
    path.chmod(0o644)
    journal = TaskJournal(tmp_path)
    assert journal.record(entry())
    assert mode(path) == 0o600


def test_a_symlink_planted_at_the_predictable_temp_name_is_not_followed(tmp_path: Path) -> None:
    """Earlier versions wrote to ``.tasks.json.<pid>.<thread>.tmp``: a link planted there
    made the journal's bytes land in whatever file it pointed at."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    folder = tmp_path / "user"
    folder.mkdir()
    planted = folder / f".tasks.json.{os.getpid()}.{threading.get_ident()}.tmp"
    planted.symlink_to(victim)
    journal = TaskJournal(folder)
    assert journal.record(entry())
    assert victim.read_text() == "precious"
    assert not journal.path.is_symlink() and len(json.loads(journal.path.read_text())["tasks"]) == 1


def test_a_symlink_planted_at_the_lock_file_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    victim.chmod(0o644)
    folder = tmp_path / "user"
    folder.mkdir()
    (folder / "tasks.json.lock").symlink_to(victim)
    journal = TaskJournal(folder)
    assert not journal.record(entry())  # refused, said once, nothing created through it
    assert "cannot be written" in (journal.problem or "")
    assert victim.read_text() == "precious" and mode(victim) == 0o644
    assert not journal.path.exists()
