"""Twenty jobs at once: all finish, over one shared HTTP/2 connection or a small pool."""

from __future__ import annotations

import io
import sys
import threading
import time

import httpx
import pytest
from gen404.client.errors import GatewayError
from gen404.client.gateway import MAX_CONNECTIONS, GatewayClient
from gen404.client.jobs import JobRunner
from gen404.client.models import GenerationRequest, Phase

from tests.simulator import GatewaySimulator
from tests.simulator import faults as F
from tests.unit.conftest import settings_for, wait_jobs

JOBS = 20


def run_many(sim: GatewaySimulator) -> tuple[dict, float]:
    runner = JobRunner(parse=len)
    settings = settings_for(sim)
    started = time.monotonic()
    job_ids = [runner.submit(GenerationRequest(f"chair number {n}"), settings) for n in range(JOBS)]
    events = wait_jobs(runner, job_ids, timeout=30)
    elapsed = time.monotonic() - started
    assert runner._pool.open_clients() == 0  # the shared client closed with its last job
    runner.shutdown()
    return events, elapsed


def check_all_ready(sim: GatewaySimulator, events: dict) -> None:
    assert all(evs[-1].phase is Phase.READY for evs in events.values())
    log = sim.stats().add_task_log
    assert len(log) == JOBS and len({r.task_id for r in log}) == JOBS
    assert sim.stats().requests["/get_result"] == JOBS  # each result downloaded once
    assert {evs[-1].task_id for evs in events.values()} == {r.task_id for r in log}


def test_twenty_jobs_share_one_http2_connection(sim: GatewaySimulator) -> None:
    events, elapsed = run_many(sim)
    check_all_ready(sim, events)
    stats = sim.stats()
    assert {v for _, v in stats.http_versions} == {"2"}
    assert stats.connections == 1, stats.connections
    print(f"\n{JOBS} jobs over HTTP/2: {stats.connections} connection, {elapsed:.2f} s")


def test_twenty_jobs_over_http1_use_a_small_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    with GatewaySimulator(http2=False, stage_seconds=0.1) as http1:
        monkeypatch.setenv("SSL_CERT_FILE", str(http1.ca_pem_path))
        events, elapsed = run_many(http1)
        check_all_ready(http1, events)
        stats = http1.stats()
        assert {v for _, v in stats.http_versions} == {"1.1"}
        assert stats.connections <= MAX_CONNECTIONS, stats.connections
        print(f"\n{JOBS} jobs over HTTP/1.1: {stats.connections} connections, {elapsed:.2f} s")


def _hammer(client: GatewayClient, task_id: str, threads: int = 16, each: int = 25) -> list[str]:
    """Many threads asking at once on one client; the errors they met."""
    errors: list[str] = []
    start = threading.Barrier(threads)

    def ask() -> None:
        start.wait()
        for _ in range(each):
            try:
                client.get_status(task_id)
            except GatewayError as exc:
                errors.append(str(exc))

    workers = [threading.Thread(target=ask) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return errors


def test_threads_sharing_one_http2_connection_never_break_it(sim: GatewaySimulator) -> None:
    """httpcore's HTTP/2 starts streams without a lock; the client must serialise starts."""
    with GatewayClient(sim.url, sim.api_key) as client:
        task_id = client.add_text_task("a chair")
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads swap often: any unlocked window shows
    try:
        for _ in range(3):
            with GatewayClient(sim.url, sim.api_key) as client:
                assert _hammer(client, task_id) == []
    finally:
        sys.setswitchinterval(switch)
    assert sim.stats().connections <= 4


def test_a_stalled_download_does_not_take_an_add_task_down_with_it(sim: GatewaySimulator) -> None:
    """One shared HTTP/2 connection, a download stalls past the timeout mid-body while an
    add_task of another job waits for its (slow, but in time) answer.

    httpcore records one stream's read timeout for the whole connection and opens a new
    one for later requests; a request still in flight on the old one fails with it. For
    an add_task that is a paid task lost (the gateway got it, the job fails). It must be
    neither lost nor sent twice: the add_task waits its turn and goes out once, on the
    connection that replaced the failed one.
    """
    timeout = 2.0
    with GatewayClient(sim.url, sim.api_key) as setup:
        done = setup.add_text_task("a finished chair")
    sim.advance(30)
    sim.add_fault("/get_result", F.slow_body(3 * timeout))  # stalls past the read timeout
    sim.add_fault("/add_task", F.slow_response(0.6 * timeout))  # slow, yet in time
    downloading = threading.Event()
    download_error: list[GatewayError] = []
    with GatewayClient(sim.url, sim.api_key, timeout=timeout) as client:
        send = client._http.send

        def send_and_tell(request: httpx.Request, **kwargs: object) -> httpx.Response:
            response = send(request, **kwargs)  # type: ignore[arg-type]
            if request.url.path == "/get_result":
                downloading.set()  # its headers came: the body is on its way
            return response

        client._http.send = send_and_tell  # type: ignore[method-assign]

        def download() -> None:
            try:
                client.stream_result(done, "ply", io.BytesIO(), max_bytes=2**30)
            except GatewayError as exc:
                download_error.append(exc)

        downloader = threading.Thread(target=download)
        downloader.start()
        assert downloading.wait(10)
        # Into the stall, so the add_task's answer comes only after the download's read
        # has timed out (a stall any CPU-starved reader can meet as well).
        time.sleep(0.75 * timeout)
        task_id = client.add_text_task("a chair sent once")
        downloader.join(10)
    assert download_error and download_error[0].retryable  # the download is retried later
    log = sim.stats().add_task_log
    assert [r.task_id for r in log] == [done, task_id]  # sent once, and answered
