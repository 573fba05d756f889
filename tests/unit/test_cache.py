"""The result cache: names from task ids only, atomic puts, bounded size, oldest out."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest
from gen404.client.cache import STALE_PARTIAL_S, ResultCache
from gen404.client.errors import GatewayError
from gen404.client.folders import ENV_USER_FOLDER, default_user_folder


def put(cache: ResultCache, size: int, fmt: str = "ply", task_id: str | None = None) -> Path:
    tmp, handle = cache.new_partial()
    with handle:
        handle.write(b"x" * size)
    return cache.put_from_temp(tmp, task_id or str(uuid.uuid4()), fmt)


def age(path: Path, seconds_ago: float) -> None:
    when = time.time() - seconds_ago
    os.utime(path, (when, when))


def test_put_and_get(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "results", max_bytes=10_000)
    task_id = str(uuid.uuid4()).upper()
    assert cache.get(task_id, "ply") is None
    path = put(cache, 100, task_id=task_id)
    assert path == tmp_path / "results" / f"{task_id.lower()}.ply"
    assert cache.get(task_id, "ply") == path and cache.get(task_id, "spz") is None
    assert [p.name for p in (tmp_path / "results").iterdir()] == [path.name]  # no .part left
    cache.remove(task_id, "ply")
    assert cache.get(task_id, "ply") is None


def test_empty_file_is_not_a_hit(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    task_id = str(uuid.uuid4())
    cache.path_for(task_id, "ply").write_bytes(b"")
    assert cache.get(task_id, "ply") is None


@pytest.mark.parametrize(
    ("task_id", "fmt"),
    [
        ("../../../home/user/.bashrc", "ply"),
        ("result", "ply"),
        (str(uuid.uuid4()), "../x"),
        (str(uuid.uuid4()), "exe"),
        (str(uuid.uuid4()) + "/..", "ply"),
    ],
)
def test_names_come_only_from_valid_ids(tmp_path: Path, task_id: str, fmt: str) -> None:
    cache = ResultCache(tmp_path)
    with pytest.raises(GatewayError):
        cache.path_for(task_id, fmt)


def test_oldest_is_evicted(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path, max_bytes=1_000)
    a, b, c = (put(cache, 300) for _ in range(3))
    for path, ago in ((a, 300), (b, 200), (c, 100)):
        age(path, ago)
    cache.get(a.stem, "ply")  # a read makes ``a`` the newest
    d = put(cache, 300)
    assert {p.name for p, _, _ in cache.files()} == {a.name, c.name, d.name}
    assert cache.total_bytes() == 900


def test_newest_is_kept_even_when_alone_over_budget(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path, max_bytes=100)
    first = put(cache, 80)
    age(first, 60)
    big = put(cache, 500)
    assert [p for p, _, _ in cache.files()] == [big]


def test_evict_spares_foreign_files_and_fresh_partials(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path, max_bytes=0)
    foreign = tmp_path / "notes.txt"
    foreign.write_text("mine")
    fresh, handle = cache.new_partial()
    handle.close()
    stale, handle = cache.new_partial()
    handle.close()
    age(stale, STALE_PARTIAL_S + 60)
    put(cache, 10)
    assert foreign.exists() and fresh.exists() and not stale.exists()


def test_put_from_another_folder(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "results")
    outside = tmp_path / "elsewhere.bin"
    outside.write_bytes(b"abc")
    task_id = str(uuid.uuid4())
    path = cache.put_from_temp(outside, task_id, "spz")
    assert path.read_bytes() == b"abc" and not outside.exists()


def test_default_user_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(ENV_USER_FOLDER, str(tmp_path / "mine"))
    assert default_user_folder() == tmp_path / "mine"
    monkeypatch.delenv(ENV_USER_FOLDER)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    folder = default_user_folder()
    assert folder.name == "gen404"
    assert not folder.exists()  # computing it creates nothing


def test_variant_zips_are_cached_results_and_stale_unpacked_variants_are_swept(
    tmp_path: Path,
) -> None:
    cache = ResultCache(tmp_path, max_bytes=10_000)
    task_id = str(uuid.uuid4())
    zipped = put(cache, 10, "spz.zip", task_id)
    assert zipped.name == f"{task_id}.spz.zip" and cache.get(task_id, "spz.zip") == zipped
    assert [p for p, _, _ in cache.files()] == [zipped]
    fresh, stale = tmp_path / ".variant-a.glb", tmp_path / ".variant-b.glb"
    for path in (fresh, stale):
        path.write_bytes(b"glTF")
    age(stale, STALE_PARTIAL_S + 60)  # left by a Blender that crashed mid-import
    cache.evict()
    assert fresh.exists() and not stale.exists() and zipped.exists()
    with pytest.raises(GatewayError, match="Unknown result format"):
        cache.path_for(task_id, "exe.zip")
