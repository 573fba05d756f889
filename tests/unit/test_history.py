"""The History across sessions: rows from the journal, thumbnails made off the calling
thread, and what its buttons do without Blender (find, remove, generate again)."""

from __future__ import annotations

import struct
import threading
import time
import uuid
import zlib
from pathlib import Path

import numpy as np
import pytest
from gen404.client.errors import GatewayError
from gen404.client.glb import GlbError
from gen404.client.jobs import JobRunner
from gen404.client.journal import (
    CANCELLED,
    FAILED,
    READY,
    JournalEntry,
    TaskJournal,
    close_journal,
    open_journal,
)
from gen404.client.models import Phase
from gen404.history import rows as history
from gen404.history.glb_mesh import read_glb_triangles
from gen404.history.png import SIGNATURE
from gen404.history.service import HistoryService
from gen404.history.splat_view import MAX_SPLATS, THUMB_SIZE
from gen404.history.thumbnails import make_thumbnail, read_sample, thumbnail_path
from gen404.splats.cloud import SplatFormatError

from tests.simulator import GatewaySimulator
from tests.simulator.figure import SH_C0, figure_ply_bytes, ply_bytes
from tests.simulator.results import pack_glb, tiny_glb, unpack_glb
from tests.unit.conftest import settings_for, wait_jobs
from tests.unit.journal_rows import entry

ROOT = Path(__file__).resolve().parents[2]
LOOK = ROOT / "build" / "history-thumbnails"
"""Thumbnails written here for people to look at (build/ is not in git)."""
RED, BLUE = (1.0, 0.0, 0.0), (0.0, 0.0, 1.0)


def read_png(path: Path) -> np.ndarray:
    """An 8-bit RGBA PNG as written by history.png (one IDAT, filter 0 on every row)."""
    data = path.read_bytes()
    assert data.startswith(SIGNATURE)
    chunks, offset = {}, len(SIGNATURE)
    while offset < len(data):
        (length,) = struct.unpack_from(">I", data, offset)
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        assert struct.unpack_from(">I", data, offset + 8 + length)[0] == zlib.crc32(kind + body)
        chunks[kind] = body
        offset += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, colour) == (8, 6)
    rows = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(height, -1)
    assert (rows[:, 0] == 0).all()
    return rows[:, 1:].reshape(height, width, 4)


def blob(centre: tuple[float, float, float], rgb: tuple[float, ...], n: int, seed: int) -> dict:
    """``n`` small opaque splats around ``centre`` (404's +Y-up frame) in colour ``rgb``."""
    rng = np.random.default_rng(seed)
    return {
        "positions": rng.normal(centre, 0.08, (n, 3)),
        "f_dc": np.tile((np.asarray(rgb) - 0.5) / SH_C0, (n, 1)),
        "opacity": np.full(n, 4.0),
        "log_scales": np.full((n, 3), np.log(0.02)),
        "rotations": np.tile((1.0, 0.0, 0.0, 0.0), (n, 1)),
    }


def cloud_ply(*blobs: dict) -> bytes:
    return ply_bytes({k: np.concatenate([b[k] for b in blobs]).astype("f4") for k in blobs[0]})


def record(folder: Path, result: bytes | None = None, **overrides: object) -> JournalEntry:
    """Journal a task with the real journal code (and cache its result file)."""
    journal = open_journal(folder)
    e = entry(**overrides)
    assert journal.record(e)
    if result is not None:
        journal.results.mkdir(parents=True, exist_ok=True)
        journal.result_file(e).write_bytes(result)
    return e


def look(name: str, path: Path) -> None:
    LOOK.mkdir(parents=True, exist_ok=True)
    (LOOK / name).write_bytes(path.read_bytes())


# -- rows ------------------------------------------------------------------------------
def test_rows_are_the_finished_results_of_every_session_newest_first(tmp_path: Path) -> None:
    now = time.time()
    old = record(tmp_path, b"ply", state=READY, imported=True, prompt="a chair", seed=7,
                 submitted_at=now - 3 * 86400, object_name="a chair")  # fmt: skip
    gone = record(tmp_path, None, state=READY, label="evicted", submitted_at=now - 3600)
    failed = record(tmp_path, None, state=FAILED, message="Task timed out", submitted_at=now - 60)
    record(tmp_path, None, state=CANCELLED, submitted_at=now - 30)
    record(tmp_path, None, state="in_progress", submitted_at=now - 10)  # in the Tasks list
    mesh = record(
        tmp_path,
        tiny_glb(),
        state=READY,
        kind="image",
        label="red car",
        image_name="red car.png",
        fmt="glb",
        model="404-mesh-v2",
        seed=-1,
        model_params='{"face_count":150000}',
        submitted_at=now,
    )

    rows = history.read_rows(tmp_path)

    assert [r.task_id for r in rows] == [mesh.task_id, failed.task_id, gone.task_id, old.task_id]
    first, failed_row, gone_row, old_row = rows
    assert (first.kind, first.model, first.seed, first.is_mesh) == (
        "image",
        "404-mesh-v2",
        None,
        True,
    )
    assert first.model_params == {"face_count": 150000} and first.cached and not first.imported
    assert "404-mesh-v2" in first.settings_text and "face_count 150000" in first.settings_text
    assert first.again_problem and "red car.png" in first.again_problem
    assert failed_row.failed and failed_row.message == "Task timed out" and not failed_row.cached
    assert not gone_row.cached and gone_row.label == "evicted"
    assert old_row.imported and old_row.seed == 7 and old_row.cached
    assert old_row.again_problem is None
    assert old_row.date_text == time.strftime("%Y-%m-%d %H:%M", time.localtime(now - 3 * 86400))
    assert all(not r.has_thumbnail for r in rows)


def test_generate_again_repeats_prompt_model_parameters_and_seed(tmp_path: Path) -> None:
    e = record(tmp_path, None, state=READY, prompt="a chair", seed=-123, model="404-3dgs")
    request = history.again_request(history.find_entry(tmp_path, e.task_id))
    assert (request.prompt, request.model, request.seed, request.image) == (
        "a chair", "404-3dgs", -123, None)  # fmt: skip
    request.validate()
    unknown_seed = record(tmp_path, None, state=READY, prompt="a lamp", seed=-1)
    assert history.again_request(unknown_seed).seed is None  # drawn anew (and recorded)
    image = record(tmp_path, None, state=READY, kind="image", image_name="cat.png", label="cat")
    with pytest.raises(history.HistoryError, match=r"image of 'cat' \(cat.png\) is not kept"):
        history.again_request(image)


def test_find_entry_newest_and_missing(tmp_path: Path) -> None:
    with pytest.raises(history.HistoryError, match="History is empty"):
        history.find_entry(tmp_path)
    first = record(tmp_path, None, state=READY, submitted_at=time.time() - 5)
    second = record(tmp_path, None, state=FAILED)
    record(tmp_path, None, state="queued", submitted_at=time.time() + 5)  # not a result
    assert history.find_entry(tmp_path).task_id == second.task_id
    assert history.find_entry(tmp_path, first.task_id.upper()).task_id == first.task_id
    with pytest.raises(history.HistoryError, match="forgotten a week"):
        history.find_entry(tmp_path, str(uuid.uuid4()))


def test_import_again_says_clearly_when_the_file_is_gone(tmp_path: Path) -> None:
    kept = record(tmp_path, b"ply", state=READY, label="kept")
    gone = record(tmp_path, None, state=READY, label="gone")
    failed = record(tmp_path, None, state=FAILED, label="broken", message="Task timed out")
    assert history.cached_result(tmp_path, kept) == open_journal(tmp_path).result_file(kept)
    with pytest.raises(history.HistoryError, match="'gone' is no longer in the cache"):
        history.cached_result(tmp_path, gone)
    with pytest.raises(history.HistoryError, match=r"'broken' has no result.*Task timed out"):
        history.cached_result(tmp_path, failed)


def test_remove_forgets_the_task_and_deletes_its_files(tmp_path: Path) -> None:
    e = record(tmp_path, b"ply", state=READY)
    other = record(tmp_path, b"ply", state=READY)
    thumb = thumbnail_path(tmp_path, e.task_id)
    thumb.parent.mkdir(parents=True)
    thumb.write_bytes(SIGNATURE)
    result = open_journal(tmp_path).result_file(e)

    gone = history.remove(tmp_path, e.task_id)

    assert set(gone) == {result, thumb} and not result.exists() and not thumb.exists()
    assert open_journal(tmp_path).get(e.task_id) is None
    assert [r.task_id for r in history.read_rows(tmp_path)] == [other.task_id]
    assert open_journal(tmp_path).result_file(other).is_file()


def test_a_result_never_imported_is_removed_only_after_a_warning(tmp_path: Path) -> None:
    paid = record(tmp_path, b"ply", state=READY, label="a paid chair")
    warning = history.removal_warning(paid)
    assert warning is not None and "'a paid chair' was paid for" in warning
    assert "only copy" in warning
    imported = record(tmp_path, b"ply", state=READY, imported=True)
    failed = record(tmp_path, None, state=FAILED)
    assert history.removal_warning(imported) is None and history.removal_warning(failed) is None


def test_a_running_task_is_never_removed(tmp_path: Path) -> None:
    running = record(tmp_path, None, state="partial", label="running")
    with pytest.raises(history.HistoryError, match="'running' is still running"):
        history.remove(tmp_path, running.task_id)
    assert open_journal(tmp_path).get(running.task_id) is not None


@pytest.mark.parametrize(
    "hostile",
    [
        "../../outside",
        "/etc/passwd",
        "..",
        "x" * 36,
        "12345678-1234-1234-1234-1234567890ab/../../outside",
        "12345678-1234-1234-1234-12345678.png",
        "",
    ],
)
def test_hostile_task_ids_never_become_paths(tmp_path: Path, hostile: str) -> None:
    folder = tmp_path / "user"
    record(folder, b"ply", state=READY)
    outside = tmp_path / "outside"
    outside.write_text("keep me")
    with pytest.raises(GatewayError):
        thumbnail_path(folder, hostile)
    if hostile:  # empty means "the newest", which is a real task
        with pytest.raises(history.HistoryError, match="not a task id"):
            history.remove(folder, hostile)
    assert outside.read_text() == "keep me"


def test_stray_thumbnails_are_swept(tmp_path: Path) -> None:
    known = record(tmp_path, b"ply", state=READY)
    folder = thumbnail_path(tmp_path, known.task_id).parent
    folder.mkdir(parents=True)
    stray = folder / f"{uuid.uuid4()}.png"
    for path in (thumbnail_path(tmp_path, known.task_id), stray, folder / "notes.png"):
        path.write_bytes(SIGNATURE)
    assert history.sweep_thumbnails(tmp_path, {known.task_id}) == 1
    assert not stray.exists() and (folder / "notes.png").exists()
    assert thumbnail_path(tmp_path, known.task_id).exists()


def test_the_results_folder_is_what_open_folder_shows(tmp_path: Path) -> None:
    assert history.result_folder(tmp_path) == tmp_path  # nothing downloaded yet
    record(tmp_path, b"ply", state=READY)
    assert history.result_folder(tmp_path) == tmp_path / "results"


# -- thumbnails ------------------------------------------------------------------------
def test_splat_thumbnail_puts_colours_where_the_front_view_shows_them(tmp_path: Path) -> None:
    result = tmp_path / "blobs.ply"
    result.write_bytes(cloud_ply(blob((-0.5, 0, 0), RED, 800, 1), blob((0.5, 0, 0), BLUE, 800, 2)))
    out = make_thumbnail(result, tmp_path / "thumbnails" / "blobs.png")
    look("unit-red-left-blue-right.png", out)
    picture = read_png(out)

    assert picture.shape == (THUMB_SIZE, THUMB_SIZE, 4)
    middle = THUMB_SIZE // 2
    left, right = picture[middle, THUMB_SIZE // 4], picture[middle, 3 * THUMB_SIZE // 4]
    assert left[3] == 255 and left[0] > 200 and left[2] < 40, left
    assert right[3] == 255 and right[2] > 200 and right[0] < 40, right
    for corner in (picture[0, 0], picture[0, -1], picture[-1, 0], picture[-1, -1]):
        assert corner[3] == 0
    assert picture[middle, middle, 3] < 10  # the gap between the blobs


def test_splat_thumbnail_stands_upright_and_shows_the_nearest_splats(tmp_path: Path) -> None:
    """404's results are +Y up, and file +Z faces the viewer (Blender's Front view)."""
    result = tmp_path / "stack.ply"
    result.write_bytes(
        cloud_ply(
            blob((0, 0.5, 0), RED, 600, 1),  # on top
            blob((0, -0.5, 0.3), BLUE, 600, 2),  # below, in front of the green
            blob((0, -0.5, -0.3), (0.0, 1.0, 0.0), 600, 3),  # below, behind
        )
    )
    picture = read_png(make_thumbnail(result, tmp_path / "stack.png"))
    column = THUMB_SIZE // 2
    top, bottom = picture[THUMB_SIZE // 4, column], picture[3 * THUMB_SIZE // 4, column]
    assert top[0] > 200 and top[2] < 40, top
    assert bottom[2] > 200 and bottom[1] < 60, bottom  # the blue hides the green


def test_the_figure_result_thumbnail_is_written_for_a_look(tmp_path: Path) -> None:
    result = tmp_path / "figure.ply"
    result.write_bytes(figure_ply_bytes())
    picture = read_png(make_thumbnail(result, LOOK / "unit-simulator-figure.png"))
    opaque = picture[..., 3] > 200
    rows = np.flatnonzero(opaque.any(axis=1))
    top, bottom = picture[rows[0] + 4], picture[rows[-1] - 4]
    assert (top[top[:, 3] > 200][:, 0] > 200).all()  # the red head on top
    assert (bottom[bottom[:, 3] > 200][:, 2] > 200).all()  # the blue base at the bottom
    assert rows[0] > 2 and rows[-1] < THUMB_SIZE - 3  # all of it in the picture
    nose = picture[rows[0] : rows[0] + 40, THUMB_SIZE // 2 - 2 : THUMB_SIZE // 2 + 3]
    assert ((nose[..., 0] > 200) & (nose[..., 1] > 200)).any()  # yellow: it faces us
    real = ROOT / "tests" / "data" / "real" / "hamburger.ply"  # a real 404 result
    burger = read_png(make_thumbnail(real, LOOK / "unit-hamburger.png"))
    assert (burger[..., 3] > 128).mean() > 0.3


def test_large_results_are_subsampled_evenly(tmp_path: Path) -> None:
    result = tmp_path / "many.ply"
    result.write_bytes(cloud_ply(blob((0, 0, 0), RED, 5000, 1)))
    sample = read_sample(result, limit=700)
    assert sample.count == 625  # every 8th splat of 5000
    np.testing.assert_allclose(
        sample.positions[1], blob((0, 0, 0), RED, 5000, 1)["positions"][8], rtol=1e-6
    )
    huge = bytearray(result.read_bytes())
    huge[: huge.index(b"\n", 40)] = b"ply\nformat binary_little_endian 1.0\nelement vertex 20000000"
    result.write_bytes(bytes(huge))
    with pytest.raises(SplatFormatError, match="20,000,000 splats"):
        read_sample(result)
    assert MAX_SPLATS <= 250_000


def test_glb_thumbnail_draws_the_mesh(tmp_path: Path) -> None:
    result = tmp_path / "quad.glb"
    result.write_bytes(tiny_glb())
    triangles, colours = read_glb_triangles(result)
    assert triangles.shape == (2, 3, 3) and np.allclose(colours, (0.8, 0.1, 0.1))
    out = make_thumbnail(result, tmp_path / "quad.png")
    look("unit-glb-quad.png", out)
    picture = read_png(out)
    centre = picture[THUMB_SIZE // 2, THUMB_SIZE // 2]
    assert centre[3] == 255 and centre[0] > 100 and centre[1] < 40, centre
    assert (picture[..., 3] == 255).mean() > 0.5
    assert picture[0, 0, 3] == 0 and picture[-1, -1, 3] == 0


@pytest.mark.parametrize(
    "damage",
    [
        lambda doc: doc["accessors"][0].update(count=4000),  # reads past the data
        lambda doc: doc["accessors"][1].update(byteOffset=10),  # past its view
        lambda doc: doc["nodes"][0].update(children=[0]),  # a cycle
        lambda doc: doc["bufferViews"][0].update(byteOffset=-48),
        lambda doc: doc["meshes"][0].update(primitives=[{"attributes": {"POSITION": 9}}]),
    ],
)
def test_hostile_glbs_raise_instead_of_reading_outside(tmp_path: Path, damage) -> None:
    document, binary = unpack_glb(tiny_glb())
    damage(document)
    result = tmp_path / "bad.glb"
    result.write_bytes(pack_glb(document, binary))
    with pytest.raises(GlbError):
        read_glb_triangles(result)


# -- the worker ------------------------------------------------------------------------
def test_thumbnails_are_made_off_the_calling_thread(tmp_path: Path) -> None:
    splats = record(tmp_path, figure_ply_bytes(), state=READY, submitted_at=time.time() - 9)
    mesh = record(tmp_path, tiny_glb(), state=READY, fmt="glb", kind="image", model="404-mesh")
    broken = record(tmp_path, b"not a splat file", state=READY, submitted_at=time.time() - 99)
    service = HistoryService(tmp_path)
    try:
        assert service.rows() == []
        assert service.refresh() is not None
        assert service.wait(60)
        changed, made = service.take_changes()
        assert changed and set(made) == {splats.task_id, mesh.task_id}
        assert threading.get_ident() not in service.worker_threads and service.worker_threads
        assert thumbnail_path(tmp_path, splats.task_id).is_file()
        assert thumbnail_path(tmp_path, mesh.task_id).is_file()
        assert "not a splat file" in service.problems[broken.task_id]
        assert [r.has_thumbnail for r in service.rows()] == [True, True, False]
        # Nothing changed on disk: no new work. A new result: read again, drawn once.
        assert service.refresh() is None
        later = record(tmp_path, figure_ply_bytes(), state=READY, submitted_at=time.time() + 1)
        assert service.refresh() is not None and service.wait(60)
        assert service.take_changes() == (True, [later.task_id])  # the broken one not retried
    finally:
        service.shutdown()


def test_an_imported_result_imports_again_while_another_blender_runs(
    sim: GatewaySimulator, user_folder: Path
) -> None:
    """Only a result still waiting for its import has one owner; one already in a scene
    is anyone's to import again (from the cache, no network)."""
    other = TaskJournal(user_folder)  # another live Blender, which imported it
    done = entry(base_url=sim.url, state=READY, imported=True)
    waiting = entry(base_url=sim.url, state=READY)
    for e in (done, waiting):
        other.record(e)
        other.results.mkdir(parents=True, exist_ok=True)
        other.result_file(e).write_bytes(figure_ply_bytes())
    runner = JobRunner(parse=len)
    try:
        job_id = runner.resume(done.task_id, settings_for(sim))
        assert wait_jobs(runner, [job_id])[job_id][-1].phase is Phase.READY
        with pytest.raises(GatewayError, match="Another Blender"):
            runner.resume(waiting.task_id, settings_for(sim))
        assert sim.stats().connections == 0
    finally:
        runner.shutdown()
        other.close()
        close_journal(user_folder)
