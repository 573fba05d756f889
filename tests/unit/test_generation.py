"""Models, model parameters, seeds, the account's limits and the client origin, against
the live simulator."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from gen404.client.errors import GatewayError
from gen404.client.gateway import GatewayClient
from gen404.client.glb import GlbError, MeshResult, check_glb
from gen404.client.jobs import JobRunner
from gen404.client.journal import open_journal
from gen404.client.models import GenerationRequest, Phase
from gen404.client.retry import RetryPolicy
from gen404.client.task_rows import RowState, TaskEntry

from tests.refusals import ACCOUNT_REFUSALS
from tests.simulator import GatewaySimulator
from tests.simulator import faults as F
from tests.simulator.results import seeded_glb, tiny_glb, unpack_glb
from tests.unit.conftest import settings_for, wait_jobs

V2_PARAMS = {"pipeline_type": "1536_cascade", "texture_size": 4096, "face_count": 150_000}


def _png() -> bytes:
    from tests.simulator.images import png_bytes

    return png_bytes(32, 32)


@pytest.fixture
def client(sim: GatewaySimulator):
    with GatewayClient(sim.url, sim.api_key, timeout=5.0) as c:
        yield c


@pytest.fixture
def runner():
    waits: list[float] = []

    def wait(cancel: threading.Event, seconds: float) -> bool:
        waits.append(seconds)
        return cancel.is_set()

    r = JobRunner(parse_file=lambda p, _: p, retry=RetryPolicy(jitter=0.0, wait=wait))
    r.waits = waits  # type: ignore[attr-defined]
    yield r
    r.shutdown()


def _image_request(**kw: object) -> GenerationRequest:
    return GenerationRequest(image=_png(), image_name="cup.png", image_mime="image/png", **kw)  # type: ignore[arg-type]


# -- 1. models -------------------------------------------------------------------------
def test_mesh_v2_image_task_sends_model_and_params_as_a_json_string(
    sim: GatewaySimulator, client: GatewayClient
) -> None:
    client.add_image_task(
        _png(), "cup.png", "image/png", 7, model="404-mesh-v2", model_params=V2_PARAMS
    )
    (record,) = sim.stats().add_task_log
    assert (record.model, record.seed) == ("404-mesh-v2", 7)
    assert json.loads(record.model_params or "") == V2_PARAMS


def test_text_task_sends_model_params_as_an_object(
    sim: GatewaySimulator, client: GatewayClient
) -> None:
    client.add_text_task("a red chair", 3, model="404-3dgs")
    (record,) = sim.stats().add_task_log
    assert record.model == "404-3dgs" and record.model_params is None


def test_the_simulator_refuses_text_for_a_mesh_model(client: GatewayClient) -> None:
    with pytest.raises(GatewayError, match="requires an image"):
        client.add_text_task("a red chair", model="404-mesh")


@pytest.mark.parametrize(
    ("request_kw", "words"),
    [
        ({"prompt": "a red chair", "model": "404-mesh"}, "images only"),
        ({"prompt": "a red chair", "model": "404-mesh-v2"}, "images only"),
        ({"prompt": "a red chair", "model": "404-voxels"}, "Unknown model"),
        ({"prompt": "a red chair", "seed": 2**31}, "out of range"),
        ({"prompt": "a red chair", "seed": -(2**31) - 1}, "out of range"),
    ],
)
def test_requests_the_gateway_would_refuse_are_refused_before_sending(
    sim: GatewaySimulator, runner: JobRunner, request_kw: dict, words: str
) -> None:
    with pytest.raises(GatewayError, match=words):
        runner.submit(GenerationRequest(**request_kw), settings_for(sim))
    assert sim.stats().connections == 0


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"pipeline_type": "2048"}, "Pipeline"),
        ({"texture_size": 512}, "Texture size"),
        ({"face_count": 19_999}, "face count"),
        ({"face_count": 2_000_001}, "face count"),
        ({"colour": "red"}, "no parameter colour"),
        ({"pipeline_type": "1024", "note": "x" * 1100}, "no parameter"),
    ],
)
def test_bad_model_params_are_refused(
    sim: GatewaySimulator, runner: JobRunner, params, words
) -> None:
    with pytest.raises(GatewayError, match=words):
        runner.submit(_image_request(model="404-mesh-v2", model_params=params), settings_for(sim))
    assert sim.stats().connections == 0


def test_params_over_one_kib_are_refused() -> None:
    from gen404.client import generation

    assert generation.params_problem("404-mesh-v2", V2_PARAMS) is None
    original = generation.MODEL_PARAMS_LIMIT
    generation.MODEL_PARAMS_LIMIT = 20
    try:
        assert generation.params_problem("404-mesh-v2", V2_PARAMS) is not None
    finally:
        generation.MODEL_PARAMS_LIMIT = original


def test_a_mesh_job_downloads_a_checked_glb(
    sim: GatewaySimulator, runner: JobRunner, user_folder
) -> None:
    request = _image_request(model="404-mesh-v2", model_params=V2_PARAMS, seed=11)
    job_id = runner.submit(request, settings_for(sim))
    events = wait_jobs(runner, [job_id])[job_id]
    last = events[-1]
    assert last.phase is Phase.READY, events
    assert last.result_path.endswith(".glb")
    data = Path(last.result_path).read_bytes()
    assert data[:4] == b"glTF"
    assert isinstance(check_glb(last.result_path), MeshResult)
    entry = open_journal(user_folder).get(last.task_id or "")
    assert entry is not None and (entry.fmt, entry.model, entry.seed) == ("glb", "404-mesh-v2", 11)
    assert json.loads(entry.model_params) == V2_PARAMS
    # The mesh result is fetched with no splat format.
    assert sim.stats().requests["/get_result"] == 1


def test_check_glb_refuses_what_is_not_a_whole_glb(tmp_path: Path) -> None:
    good = tmp_path / "good.glb"
    good.write_bytes(tiny_glb())
    assert check_glb(good).size == good.stat().st_size
    for name, data, words in [
        ("ply.glb", b"ply\nformat binary_little_endian 1.0\n" + b"\0" * 40, "not a glTF binary"),
        ("cut.glb", tiny_glb()[:-8], "bytes long but"),
        ("tiny.glb", b"glTF", "too short"),
        ("v1.glb", b"glTF" + (1).to_bytes(4, "little") + tiny_glb()[8:], "version 1"),
    ]:
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(GlbError, match=words):
            check_glb(path)


# -- 2. seeds --------------------------------------------------------------------------
def test_a_random_seed_is_drawn_by_the_add_on_and_sent(
    sim: GatewaySimulator, runner: JobRunner, user_folder
) -> None:
    ids = [runner.submit(GenerationRequest("a red chair"), settings_for(sim)) for _ in range(2)]
    events = wait_jobs(runner, ids)
    seeds = [r.seed for r in sim.stats().add_task_log]
    assert all(isinstance(s, int) and 0 <= s < 2**31 for s in seeds)
    assert seeds[0] != seeds[1]
    journal = open_journal(user_folder)
    for job_id in ids:
        task_id = events[job_id][-1].task_id or ""
        record = next(r for r in sim.stats().add_task_log if r.task_id == task_id)
        assert journal.get(task_id).seed == record.seed  # type: ignore[union-attr]


def test_seed_minus_one_is_drawn_too_and_other_seeds_are_sent_as_they_are() -> None:
    assert GenerationRequest("x", seed=-1).with_seed().seed != -1
    assert GenerationRequest("x", seed=-5).with_seed().seed == -5
    assert GenerationRequest("x", seed=2**31 - 1).with_seed().seed == 2**31 - 1


def test_the_same_seed_gives_the_same_result_and_other_seeds_differ(
    sim: GatewaySimulator, client: GatewayClient
) -> None:
    ids = [client.add_text_task("a red chair", seed) for seed in (5, 5, 6)]
    glbs = [
        client.add_image_task(_png(), "cup.png", "image/png", seed, model="404-mesh")
        for seed in (5, 5, 6)
    ]
    sim.advance(10)
    plys = [client.get_result(i, "ply") for i in ids]
    meshes = [client.get_result(i, "glb") for i in glbs]
    assert plys[0] == plys[1] != plys[2]
    assert meshes[0] == meshes[1] != meshes[2]
    assert unpack_glb(meshes[0])[0]["asset"]["extras"]["gen404_sim_seed"] == 5
    assert seeded_glb(tiny_glb(), 5) == meshes[0]


def test_a_task_row_says_its_model_seed_and_params() -> None:
    row = TaskEntry("j", "cup", "image", "h", seed=42, model="404-mesh-v2", model_params=V2_PARAMS)
    assert row.settings_text.startswith("404-mesh-v2 · seed 42 · pipeline_type 1536_cascade")
    row.state = RowState.DONE
    assert not row.can_generate_again  # no request kept
    row.request = _image_request()
    assert row.can_generate_again


# -- 5. limits and billing -------------------------------------------------------------
@ACCOUNT_REFUSALS
def test_account_refusals_stop_at_once_and_say_what_to_do(
    sim: GatewaySimulator, runner: JobRunner, fault, words: str
) -> None:
    sim.add_fault("/add_task", fault)
    job_id = runner.submit(GenerationRequest("a red chair"), settings_for(sim))
    last = wait_jobs(runner, [job_id])[job_id][-1]
    assert last.phase is Phase.FAILED and words in last.message
    assert sim.stats().requests["/add_task"] == 1 and runner.waits == []  # type: ignore[attr-defined]


def test_daily_limit_on_a_status_poll_is_not_retried(
    sim: GatewaySimulator, runner: JobRunner
) -> None:
    sim.add_fault("/get_status", F.daily_limit())
    job_id = runner.submit(GenerationRequest("a red chair"), settings_for(sim))
    last = wait_jobs(runner, [job_id])[job_id][-1]
    assert last.phase is Phase.FAILED and "today's limit" in last.message
    assert sim.stats().requests["/get_status"] == 1


@pytest.mark.parametrize(
    "fault", [F.queue_full(), F.pricing_unavailable()], ids=["queue_full", "pricing"]
)
def test_a_busy_gateway_gets_the_task_again_after_a_backoff(
    sim: GatewaySimulator, runner: JobRunner, fault
) -> None:
    sim.add_faults("/add_task", [fault, fault])
    job_id = runner.submit(GenerationRequest("a red chair"), settings_for(sim))
    events = wait_jobs(runner, [job_id])[job_id]
    assert events[-1].phase is Phase.READY
    assert sim.stats().requests["/add_task"] == 3 and len(sim.stats().add_task_log) == 1
    assert len(runner.waits) == 2  # type: ignore[attr-defined]
    assert any("busy" in e.message and "trying again" in e.message for e in events)


def test_a_task_waits_for_a_free_slot_and_is_sent_when_another_ends(
    sim: GatewaySimulator, runner: JobRunner
) -> None:
    sim.set_max_concurrent(1)
    sim.set_stage_seconds(0.3)
    first = runner.submit(GenerationRequest("a red chair"), settings_for(sim))
    wait_jobs_until_task(runner, first)
    second = runner.submit(GenerationRequest("a blue chair"), settings_for(sim))
    events = wait_jobs(runner, [first, second], timeout=20)
    waiting = [e for e in events[second] if e.phase is Phase.WAITING_SLOT]
    assert waiting and waiting[0].message.startswith("Waiting for a free slot")
    assert events[first][-1].phase is Phase.READY and events[second][-1].phase is Phase.READY
    log = sim.stats().add_task_log
    assert [r.prompt for r in log] == ["a red chair", "a blue chair"]
    assert sim.stats().requests["/add_task"] >= 3  # refused at least once, then sent


def test_a_waiting_task_can_be_cancelled(sim: GatewaySimulator, runner: JobRunner) -> None:
    sim.add_fault("/add_task", F.concurrent_limit(), count=50)
    job_id = runner.submit(GenerationRequest("a red chair"), settings_for(sim))
    from tests.unit.conftest import wait_phase

    wait_phase(runner, job_id, Phase.WAITING_SLOT)
    assert runner.cancel(job_id)
    assert sim.stats().add_task_log == []


def wait_jobs_until_task(runner: JobRunner, job_id: str) -> None:
    from tests.unit.conftest import wait_phase

    wait_phase(runner, job_id, Phase.QUEUED)


# -- 6. origin -------------------------------------------------------------------------
def test_every_request_carries_the_blender_origin(sim: GatewaySimulator, runner: JobRunner) -> None:
    ids = [
        runner.submit(GenerationRequest("a red chair"), settings_for(sim)),
        runner.submit(_image_request(model="404-mesh"), settings_for(sim)),
    ]
    wait_jobs(runner, ids)
    origins = sim.stats().origins
    assert {path for path, _ in origins} == {"/add_task", "/get_status", "/get_result"}
    assert {origin for _, origin in origins} == {"blender"}
    assert {r.origin for r in sim.stats().add_task_log} == {"blender"}
