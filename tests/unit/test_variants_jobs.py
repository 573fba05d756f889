"""A variants job through the real JobRunner and the live simulator: it waits for Success,
downloads the ZIP once into the cache, journals it, and a restart reads it again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from gen404.client.glb import MeshResult
from gen404.client.jobs import JobRunner
from gen404.client.journal import open_journal
from gen404.client.models import GenerationRequest, JobEvent, Phase
from gen404.client.retry import RetryPolicy
from gen404.client.variants import Variants, read_result
from gen404.splats.cloud import SplatCloud

from tests.simulator import Fault, GatewaySimulator
from tests.simulator.images import png_bytes
from tests.unit.conftest import settings_for, wait_jobs


@pytest.fixture
def runner() -> Iterator[JobRunner]:
    quick = RetryPolicy(jitter=0.0, base_s=0.01, max_delay_s=0.02)
    r = JobRunner(parse_file=read_result, retry=quick)
    yield r
    r.shutdown()


def run(runner: JobRunner, request: GenerationRequest, sim: GatewaySimulator, **kw) -> JobEvent:
    job_id = runner.submit(request, settings_for(sim, **kw))
    return wait_jobs(runner, [job_id])[job_id][-1]


def test_a_variants_job_waits_for_success_and_downloads_the_zip_once(
    sim: GatewaySimulator, runner: JobRunner, user_folder: Path
) -> None:
    sim.set_successes(3)
    request = GenerationRequest("a red robot", variants=True)
    # First Result Early is on, yet a variants job waits for every worker.
    last = run(runner, request, sim, download_on_partial=True)
    assert last.phase is Phase.READY, last
    payload = last.payload
    assert isinstance(payload, Variants) and [v.number for v in payload.variants] == [1, 2, 3]
    assert all(isinstance(v.result, SplatCloud) for v in payload.variants)
    heights = [np.ptp(v.result.positions[:, 1]) for v in payload.variants]  # type: ignore[union-attr]
    assert heights[0] < heights[1] < heights[2]
    task_id = last.task_id or ""
    assert len(sim.stats().requests_for("/get_result", task_id)) == 1
    cached = Path(last.result_path)
    assert cached == user_folder / "results" / f"{task_id}.ply.zip" and cached.is_file()
    entry = open_journal(user_folder).get(task_id)
    assert entry is not None and (entry.fmt, entry.state) == ("ply.zip", "ready")
    assert entry.result_path == str(cached)

    # Import Again, or after a restart: from the cache, with no request at all.
    before = sim.stats().requests
    again = runner.resume(task_id, settings_for(sim, base_url="https://127.0.0.1:9"))
    events = wait_jobs(runner, [again])[again]
    assert events[-1].phase is Phase.READY and len(events[-1].payload) == 3  # type: ignore[arg-type]
    assert sim.stats().requests == before
    assert len(sim.stats().add_task_log) == 1  # never sent twice


def test_without_variants_one_result_comes_as_before(
    sim: GatewaySimulator, runner: JobRunner
) -> None:
    sim.set_successes(3)
    last = run(runner, GenerationRequest("a red robot"), sim, result_format="spz")
    assert last.phase is Phase.READY and isinstance(last.payload, SplatCloud)
    assert last.result_path.endswith(f"{last.task_id}.spz")


def test_mesh_variants_arrive_as_checked_glbs(sim: GatewaySimulator, runner: JobRunner) -> None:
    sim.set_successes(2)
    request = GenerationRequest(
        image=png_bytes(32, 32), image_name="car.png", image_mime="image/png", model="404-mesh"
    )
    last = run(runner, GenerationRequest(**{**request.__dict__, "variants": True}), sim)
    assert last.phase is Phase.READY and last.result_path.endswith(".glb.zip")
    payload = last.payload
    assert isinstance(payload, Variants) and len(payload) == 2
    paths = [Path(v.result.path) for v in payload.variants if isinstance(v.result, MeshResult)]
    assert len(paths) == 2 and all(p.read_bytes()[:4] == b"glTF" for p in paths)
    payload.discard()
    assert not any(p.exists() for p in paths)


def test_a_zip_that_cannot_be_read_fails_clearly_and_is_kept(
    sim: GatewaySimulator, runner: JobRunner, user_folder: Path
) -> None:
    sim.add_fault("/get_result", Fault(status=200, body=b"<html>maintenance</html>"))
    last = run(runner, GenerationRequest("a red robot", variants=True), sim)
    assert last.phase is Phase.FAILED
    cached = user_folder / "results" / f"{last.task_id}.ply.zip"
    assert "The result could not be read: The gateway's ZIP of variants" in last.message
    assert "is not a readable zip archive" in last.message
    assert f"The download is kept as {cached}." in last.message
    assert cached.read_bytes() == b"<html>maintenance</html>"
    assert open_journal(user_folder).get(last.task_id or "") is not None


def test_a_failed_download_keeps_the_paid_task_to_resume(
    sim: GatewaySimulator, runner: JobRunner, user_folder: Path
) -> None:
    sim.set_successes(3)
    sim.add_fault("/get_result", Fault(status=503, body=b"busy"), count=RetryPolicy().max_attempts)
    last = run(runner, GenerationRequest("a red robot", variants=True), sim)
    assert last.phase is Phase.FAILED
    assert last.message.endswith("The task is kept and resumes when the add-on starts again.")
    (entry,) = open_journal(user_folder).unfinished()
    assert (entry.task_id, entry.fmt) == (last.task_id, "ply.zip")

    again = runner.resume(entry.task_id, settings_for(sim))
    done = wait_jobs(runner, [again])[again][-1]
    assert done.phase is Phase.READY and len(done.payload) == 3  # type: ignore[arg-type]
    assert len(sim.stats().add_task_log) == 1
