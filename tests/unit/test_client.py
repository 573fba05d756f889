"""The gateway client and job runner against the live simulator (see conftest.py)."""

from __future__ import annotations

import math
import os
import queue
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import certifi
import pytest
from gen404.client.endpoints import (
    REGIONS,
    host_of,
    is_uuid,
    resolve_api_key,
    resolve_base_url,
    validate_base_url,
)
from gen404.client.errors import GatewayError, TaskDeadlineError, error_from_response
from gen404.client.gateway import USER_AGENT, GatewayClient, ssl_context
from gen404.client.jobs import JobRunner
from gen404.client.models import GenerationRequest, JobSettings, Phase
from gen404.client.status import GatewayState, TaskStatus, parse_status

from tests.simulator import Fault, GatewaySimulator
from tests.simulator.images import png_bytes
from tests.unit.conftest import settings_for, wait_jobs, wait_phase

WRONG_KEY = "0badc0de-0000-4000-8000-00000000beef"
UNKNOWN_ID = "11111111-2222-4333-8444-555555555555"


@pytest.fixture
def client(sim: GatewaySimulator) -> Iterator[GatewayClient]:
    with GatewayClient(sim.url, sim.api_key, timeout=5) as c:
        yield c


@pytest.fixture
def runner() -> Iterator[JobRunner]:
    r = JobRunner(parse=len)
    yield r
    r.shutdown()


# -- endpoints ---------------------------------------------------------------------
def test_regions_and_env_resolution() -> None:
    assert set(REGIONS) == {"EU", "US_EAST", "US_WEST", "GEODNS"}
    assert resolve_base_url("EU", "", {}) == "https://gateway-eu.404.xyz:4443"
    assert resolve_base_url("US_WEST", "", {}) == "https://gateway-us-west.404.xyz:4443"
    assert resolve_base_url("GEODNS", "", {}) == "https://api.dns.404.xyz"
    assert resolve_base_url("CUSTOM", " https://My.Host:8443/ ", {}) == "https://my.host:8443"
    env = {"GEN404_GATEWAY_URL": "https://127.0.0.1:9999"}
    assert resolve_base_url("EU", "", env) == "https://127.0.0.1:9999"
    with pytest.raises(GatewayError, match="region"):
        resolve_base_url("MARS", "", {})
    # A bad override is the environment's fault: the message names it, not Preferences.
    with pytest.raises(GatewayError) as bad:
        resolve_base_url("EU", "", {"GEN404_GATEWAY_URL": "http://127.0.0.1:9999"})
    assert "GEN404_GATEWAY_URL" in str(bad.value) and "Preferences" not in str(bad.value)
    assert resolve_api_key(" pref ", {"GEN404_API_KEY": "env"}) == "pref"
    assert resolve_api_key("", {"GEN404_API_KEY": " env "}) == "env"
    assert resolve_api_key("", {}) == ""


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://gateway-eu.404.xyz:4443", "https://"),
        ("gateway-eu.404.xyz", "https://"),
        ("ftp://host", "https://"),
        ("", "No gateway URL"),
        ("https://", "no host"),
        ("https://user:pw@host", "user name or password"),
        ("https://host/?x=1", "query"),
        ("https://host:99999", "not valid"),
    ],
)
def test_only_https_urls(url: str, problem: str) -> None:
    with pytest.raises(GatewayError, match=problem):
        validate_base_url(url)


def test_url_helpers() -> None:
    assert validate_base_url("HTTPS://Example.com/api/") == "https://example.com/api"
    assert validate_base_url("https://[::1]:8443") == "https://[::1]:8443"
    assert host_of("https://a.b:4443/x") == "a.b:4443"
    assert host_of("https://a.b") == "a.b"
    assert is_uuid(str(uuid.uuid4()))
    assert is_uuid(str(uuid.uuid4()).upper())
    assert not is_uuid(uuid.uuid4().hex)
    assert not is_uuid("nope")


# -- status parsing ----------------------------------------------------------------
def test_parse_status_payloads() -> None:
    assert parse_status({"status": "NoResult"}) == TaskStatus(GatewayState.NO_RESULT)
    assert parse_status({"status": "InProgress", "eta": 4}).state is GatewayState.IN_PROGRESS
    assert parse_status({"status": "PartialResult(3)"}) == TaskStatus(
        GatewayState.PARTIAL_RESULT, results=3
    )
    success = parse_status({"status": "Success", "worker_id": "w1", "score": 0.9})
    assert (success.state, success.results) == (GatewayState.SUCCESS, 1)
    failure = parse_status({"status": "Failure", "reason": "Task timed out"})
    assert (failure.state, failure.reason) == (GatewayState.FAILURE, "Task timed out")
    assert parse_status({"status": "Failure"}).reason
    for bad in ({"status": "Paused"}, {"status": "PartialResult(x)"}, {}, [], "Success", None):
        with pytest.raises(GatewayError):
            parse_status(bad)


def test_all_five_statuses_from_the_gateway(sim: GatewaySimulator, client: GatewayClient) -> None:
    sim.set_stage_seconds(10)
    task_id = client.add_text_task("a small wooden chair", seed=3)
    seen = [client.get_status(task_id)]
    for _ in range(3):
        sim.advance(10)
        seen.append(client.get_status(task_id))
    assert [s.state for s in seen] == [
        GatewayState.NO_RESULT,
        GatewayState.IN_PROGRESS,
        GatewayState.PARTIAL_RESULT,
        GatewayState.SUCCESS,
    ]
    assert seen[2].results == 1
    sim.fail_next("Task timed out")
    failed = client.add_text_task("a broken chair")
    sim.advance(30)
    assert client.get_status(failed) == TaskStatus(GatewayState.FAILURE, reason="Task timed out")
    assert client.get_status(UNKNOWN_ID).state is GatewayState.NO_RESULT


def test_unknown_fields_and_unknown_status(sim: GatewaySimulator, client: GatewayClient) -> None:
    body = b'{"status":"Success","worker_id":"w","queue":{"pos":1},"new":true}'
    json_type = (("content-type", "application/json"),)
    sim.add_fault("/get_status", Fault(status=200, body=body, headers=json_type))
    assert client.get_status(UNKNOWN_ID).state is GatewayState.SUCCESS
    sim.add_fault("/get_status", Fault(status=200, body=b'{"status":"Paused"}'))
    with pytest.raises(GatewayError, match="unknown task status 'Paused'"):
        client.get_status(UNKNOWN_ID)
    sim.add_fault("/get_status", Fault(status=200, body=b"<html>oops</html>"))
    with pytest.raises(GatewayError, match="not JSON"):
        client.get_status(UNKNOWN_ID)


# -- errors --------------------------------------------------------------------------
def test_wrong_key(sim: GatewaySimulator) -> None:
    with GatewayClient(sim.url, WRONG_KEY) as c, pytest.raises(GatewayError) as caught:
        c.add_text_task("a red chair")
    assert caught.value.status_code == 401
    assert "Invalid API key" in str(caught.value)
    assert "Preferences → Add-ons → 404 Gen" in str(caught.value)


def test_malformed_key_is_refused_before_sending(sim: GatewaySimulator) -> None:
    with GatewayClient(sim.url, "my-key") as c:
        for call in (lambda: c.get_result(UNKNOWN_ID), lambda: c.add_text_task("a red chair")):
            with pytest.raises(GatewayError) as caught:
                call()
            assert caught.value.status_code is None
            assert "API key is not valid" in str(caught.value)
            assert "my-key" not in str(caught.value)
    assert sim.stats().requests == {} and sim.stats().connections == 0


def test_servers_key_format_answer_is_worded() -> None:
    error = error_from_response(400, b"Invalid API key format")
    assert "Invalid API key format" in str(error) and "Preferences" in str(error)
    assert not error.retryable


def test_missing_key_is_caught_before_sending(sim: GatewaySimulator) -> None:
    with GatewayClient(sim.url, "  ") as c, pytest.raises(GatewayError, match="No API key"):
        c.add_text_task("a red chair")
    assert sim.stats().requests == {}


def test_prompt_errors_show_the_servers_message(client: GatewayClient) -> None:
    with pytest.raises(GatewayError) as short:
        client.add_text_task("ab")
    assert short.value.status_code == 400
    assert "Prompt is too short: minimum length is 3 characters (got 2)" in str(short.value)
    with pytest.raises(GatewayError, match="invalid characters"):
        client.add_text_task("chair_with_underscores")


@pytest.mark.parametrize(
    ("status", "body", "headers", "expected"),
    [
        (
            402,
            b'{"error":"insufficient_balance","message":"Balance too low"}',
            (("content-type", "application/json"),),
            ["Balance too low", "top it up"],
        ),
        (429, b"Too many requests", (("retry-after", "7"),), ["Too many requests", "wait 7 s"]),
        (503, b"Service unavailable: Task queue is full", (), ["Task queue is full", "busy"]),
        (
            500,
            b"<html><head><title>x</title></head><body><h1>Bad Gateway</h1></body></html>",
            (("content-type", "text/html"),),
            ["Bad Gateway", "HTTP 500"],
        ),
    ],
)
def test_http_errors_carry_server_message(
    sim: GatewaySimulator,
    client: GatewayClient,
    status: int,
    body: bytes,
    headers: tuple,
    expected: list[str],
) -> None:
    sim.add_fault("/add_task", Fault(status=status, body=body, headers=headers))
    with pytest.raises(GatewayError) as caught:
        client.add_text_task("a red chair")
    assert caught.value.status_code == status
    for fragment in expected:
        assert fragment in str(caught.value)
    assert "<" not in str(caught.value)
    assert sim.stats().add_task_log == []


def test_retry_after_parsed() -> None:
    error = error_from_response(429, b"slow", retry_after="3")
    assert error.retry_after == 3.0
    assert error_from_response(429, b"slow").retry_after is None


def test_connection_refused() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    expected = f"Cannot reach the gateway at 127.0.0.1:{port}"
    with (
        GatewayClient(f"https://127.0.0.1:{port}", WRONG_KEY, timeout=2) as c,
        pytest.raises(GatewayError, match=expected) as caught,
    ):
        c.get_status(UNKNOWN_ID)
    assert "gateway region in Preferences" in str(caught.value)


def test_connection_refused_names_the_environment_override(monkeypatch) -> None:
    """A URL from GEN404_GATEWAY_URL is blamed on that variable, not on the preferences."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("GEN404_GATEWAY_URL", f"https://127.0.0.1:{port}")
    with (
        GatewayClient(f"https://127.0.0.1:{port}", WRONG_KEY, timeout=2) as c,
        pytest.raises(GatewayError) as caught,
    ):
        c.get_status(UNKNOWN_ID)
    assert "GEN404_GATEWAY_URL (set in the environment)" in str(caught.value)
    assert "Preferences" not in str(caught.value)


def test_untrusted_certificate(sim: GatewaySimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())  # public CAs only
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    with GatewayClient(sim.url, sim.api_key) as c, pytest.raises(GatewayError) as caught:
        c.get_status(UNKNOWN_ID)
    assert "not trusted" in str(caught.value)
    assert "SSL_CERT_FILE" in str(caught.value)


def test_tls_context_adds_ssl_cert_file(
    sim: GatewaySimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(sim.ca_pem_path))  # the simulator's CA alone
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    ctx = ssl_context()
    orgs = [dict(n[0] for n in c["subject"]).get("organizationName") for c in ctx.get_ca_certs()]
    assert "gen404 gateway simulator" in orgs
    assert ctx.cert_store_stats()["x509_ca"] > 100  # certifi's public CAs are still there
    assert ctx.verify_mode is ssl.CERT_REQUIRED and ctx.check_hostname


def test_bad_task_id_from_server(sim: GatewaySimulator, client: GatewayClient) -> None:
    sim.add_fault("/add_task", Fault(status=200, body=b'{"id":"42"}'))
    with pytest.raises(GatewayError, match="no valid task id"):
        client.add_text_task("a red chair")


# -- requests and results --------------------------------------------------------------
def test_image_task_is_multipart(sim: GatewaySimulator, client: GatewayClient) -> None:
    image = png_bytes(32, 16)
    task_id = client.add_image_task(image, "photo.png", "image/png", seed=5)
    (record,) = sim.stats().add_task_log
    assert (record.task_id, record.kind, record.image_bytes) == (task_id, "image", len(image))
    assert (record.prompt, record.seed) == (None, 5)


def test_get_result_is_ply(sim: GatewaySimulator, client: GatewayClient) -> None:
    task_id = client.add_text_task("a red chair")
    sim.advance(10)
    data = client.get_result(task_id)
    header = data[: data.index(b"end_header\n")].decode("ascii").splitlines()
    assert header[:3] == ["ply", "format binary_little_endian 1.0", "element vertex 3000"]
    spz = client.get_result(task_id, "spz")
    assert spz[:4] == b"\x28\xb5\x2f\xfd"  # 404's SPZ: one zstd frame


def test_http2_and_one_connection(sim: GatewaySimulator, client: GatewayClient) -> None:
    task_id = client.add_text_task("a red chair")
    client.get_status(task_id)
    sim.advance(10)
    client.get_result(task_id)
    stats = sim.stats()
    assert {version for _, version in stats.http_versions} == {"2"}
    assert stats.connections == 1
    assert USER_AGENT.startswith("gen404-blender/")


def test_http1_only_gateway(monkeypatch: pytest.MonkeyPatch) -> None:
    with GatewaySimulator(http2=False, stage_seconds=0) as other:
        monkeypatch.setenv("SSL_CERT_FILE", str(other.ca_pem_path))
        with GatewayClient(other.url, other.api_key) as c:
            task_id = c.add_text_task("a red chair")
            assert c.get_status(task_id).state is GatewayState.SUCCESS
        assert other.stats().http_versions == [("/add_task", "1.1"), ("/get_status", "1.1")]


# -- jobs ----------------------------------------------------------------------------
def test_request_validation() -> None:
    GenerationRequest(prompt="a chair").validate()
    GenerationRequest(image=b"\x89PNG").validate()
    with pytest.raises(GatewayError, match="not both"):
        GenerationRequest(prompt="a chair", image=b"\x89PNG").validate()
    with pytest.raises(GatewayError, match="Enter a prompt"):
        GenerationRequest(prompt="  ").validate()


def test_submit_refuses_unsendable_jobs(sim: GatewaySimulator, runner: JobRunner) -> None:
    with pytest.raises(GatewayError, match="not both"):
        runner.submit(GenerationRequest("a chair", image=b"x"), settings_for(sim))
    with pytest.raises(GatewayError, match="https://"):
        runner.submit(GenerationRequest("a chair"), settings_for(sim, base_url="http://x"))
    with pytest.raises(GatewayError, match="No API key"):
        runner.submit(GenerationRequest("a chair"), settings_for(sim, api_key=""))
    assert runner.events.empty()


def test_job_phases_to_ready(sim: GatewaySimulator, runner: JobRunner) -> None:
    sim.set_stage_seconds(0.25)
    job_id = runner.submit(GenerationRequest("a red chair", seed=1), settings_for(sim))
    assert runner.is_active(job_id) and runner.active_jobs() == [job_id]
    events = wait_jobs(runner, [job_id])[job_id]
    assert [e.phase for e in events] == [
        Phase.SUBMITTING,
        Phase.QUEUED,
        Phase.IN_PROGRESS,
        Phase.PARTIAL,
        Phase.DOWNLOADING,
        Phase.READY,
    ]
    ready = events[-1]
    (record,) = sim.stats().add_task_log
    assert ready.task_id == record.task_id
    assert ready.payload == ready.result_bytes > 1000  # parse=len ran on the worker
    assert events[3].results == 1
    assert not runner.is_active(job_id)
    for event in events:  # plain values only
        assert isinstance(event.phase, str) and isinstance(event.message, str)


def test_image_job(sim: GatewaySimulator, runner: JobRunner) -> None:
    request = GenerationRequest(image=png_bytes(8, 8), image_name="a.png", image_mime="image/png")
    job_id = runner.submit(request, settings_for(sim))
    assert wait_jobs(runner, [job_id])[job_id][-1].phase is Phase.READY
    assert sim.stats().add_task_log[0].kind == "image"


def test_failure_status_fails_job_with_reason(sim: GatewaySimulator, runner: JobRunner) -> None:
    sim.fail_next("No workers available")
    job_id = runner.submit(GenerationRequest("a red chair"), settings_for(sim))
    last = wait_jobs(runner, [job_id])[job_id][-1]
    assert last.phase is Phase.FAILED
    assert "No workers available" in last.message


def test_parse_errors_fail_the_job(sim: GatewaySimulator) -> None:
    def broken(data: bytes) -> object:
        raise ValueError("not a splat file")

    r = JobRunner(parse=broken)
    job_id = r.submit(GenerationRequest("a red chair"), settings_for(sim))
    last = wait_jobs(r, [job_id])[job_id][-1]
    assert (last.phase, "not a splat file" in last.message) == (Phase.FAILED, True)
    r.shutdown()


def test_deadline_with_no_result_forever(sim: GatewaySimulator, runner: JobRunner) -> None:
    sim.set_stage_seconds(math.inf)
    job_id = runner.submit(GenerationRequest("a red chair"), settings_for(sim, deadline_s=0.3))
    events = wait_jobs(runner, [job_id])[job_id]
    assert [e.phase for e in events] == [Phase.SUBMITTING, Phase.QUEUED, Phase.FAILED]
    assert "No result after 0.3 s" in events[-1].message


def test_deadline_with_unknown_task_id(sim: GatewaySimulator) -> None:
    """A gateway that forgot the task reports NoResult forever: only the deadline ends it."""

    class ForgetfulClient(GatewayClient):
        def add_text_task(self, prompt: str, seed: int | None = None, **options: Any) -> str:
            super().add_text_task(prompt, seed, **options)
            return UNKNOWN_ID

    def factory(s: JobSettings) -> GatewayClient:
        return ForgetfulClient(s.base_url, s.api_key, timeout=s.timeout_s)

    r = JobRunner(parse=len, client_factory=factory)
    job_id = r.submit(GenerationRequest("a red chair"), settings_for(sim, deadline_s=0.4))
    last = wait_jobs(r, [job_id])[job_id][-1]
    assert last.phase is Phase.FAILED and last.task_id == UNKNOWN_ID
    assert "No result after 0.4 s" in last.message
    assert isinstance(TaskDeadlineError("x"), GatewayError)
    r.shutdown()


def test_deadline_keeps_a_partial_result(sim: GatewaySimulator, runner: JobRunner) -> None:
    sim.set_stage_seconds(10)
    job_id = runner.submit(GenerationRequest("a red chair"), settings_for(sim, deadline_s=0.5))
    wait_phase(runner, job_id, Phase.QUEUED)
    sim.advance(20)  # PartialResult(1) until well after the deadline
    events = wait_jobs(runner, [job_id])[job_id]
    assert [e.phase for e in events] == [Phase.PARTIAL, Phase.DOWNLOADING, Phase.READY]


def test_download_on_partial(sim: GatewaySimulator, runner: JobRunner) -> None:
    sim.set_stage_seconds(10)
    settings = settings_for(sim, download_on_partial=True)
    job_id = runner.submit(GenerationRequest("a red chair"), settings)
    wait_phase(runner, job_id, Phase.QUEUED)
    sim.advance(20)
    events = wait_jobs(runner, [job_id], timeout=3)[job_id]
    assert [e.phase for e in events] == [Phase.PARTIAL, Phase.DOWNLOADING, Phase.READY]


def test_cancel_while_polling(sim: GatewaySimulator, runner: JobRunner) -> None:
    sim.set_stage_seconds(10)
    settings = settings_for(sim, poll_interval_s=5.0)  # cancel must not wait for the poll
    job_id = runner.submit(GenerationRequest("a red chair"), settings)
    wait_phase(runner, job_id, Phase.QUEUED)
    started = time.monotonic()
    assert runner.cancel(job_id)
    event = runner.events.get(timeout=0.5)
    assert (event.job_id, event.phase) == (job_id, Phase.CANCELLED)
    assert not runner.cancel(job_id)
    assert not runner.is_active(job_id) and runner.active_jobs() == []
    runner.shutdown(timeout=2)
    assert time.monotonic() - started < 1.0
    with pytest.raises(queue.Empty):
        runner.events.get(timeout=0.2)
    assert sim.stats().requests["/get_status"] == 1  # polling stopped at once
    assert len(sim.stats().add_task_log) == 1


def test_no_ready_after_cancel(sim: GatewaySimulator) -> None:
    entered, release = threading.Event(), threading.Event()

    def slow_parse(data: bytes) -> int:
        entered.set()
        release.wait(5)
        return len(data)

    r = JobRunner(parse=slow_parse)
    job_id = r.submit(GenerationRequest("a red chair"), settings_for(sim))
    assert entered.wait(5)
    assert r.cancel(job_id)
    release.set()
    r.shutdown(timeout=2)
    phases = []
    while not r.events.empty():
        phases.append(r.events.get_nowait().phase)
    assert phases[-1] is Phase.CANCELLED
    assert Phase.READY not in phases and phases.count(Phase.CANCELLED) == 1


def test_several_jobs_at_once(sim: GatewaySimulator, runner: JobRunner) -> None:
    settings = settings_for(sim)
    prompts = ["a red chair", "a blue lamp", "a green frog"]
    job_ids = [runner.submit(GenerationRequest(p), settings) for p in prompts]
    image = GenerationRequest(image=png_bytes(4, 4), image_name="i.png", image_mime="image/png")
    job_ids.append(runner.submit(image, settings))
    assert len(set(job_ids)) == 4
    events = wait_jobs(runner, job_ids)
    assert all(events[j][-1].phase is Phase.READY for j in job_ids)
    log = sim.stats().add_task_log
    assert len(log) == 4 and len({r.task_id for r in log}) == 4  # each submitted once
    assert sorted(r.prompt for r in log if r.prompt) == sorted(prompts)
    assert {events[j][-1].task_id for j in job_ids} == {r.task_id for r in log}


def test_api_key_never_shown(sim: GatewaySimulator, runner: JobRunner) -> None:
    secret = WRONG_KEY
    echo = f"Unauthorized request: Invalid API key {secret}".encode()
    sim.add_fault("/add_task", Fault(status=401, body=echo), count=2)
    settings = settings_for(sim, api_key=secret)
    assert secret not in repr(settings) and secret not in str(settings)
    job_id = runner.submit(GenerationRequest("a red chair"), settings)
    events = wait_jobs(runner, [job_id])[job_id]
    assert events[-1].phase is Phase.FAILED
    assert "refused the API key" in events[-1].message
    for event in events:
        assert secret not in event.message and secret not in repr(event)
    with GatewayClient(sim.url, secret) as c, pytest.raises(GatewayError) as caught:
        c.add_text_task("a red chair")
    shown = [str(caught.value), repr(caught.value), repr(c), str(caught.value.args)]
    assert all(secret not in text for text in shown)
    assert os.environ.get("GEN404_API_KEY") != secret
