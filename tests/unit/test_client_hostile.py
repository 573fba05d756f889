"""What a security review reproduced against the client, one test per finding.

Compressed answers bounded by what they unpack to (1), a whole request within a
deadline and Cancel within a second (2), odd server values as GatewayErrors that
leave a paid task resumable (7), the key masked in any case before any cut (8).
Resuming only on the configured gateway (9) is in test_journal_resume.py.
"""

from __future__ import annotations

import gzip
import logging
import sys
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from gen404.client import bodies, logredact
from gen404.client.errors import Cancelled, GatewayError, redact, server_message
from gen404.client.gateway import GatewayClient
from gen404.client.jobs import JobRunner
from gen404.client.journal import open_journal
from gen404.client.models import GenerationRequest, Phase
from gen404.client.retry import RetryPolicy
from gen404.client.status import parse_status

from tests.simulator import GatewaySimulator
from tests.simulator import faults as F
from tests.unit.conftest import settings_for, wait_jobs, wait_phase

UNKNOWN_ID = "11111111-2222-4333-8444-555555555555"
MIB = 2**20


def quick_retries() -> RetryPolicy:
    return RetryPolicy(jitter=0.0, wait=lambda cancel, s: cancel.wait(min(s, 0.01)))


@pytest.fixture
def runner() -> Iterator[JobRunner]:
    r = JobRunner(parse=len, retry=quick_retries())
    yield r
    r.shutdown()


@pytest.fixture
def client(sim: GatewaySimulator) -> Iterator[GatewayClient]:
    with GatewayClient(sim.url, sim.api_key) as c:
        yield c


def peak_bytes(call: Callable[[], object]) -> tuple[int, BaseException | None]:
    """Peak Python memory while ``call`` runs, and what it raised."""
    tracemalloc.start()
    try:
        call()
        raised = None
    except BaseException as exc:
        raised = exc
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak, raised


# -- 1. compressed answers -------------------------------------------------------------
def test_the_client_asks_for_unpacked_answers(client: GatewayClient) -> None:
    assert client._http.headers["accept-encoding"] == "identity"


@pytest.mark.parametrize("encoding", ["zstd", "gzip"])
def test_a_status_bomb_is_refused_after_64_kib(
    sim: GatewaySimulator, client: GatewayClient, encoding: str
) -> None:
    sim.add_fault("/get_status", F.compressed_bomb(encoding, 256 * MIB))
    start = time.monotonic()
    peak, raised = peak_bytes(lambda: client.get_status(UNKNOWN_ID))
    assert isinstance(raised, GatewayError), raised
    assert raised.retryable and "larger than 64.0 KiB" in raised.message
    assert peak < 4 * MIB
    assert time.monotonic() - start < 2.0


def test_a_bomb_as_a_503_page_is_the_gateways_error(
    sim: GatewaySimulator, client: GatewayClient
) -> None:
    sim.add_fault("/get_status", F.compressed_bomb("zstd", 512 * MIB, status=503))
    peak, raised = peak_bytes(lambda: client.get_status(UNKNOWN_ID))
    assert isinstance(raised, GatewayError), raised
    assert raised.status_code == 503 and raised.retryable
    assert raised.message.startswith("The gateway is busy")
    assert peak < 4 * MIB


def test_a_packed_download_stops_at_the_limit_of_unpacked_bytes(
    sim: GatewaySimulator, client: GatewayClient, tmp_path: Path
) -> None:
    task = client.add_text_task("a red chair")
    sim.add_fault("/get_result", F.compressed_bomb("gzip", 256 * MIB))
    with (tmp_path / "out").open("wb") as out:
        peak, raised = peak_bytes(lambda: client.stream_result(task, "ply", out, max_bytes=MIB))
    assert isinstance(raised, GatewayError), raised
    assert "larger than the download limit of 1.0 MiB" in raised.message
    assert (tmp_path / "out").stat().st_size <= MIB
    assert peak < 4 * MIB


def test_a_packed_result_within_the_limit_arrives_whole(
    sim: GatewaySimulator, client: GatewayClient
) -> None:
    sim.set_stage_seconds(0.0)
    task = client.add_text_task("a red chair")
    ply = client.get_result(task)
    packed = F.Fault(status=200, body=gzip.compress(ply), headers=(("content-encoding", "gzip"),))
    sim.add_fault("/get_result", packed)
    assert client.get_result(task) == ply


@pytest.mark.parametrize(
    ("coding", "pack"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda b: zlib.compress(b)[2:-4]),  # raw deflate, as some servers send
        ("zstd", lambda b: __import__("zstandard").ZstdCompressor().compress(b)),
        (
            "gzip, zstd",
            lambda b: __import__("zstandard").ZstdCompressor().compress(gzip.compress(b)),
        ),
    ],
)
def test_unpacking_in_bounded_pieces(coding: str, pack: Callable[[bytes], bytes]) -> None:
    data = bytes(range(256)) * 4000 + b" " * (3 * MIB)
    packed = pack(data)
    chunks = [packed[i : i + 1000] for i in range(0, len(packed), 1000)]
    pieces = list(bodies.unpacked(chunks, coding))
    assert b"".join(pieces) == data
    assert max(map(len, pieces)) <= bodies.PIECE_BYTES


def test_an_unasked_coding_is_unreadable() -> None:
    with pytest.raises(bodies.UnreadableBody, match="'br'"):
        list(bodies.unpacked([b"x"], "br"))
    with pytest.raises(bodies.UnreadableBody, match="damaged"):
        list(bodies.unpacked([b"not gzip at all"], "gzip"))


# -- 2. a total deadline; Cancel within a second ----------------------------------------
def test_a_trickled_answer_ends_at_the_timeout(sim: GatewaySimulator) -> None:
    """A byte every 0.4 s used to hold a 1 s-timeout request for 16 s."""
    sim.add_fault("/get_status", F.trickle(0.4, status_body="NoResult"))
    with GatewayClient(sim.url, sim.api_key, timeout=1.0) as c:
        start = time.monotonic()
        with pytest.raises(GatewayError, match="did not answer within 1 s") as info:
            c.get_status(UNKNOWN_ID)
        assert time.monotonic() - start < 1.8
    assert info.value.retryable


def test_a_request_ends_by_the_jobs_deadline(sim: GatewaySimulator) -> None:
    sim.add_fault("/get_status", F.slow_response(10.0))
    with GatewayClient(sim.url, sim.api_key, timeout=30.0) as c:
        start = time.monotonic()
        with pytest.raises(GatewayError, match="did not answer within"):
            c.get_status(UNKNOWN_ID, deadline=time.monotonic() + 0.5)
        assert time.monotonic() - start < 1.3


def test_a_trickled_download_ends_by_its_deadline(
    sim: GatewaySimulator, client: GatewayClient, tmp_path: Path
) -> None:
    sim.set_stage_seconds(0.0)
    task = client.add_text_task("a red chair")
    sim.add_fault("/get_result", F.trickle(0.1, piece=100))
    start = time.monotonic()
    with (tmp_path / "out").open("wb") as out, pytest.raises(GatewayError, match="within"):
        client.stream_result(task, "ply", out, max_bytes=MIB, deadline=time.monotonic() + 1.0)
    assert time.monotonic() - start < 1.8


@pytest.mark.parametrize(
    ("path", "fault"),
    [
        ("/get_result", F.slow_body(30.0, cut_at=1000)),
        ("/get_status", F.slow_response(30.0)),
    ],
    ids=["stalled-download", "stalled-status"],
)
def test_cancel_ends_a_stalled_request_within_a_second(
    sim: GatewaySimulator, runner: JobRunner, path: str, fault: F.Fault
) -> None:
    """Cancel used to wait for the stalled read's 30 s timeout."""
    sim.set_stage_seconds(0.0)
    sim.add_fault(path, fault)
    settings = settings_for(sim, timeout_s=30.0)
    job_id = runner.submit(GenerationRequest("a red chair"), settings)
    job = runner._jobs[job_id]
    end = time.monotonic() + 10
    while sim.stats().requests.get(path, 0) == 0 and time.monotonic() < end:
        time.sleep(0.01)
    # The gateway has the request: the job is inside it (waiting for a status that
    # comes in 30 s, or reading a body that stops after 1000 bytes) wherever it is now.
    start = time.monotonic()
    assert runner.cancel(job_id)
    assert job.thread is not None
    job.thread.join(1.5)
    assert not job.thread.is_alive()
    assert time.monotonic() - start < 1.5
    results = Path(settings.user_folder) / "results"
    assert not results.exists() or list(results.iterdir()) == []  # no partial file left


def test_cancel_raises_cancelled_from_the_client(sim: GatewaySimulator) -> None:
    sim.add_fault("/get_status", F.slow_response(30.0))
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    with GatewayClient(sim.url, sim.api_key, timeout=30.0) as c:
        start = time.monotonic()
        with pytest.raises(Cancelled):
            c.get_status(UNKNOWN_ID, cancel=cancel)
        assert time.monotonic() - start < 1.0


# -- 7. odd server values --------------------------------------------------------------
def test_a_partial_result_with_5000_digits_is_a_gateway_error() -> None:
    with pytest.raises(GatewayError, match="unknown task status") as info:
        parse_status({"status": f"PartialResult({'9' * 5000})"})
    assert info.value.retryable


@pytest.mark.parametrize(
    "fault",
    [F.huge_partial(5000), F.deep_json(100_000), F.deep_json(20_000)],
    ids=["partial-5000-digits", "deep-100k", "deep-20k"],
)
def test_odd_status_answers_are_gateway_errors(
    sim: GatewaySimulator, client: GatewayClient, fault: F.Fault
) -> None:
    sim.add_fault("/get_status", fault)
    with pytest.raises(GatewayError) as info:
        client.get_status(UNKNOWN_ID)
    assert info.value.retryable


def test_a_deep_json_error_page_is_read_as_text() -> None:
    body = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
    assert server_message(body, "application/json").startswith('{"a":{"a":')


def test_odd_answers_to_the_end_keep_the_paid_task(
    sim: GatewaySimulator, runner: JobRunner
) -> None:
    """A task the gateway never said failed stays unfinished in the journal, and resumes."""
    sim.add_faults(
        "/get_status",
        [F.huge_partial(5000), F.deep_json(20_000)] * (RetryPolicy().max_attempts // 2),
    )
    settings = settings_for(sim)
    job_id = runner.submit(GenerationRequest("a red chair"), settings)
    last = wait_jobs(runner, [job_id])[job_id][-1]
    assert last.phase is Phase.FAILED
    assert last.message.endswith("The task is kept and resumes when the add-on starts again.")
    (entry,) = open_journal(settings.user_folder).unfinished()
    assert entry.task_id == last.task_id
    resumed = runner.resume(entry.task_id, settings)
    assert wait_jobs(runner, [resumed])[resumed][-1].phase is Phase.READY


def test_an_unexpected_error_after_submission_keeps_the_task(
    sim: GatewaySimulator,
) -> None:
    class Broken(GatewayClient):
        def get_status(self, task_id: str, **bounds: Any) -> Any:
            raise RuntimeError("a bug")

    r = JobRunner(parse=len, client_factory=lambda s: Broken(s.base_url, s.api_key))
    settings = settings_for(sim)
    job_id = r.submit(GenerationRequest("a red chair"), settings)
    last = wait_jobs(r, [job_id])[job_id][-1]
    r.shutdown()
    assert last.phase is Phase.FAILED and "Unexpected error: RuntimeError" in last.message
    (entry,) = open_journal(settings.user_folder).unfinished()
    assert entry.task_id == last.task_id and entry.state != "failed"


def test_the_gateways_failure_still_ends_the_task(sim: GatewaySimulator, runner: JobRunner) -> None:
    sim.fail_next("Task timed out")
    settings = settings_for(sim)
    job_id = runner.submit(GenerationRequest("a red chair"), settings)
    last = wait_jobs(runner, [job_id])[job_id][-1]
    assert last.phase is Phase.FAILED and "Task timed out" in last.message
    assert open_journal(settings.user_folder).unfinished() == []
    assert open_journal(settings.user_folder).get(last.task_id or "").state == "failed"


def test_a_socks_proxy_without_socksio_is_a_gateway_error(
    sim: GatewaySimulator, runner: JobRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "socksio", None)  # absent, as in Blender: import fails
    sim.set_stage_seconds(10.0)
    settings = settings_for(sim)
    job_id = runner.submit(GenerationRequest("a red chair"), settings)
    task_id = wait_phase(runner, job_id, Phase.QUEUED).task_id or ""
    runner.shutdown()

    monkeypatch.setenv("ALL_PROXY", "socks5://127.0.0.1:1")
    with pytest.raises(GatewayError, match="ALL_PROXY"):
        GatewayClient(sim.url, sim.api_key)
    r = JobRunner(parse=len, retry=quick_retries())
    resumed = r.resume(task_id, settings)
    last = wait_jobs(r, [resumed])[resumed][-1]
    r.shutdown()
    assert last.phase is Phase.FAILED and "ALL_PROXY" in last.message, last.message
    (entry,) = open_journal(settings.user_folder).unfinished()  # not failed: resumable
    assert entry.task_id == task_id


# -- 8. the key masked in any case, before any cut -------------------------------------
def test_redact_ignores_case_and_hyphens(sim: GatewaySimulator) -> None:
    key = sim.api_key
    text = f"a {key.upper()} b {key.replace('-', '')} c {key}"
    assert redact(text, key) == "a <api key> b <api key> c <api key>"


def fragments(key: str) -> list[str]:
    """Every 8-character piece of the key, lower-cased (any of them is a leak)."""
    return [key.lower()[i : i + 8] for i in range(len(key) - 7)]


def test_the_key_is_masked_before_the_300_character_cut(sim: GatewaySimulator) -> None:
    key = sim.api_key
    for pad in range(270, 300):
        message = server_message(("x" * pad + key.upper()).encode(), secret=key)
        assert not any(f in message.lower() for f in fragments(key)), pad


def test_an_echoed_key_reaches_neither_message_nor_journal(
    sim: GatewaySimulator, runner: JobRunner
) -> None:
    key = sim.api_key
    sim.set_stage_seconds(10.0)
    echo = "Bad request: " + "x" * 265 + " " + key.upper()  # the cut falls inside the key
    sim.add_fault("/get_status", F.echo_text(echo, status=400))
    settings = settings_for(sim)
    job_id = runner.submit(GenerationRequest("a red chair"), settings)
    last = wait_jobs(runner, [job_id])[job_id][-1]
    assert last.phase is Phase.FAILED
    journal = (Path(settings.user_folder) / "tasks.json").read_text().lower()
    for text in (last.message.lower(), journal):
        assert not any(f in text for f in fragments(key))


def test_an_echoed_key_in_an_unknown_status_is_masked(sim: GatewaySimulator) -> None:
    key = sim.api_key
    with pytest.raises(GatewayError) as info:
        parse_status({"status": "y" * 40 + key.upper()}, secret=key)
    assert not any(f in info.value.message.lower() for f in fragments(key))


def test_log_records_mask_the_key_in_any_case(
    sim: GatewaySimulator, caplog: pytest.LogCaptureFixture
) -> None:
    key = "0a1b2c3d-4e5f-4a6b-8c7d-8e9fa0b1c2d3"
    logredact.protect(key)
    with caplog.at_level(logging.DEBUG, logger="httpx"):
        logging.getLogger("httpx").debug("header %s", key.swapcase()[:20] + key[20:])
    assert key.lower() not in caplog.text.lower()


def test_a_deeply_nested_limit_answer_is_read_as_text() -> None:
    """The account-limit reader sees the first 4 KiB: nested that deep it is no JSON."""
    from gen404.client.limits import account_error, error_kind

    body = b"[" * 4000
    assert error_kind(429, body) is None
    assert account_error(429, body) is None
