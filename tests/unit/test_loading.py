"""splats.loading: the import's reading half, which runs on a worker thread.

Plain Python: loading every format, the chunked read's progress and cancel, the
worker job's results, progress and errors, and what the user is told.
"""

from __future__ import annotations

import mmap
import threading
from pathlib import Path

import numpy as np
import pytest
from gen404.splats import loading
from gen404.splats.cloud import SplatCloud, SplatFormatError
from gen404.splats.reader import read_splat_file

from tests.unit.plyfiles import make_ply, splat_columns
from tests.unit.spzfiles import SpzOptions, encode_dot_splat, encode_spz, realistic_splats

DATA = Path(__file__).resolve().parent.parent / "data"
TIMEOUT = 20.0


def _write(folder: Path, name: str, n: int = 40, seed: int = 0) -> Path:
    src = realistic_splats(n, 0, seed=seed)
    data = {
        ".ply": lambda: make_ply(src.columns()),
        ".spz": lambda: encode_spz(src, SpzOptions(version=2)),
        ".splat": lambda: encode_dot_splat(src),
    }[Path(name).suffix]()
    path = folder / name
    path.write_bytes(data)
    return path


def _same(a: SplatCloud, b: SplatCloud) -> None:
    for name in ("positions", "log_scales", "rotations", "opacity_logit", "sh_dc", "sh_rest"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def _drain(job: loading.ImportJob) -> list[loading.Loaded | None]:
    """Every item the job puts on its queue, up to and including the final None."""
    out: list[loading.Loaded | None] = []
    while not out or out[-1] is not None:
        out.append(job.results.get(timeout=TIMEOUT))
    return out


# --- one file ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["model.ply", "model.spz", "model.splat"])
def test_load_file_reads_every_format_as_the_reader_does(tmp_path: Path, name: str) -> None:
    path = _write(tmp_path, name)
    cloud = loading.load_file(str(path))
    assert cloud is not None and cloud.count == 40
    _same(cloud, read_splat_file(path))


def test_load_file_reads_the_404_fixture() -> None:
    cloud = loading.load_file(str(DATA / "gen404_sh0.spz"))
    assert cloud is not None
    _same(cloud, read_splat_file(DATA / "gen404_sh0.spz"))


def test_a_large_file_goes_through_a_mapped_buffer_in_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big.ply"
    path.write_bytes(make_ply(splat_columns(30_000, 1, normals=True, seed=3)))
    assert path.stat().st_size > 1 << 20
    monkeypatch.setattr(loading, "READ_CHUNK", 256 << 10)
    steps: list[float] = []
    cloud = loading.load_file(str(path), progress=steps.append)
    assert cloud is not None and cloud.count == 30_000
    _same(cloud, read_splat_file(path))  # the cloud outlives the buffer it came from
    assert len(steps) > 4 and steps == sorted(steps) and steps[-1] == 1.0


def test_file_buffer_maps_big_files_and_not_small_ones() -> None:
    assert isinstance(loading.file_buffer(1000), bytearray)
    big = loading.file_buffer(2 << 20)
    try:
        assert len(big) == 2 << 20
        if hasattr(mmap, "MAP_POPULATE") and hasattr(mmap, "MAP_ANONYMOUS"):
            assert isinstance(big, mmap.mmap)
    finally:
        if isinstance(big, mmap.mmap):
            big.close()


def test_cancelled_before_the_end_gives_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, "model.ply", n=2000)
    assert loading.load_file(str(path), cancelled=lambda: True) is None
    monkeypatch.setattr(loading, "READ_CHUNK", 1024)
    steps: list[float] = []
    cloud = loading.load_file(str(path), progress=steps.append, cancelled=lambda: bool(steps))
    assert cloud is None and len(steps) == 1  # stopped after the first chunk


def test_a_file_that_shrinks_while_read_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, "model.ply")
    real = path.stat().st_size
    monkeypatch.setattr(loading.os.path, "getsize", lambda p: real + 100)
    with pytest.raises(SplatFormatError, match=r"model\.ply shrank while it was being read"):
        loading.load_file(str(path))


def test_a_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        loading.load_file(str(tmp_path / "missing.ply"))


# --- what the user is told ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "text"),
    [
        (FileNotFoundError(2, "gone"), "/data/a.ply does not exist: choose another file."),
        (SplatFormatError("it holds no splats"), "Cannot import a.ply: it holds no splats"),
        (PermissionError("denied"), "Cannot import a.ply: denied"),
        (ValueError("bad value"), "Cannot import a.ply: bad value"),
        (KeyError("x"), "Cannot import a.ply: KeyError: 'x'"),
    ],
)
def test_problem_text(exc: BaseException, text: str) -> None:
    assert loading.problem_text("/data/a.ply", exc) == text


# --- the worker job -------------------------------------------------------------------------


class RecordingJob(loading.ImportJob):
    """An ImportJob that keeps every progress step it reports."""

    def __init__(self, paths: list[str]) -> None:
        super().__init__(paths)
        self.steps: list[tuple[float, str]] = []

    def _report(self, index: int, part: float, text: str) -> None:
        super()._report(index, part, text)
        self.steps.append(self.progress())


def test_the_job_delivers_every_file_in_order_then_none(tmp_path: Path) -> None:
    paths = [str(_write(tmp_path, name, seed=i)) for i, name in enumerate(["a.ply", "b.spz"])]
    paths.append(str(_write(tmp_path, "c.splat", n=12)))
    job = RecordingJob(paths)
    assert job.progress() == (0.0, "Starting")
    job.start()
    out = _drain(job)
    assert job.join(TIMEOUT)
    assert [item.path for item in out if item is not None] == paths
    assert all(item.cloud is not None and item.error is None for item in out if item)
    assert [item.cloud.count for item in out if item and item.cloud] == [40, 40, 12]
    fractions = [fraction for fraction, _ in job.steps]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert job.progress() == (1.0, "Read c.splat")
    texts = {text for _, text in job.steps}
    assert {"Reading a.ply", "Read a.ply", "Reading b.spz", "Read c.splat"} <= texts


def test_a_bad_file_is_reported_and_the_others_still_load(tmp_path: Path) -> None:
    good = _write(tmp_path, "good.ply")
    broken = tmp_path / "broken.ply"
    broken.write_bytes(good.read_bytes()[:-100])
    missing = tmp_path / "missing.spz"
    job = loading.ImportJob([str(broken), str(missing), str(good)])
    job.start()
    first, second, third, end = _drain(job)
    assert end is None
    assert first is not None and first.cloud is None and isinstance(first.error, SplatFormatError)
    assert second is not None and isinstance(second.error, FileNotFoundError)
    assert third is not None and third.cloud is not None and third.error is None
    assert "does not exist" in loading.problem_text(second.path, second.error)


def test_the_job_can_be_cancelled_mid_decode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = [str(_write(tmp_path, name)) for name in ("a.ply", "b.ply")]
    decoding, release = threading.Event(), threading.Event()
    read = loading.read_splat_bytes

    def held_read(*args: object, **kwargs: object) -> SplatCloud:
        decoding.set()
        release.wait(TIMEOUT)
        return read(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(loading, "read_splat_bytes", held_read)
    job = loading.ImportJob(paths)
    job.start()
    assert decoding.wait(TIMEOUT)
    assert job.results.empty()  # still decoding the first file
    job.cancel()
    assert job.cancelled
    release.set()
    out = _drain(job)
    assert job.join(TIMEOUT)
    # The file being decoded finishes; the next one is never read.
    assert [item.path for item in out if item is not None] == paths[:1]


def test_a_job_cancelled_before_it_starts_reads_nothing(tmp_path: Path) -> None:
    job = loading.ImportJob([str(_write(tmp_path, "a.ply"))])
    job.cancel()
    job.start()
    assert _drain(job) == [None]


def test_the_job_reads_on_its_own_daemon_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[threading.Thread] = []
    load = loading.load_file

    def recording_load(*args: object, **kwargs: object) -> SplatCloud | None:
        seen.append(threading.current_thread())
        return load(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(loading, "load_file", recording_load)
    job = loading.ImportJob([str(_write(tmp_path, "a.ply"))])
    job.start()
    _drain(job)
    (thread,) = seen
    assert thread is not threading.main_thread() and thread.daemon
    assert thread.name == "gen404 import"
