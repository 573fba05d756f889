"""Jobs and the journal: written before polling, followed, resumed without resubmitting."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gen404.client import jobs
from gen404.client.errors import GatewayError
from gen404.client.gateway import GatewayClient
from gen404.client.jobs import JobRunner
from gen404.client.journal import open_journal
from gen404.client.models import GenerationRequest, JobSettings, Phase
from gen404.client.status import TaskStatus

from tests.simulator import GatewaySimulator
from tests.simulator.images import png_bytes
from tests.unit.conftest import settings_for, wait_jobs, wait_phase

UNKNOWN_ID = "11111111-2222-4333-8444-555555555555"


@pytest.fixture
def runner() -> Iterator[JobRunner]:
    r = JobRunner(parse=len)
    yield r
    r.shutdown()


def test_task_is_journalled_before_the_first_poll(sim: GatewaySimulator) -> None:
    seen: list[dict] = []

    class Checking(GatewayClient):
        def get_status(self, task_id: str, **bounds: Any) -> TaskStatus:
            tasks = json.loads((Path(settings.user_folder) / "tasks.json").read_text())["tasks"]
            seen.append({t["task_id"]: t for t in tasks}[task_id])
            return super().get_status(task_id, **bounds)

    def factory(s: JobSettings) -> GatewayClient:
        return Checking(s.base_url, s.api_key, timeout=s.timeout_s)

    settings = settings_for(sim)
    r = JobRunner(parse=len, client_factory=factory)
    job_id = r.submit(GenerationRequest("a red chair", seed=3), settings, label="Chair")
    last = wait_jobs(r, [job_id])[job_id][-1]
    assert last.phase is Phase.READY
    first = seen[0]
    assert first["state"] == "submitted" and first["label"] == "Chair"
    assert first["prompt"] == "a red chair" and first["base_url"] == sim.url
    entry = open_journal(settings.user_folder).get(last.task_id or "")
    assert entry is not None and entry.state == "ready" and entry.results >= 1
    assert entry.result_path == last.result_path and not entry.imported
    r.shutdown()


def test_image_task_journals_the_name_not_the_bytes(
    sim: GatewaySimulator, runner: JobRunner
) -> None:
    image = png_bytes(16, 16)
    request = GenerationRequest(image=image, image_name="photo.png", image_mime="image/png")
    job_id = runner.submit(request, settings_for(sim))
    last = wait_jobs(runner, [job_id])[job_id][-1]
    entry = open_journal(settings_for(sim).user_folder).get(last.task_id or "")
    assert entry is not None and (entry.kind, entry.image_name, entry.prompt) == (
        "image",
        "photo.png",
        "",
    )
    raw = (Path(settings_for(sim).user_folder) / "tasks.json").read_bytes()
    assert image[8:40] not in raw and b"IHDR" not in raw


def test_restart_resumes_without_submitting_again(sim: GatewaySimulator, user_folder: Path) -> None:
    sim.set_stage_seconds(10)
    settings = settings_for(sim)
    first = JobRunner(parse=len)
    job_id = first.submit(GenerationRequest("a red chair"), settings, label="Chair")
    queued = wait_phase(first, job_id, Phase.QUEUED)
    first.shutdown()  # Blender quits: the journal keeps the task as it was
    stopped = wait_jobs(first, [job_id])[job_id][-1]
    assert stopped.phase is Phase.CANCELLED and "resumes" in stopped.message

    journal = open_journal(user_folder)
    (entry,) = journal.unfinished()
    assert (entry.task_id, entry.state, entry.label) == (queued.task_id, "queued", "Chair")

    sim.advance(40)  # the gateway went on while we were away
    second = JobRunner(parse=len)
    resumed = second.resume(entry.task_id, settings)
    events = wait_jobs(second, [resumed])[resumed]
    assert events[0].message.startswith("Resuming")
    assert events[-1].phase is Phase.READY and events[-1].task_id == entry.task_id
    assert len(sim.stats().add_task_log) == 1  # never submitted twice

    assert journal.unfinished() == []
    (ready,) = journal.ready_to_import()
    assert ready.task_id == entry.task_id and ready.result_path == events[-1].result_path
    journal.mark_imported(ready.task_id, object_name="Chair")
    assert journal.ready_to_import() == []
    second.shutdown()


def test_reimport_from_the_cache_needs_no_network(sim: GatewaySimulator, runner: JobRunner) -> None:
    settings = settings_for(sim)
    job_id = runner.submit(GenerationRequest("a red chair"), settings)
    done = wait_jobs(runner, [job_id])[job_id][-1]
    before = sim.stats()
    offline = settings_for(sim, base_url="https://127.0.0.1:9", api_key="")  # unreachable, no key
    again = runner.resume(done.task_id or "", offline)
    events = wait_jobs(runner, [again])[again]
    assert events[-1].phase is Phase.READY
    assert events[-1].result_path == done.result_path and events[-1].payload == done.payload
    after = sim.stats()
    assert (after.connections, after.requests) == (before.connections, before.requests)
    assert after.requests["/get_result"] == 1  # downloaded once in all


def test_user_cancel_is_journalled_shutdown_is_not(
    sim: GatewaySimulator, runner: JobRunner, user_folder: Path
) -> None:
    sim.set_stage_seconds(10)
    job_id = runner.submit(GenerationRequest("a red chair"), settings_for(sim))
    queued = wait_phase(runner, job_id, Phase.QUEUED)
    assert runner.cancel(job_id)
    entry = open_journal(user_folder).get(queued.task_id or "")
    assert entry is not None and entry.state == "cancelled"
    assert open_journal(user_folder).unfinished() == []


def test_resuming_a_task_the_gateway_forgot(sim: GatewaySimulator, runner: JobRunner) -> None:
    job_id = runner.resume(UNKNOWN_ID, settings_for(sim, deadline_s=0.3), label="old chair")
    last = wait_jobs(runner, [job_id])[job_id][-1]
    assert last.phase is Phase.FAILED and "no longer knows this task" in last.message
    entry = open_journal(settings_for(sim).user_folder).get(UNKNOWN_ID)
    assert entry is not None and entry.state == "failed" and entry.label == "old chair"
    assert sim.stats().add_task_log == []


def test_resume_sends_the_key_only_to_the_configured_gateway(
    sim: GatewaySimulator, runner: JobRunner
) -> None:
    """The journal names the task's gateway, but the key goes only to the one the
    preferences (or GEN404_GATEWAY_URL) name: a task of another host waits, saying why."""
    sim.set_stage_seconds(10)
    settings = settings_for(sim)
    job_id = runner.submit(GenerationRequest("a red chair"), settings)
    task_id = wait_phase(runner, job_id, Phase.QUEUED).task_id or ""
    runner.shutdown()
    sim.advance(40)
    requests = sum(sim.stats().requests.values())
    other_region = settings_for(sim, base_url="https://gateway-eu.404.xyz:4443")
    r = JobRunner(parse=len)
    with pytest.raises(GatewayError, match=r"sent to 127\.0\.0\.1:\d+, not to the gateway set now"):
        r.resume(task_id, other_region)
    assert r.active_jobs() == []
    (entry,) = open_journal(settings.user_folder).unfinished()  # still there, to resume
    assert entry.task_id == task_id
    assert sum(sim.stats().requests.values()) == requests

    # A journal edited to point elsewhere: the configured gateway still decides.
    open_journal(settings.user_folder).update(task_id, base_url="https://evil.example:4443")
    with pytest.raises(GatewayError, match=r"evil\.example:4443"):
        r.resume(task_id, settings)
    assert sum(sim.stats().requests.values()) == requests

    open_journal(settings.user_folder).update(task_id, base_url=sim.url)
    resumed = r.resume(task_id, settings)
    assert wait_jobs(r, [resumed])[resumed][-1].phase is Phase.READY
    r.shutdown()


@pytest.mark.parametrize("task_id", ["../../etc/passwd", "", "not-a-uuid", UNKNOWN_ID[:-1]])
def test_resume_refuses_ids_that_are_not_uuids(
    sim: GatewaySimulator, runner: JobRunner, task_id: str
) -> None:
    with pytest.raises(GatewayError, match="not a task id"):
        runner.resume(task_id, settings_for(sim))
    assert sim.stats().connections == 0


def test_resume_needs_a_key_only_to_download(sim: GatewaySimulator, runner: JobRunner) -> None:
    with pytest.raises(GatewayError, match="No API key"):
        runner.resume(UNKNOWN_ID, settings_for(sim, api_key=""))
    assert sim.stats().connections == 0


def test_journal_entry_deadline_counts_from_submission(
    sim: GatewaySimulator, runner: JobRunner, user_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A resumed task long past its deadline gets only the grace period, not a new one."""
    monkeypatch.setattr(jobs, "RESUME_GRACE_S", 0.3)
    sim.set_stage_seconds(float("inf"))
    settings = settings_for(sim, deadline_s=600)
    job_id = runner.submit(GenerationRequest("a red chair"), settings)
    task_id = wait_phase(runner, job_id, Phase.QUEUED).task_id or ""
    runner.shutdown()
    open_journal(user_folder).update(task_id, submitted_at=time.time() - 3600)
    r = JobRunner(parse=len)
    started = time.monotonic()
    resumed = r.resume(task_id, settings)
    last = wait_jobs(r, [resumed], timeout=5)[resumed][-1]
    assert last.phase is Phase.FAILED and "no longer knows" in last.message
    assert time.monotonic() - started < 2.0
    r.shutdown()
