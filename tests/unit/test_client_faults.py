"""The fault table of docs/faults.md, one fault per test, through the real JobRunner.

Every test drives the live simulator (conftest.py) and checks how the job ends,
what the user reads, and that nothing was submitted or downloaded twice. Retry
delays are recorded by a fake wait (returning after at most 20 ms), so the timing
rules are checked without sleeping through them.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import certifi
import httpx
import pytest
from gen404.client.errors import GatewayError
from gen404.client.gateway import GatewayClient
from gen404.client.jobs import JobRunner
from gen404.client.journal import open_journal
from gen404.client.models import GenerationRequest, JobEvent, JobSettings, Phase
from gen404.client.retry import RetryPolicy

from tests.simulator import GatewaySimulator
from tests.simulator import faults as F
from tests.unit.conftest import settings_for, wait_jobs

UNKNOWN_ID = "11111111-2222-4333-8444-555555555555"


class Waits(list):
    """Records each retry delay; really waits at most 20 ms (and still sees cancel)."""

    def __call__(self, cancel: threading.Event, seconds: float) -> bool:
        self.append(round(seconds, 3))
        return cancel.wait(min(seconds, 0.02))


@pytest.fixture
def waits() -> Waits:
    return Waits()


@pytest.fixture
def runner(waits: Waits) -> Iterator[JobRunner]:
    r = JobRunner(parse=len, retry=RetryPolicy(jitter=0.0, wait=waits))
    yield r
    r.shutdown()


def run_one(runner: JobRunner, settings: JobSettings, prompt: str = "a red chair") -> list:
    job_id = runner.submit(GenerationRequest(prompt), settings)
    return wait_jobs(runner, [job_id])[job_id]


def requests(sim: GatewaySimulator, path: str) -> int:
    return sim.stats().requests.get(path, 0)


def cached_files(user_folder: Path) -> list[str]:
    folder = user_folder / "results"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def assert_ready_once(sim: GatewaySimulator, events: list[JobEvent], user_folder: Path) -> None:
    """The job ended READY, its task was submitted once and cached as one intact file."""
    last = events[-1]
    assert last.phase is Phase.READY, last.message
    assert len(sim.stats().add_task_log) == 1
    assert cached_files(user_folder) == [f"{last.task_id}.ply"]
    assert Path(last.result_path).stat().st_size == last.result_bytes == last.payload


# -- get_status faults --------------------------------------------------------------
def test_429_with_retry_after_is_honoured(
    sim: GatewaySimulator, runner: JobRunner, waits: Waits, user_folder: Path
) -> None:
    sim.add_fault("/get_status", F.too_many_requests(retry_after="3"))
    events = run_one(runner, settings_for(sim))
    assert_ready_once(sim, events, user_folder)
    assert waits == [3.0]
    notices = [e.message for e in events if "trying again" in e.message]
    assert notices and "Too many requests" in notices[0] and "in 3 s" in notices[0]


def test_429_without_retry_after_backs_off(
    sim: GatewaySimulator, runner: JobRunner, waits: Waits, user_folder: Path
) -> None:
    sim.add_fault("/get_status", F.too_many_requests())
    assert_ready_once(sim, run_one(runner, settings_for(sim)), user_folder)
    assert waits == [0.5]


def test_burst_of_500_502_503(
    sim: GatewaySimulator, runner: JobRunner, waits: Waits, user_folder: Path
) -> None:
    sim.add_faults("/get_status", [F.server_error(s) for s in (500, 502, 503)])
    events = run_one(runner, settings_for(sim))
    assert_ready_once(sim, events, user_folder)
    assert waits == [0.5, 1.0, 2.0]
    notices = [e.message for e in events if "trying again" in e.message]
    assert notices[0] == (
        "The gateway had a problem (HTTP 500: Internal Server Error): try again later"
        " — trying again in 0.5 s"
    )
    assert "HTTP 502: Bad Gateway" in notices[1] and "in 1.0 s" in notices[1]


def test_endless_503_fails_after_bounded_attempts(
    sim: GatewaySimulator, runner: JobRunner, waits: Waits
) -> None:
    sim.add_fault("/get_status", F.queue_full(), count=RetryPolicy().max_attempts)
    events = run_one(runner, settings_for(sim))
    last = events[-1]
    assert last.phase is Phase.FAILED
    assert "busy (Service unavailable: Task queue is full)" in last.message
    assert last.message.endswith("The task is kept and resumes when the add-on starts again.")
    assert requests(sim, "/get_status") == RetryPolicy().max_attempts
    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    journal = open_journal(settings_for(sim).user_folder)
    (entry,) = journal.unfinished()  # paid for: kept, to resume on the next start
    assert entry.task_id == last.task_id and "busy" in entry.message

    r = JobRunner(parse=len)
    resumed = r.resume(entry.task_id, settings_for(sim))
    assert wait_jobs(r, [resumed])[resumed][-1].phase is Phase.READY
    assert len(sim.stats().add_task_log) == 1
    r.shutdown()


def test_status_slower_than_the_timeout(
    sim: GatewaySimulator, runner: JobRunner, waits: Waits, user_folder: Path
) -> None:
    sim.add_fault("/get_status", F.slow_response(0.6))
    events = run_one(runner, settings_for(sim, timeout_s=0.2))
    assert_ready_once(sim, events, user_folder)
    assert any("did not answer within 0.2 s" in e.message for e in events)
    assert len(waits) == 1


def test_status_connection_reset(
    sim: GatewaySimulator, runner: JobRunner, waits: Waits, user_folder: Path
) -> None:
    sim.add_fault("/get_status", F.reset_mid_body(cut_at=5))
    events = run_one(runner, settings_for(sim))
    assert_ready_once(sim, events, user_folder)
    assert any("connection" in e.message and "broke" in e.message for e in events)


def test_invalid_json_once_is_retried(
    sim: GatewaySimulator, runner: JobRunner, waits: Waits, user_folder: Path
) -> None:
    sim.add_fault("/get_status", F.invalid_json())
    assert_ready_once(sim, run_one(runner, settings_for(sim)), user_folder)
    assert waits == [0.5]


def test_invalid_json_forever_fails_clearly(sim: GatewaySimulator, runner: JobRunner) -> None:
    sim.add_fault("/get_status", F.invalid_json(), count=100)
    last = run_one(runner, settings_for(sim))[-1]
    assert last.phase is Phase.FAILED
    assert "not JSON" in last.message and "try again later" in last.message
    assert requests(sim, "/get_result") == 0


def test_html_error_page(
    sim: GatewaySimulator, runner: JobRunner, waits: Waits, user_folder: Path
) -> None:
    sim.add_fault("/get_status", F.html_error_page(), count=100)
    events = run_one(runner, settings_for(sim))
    last = events[-1]
    assert last.phase is Phase.FAILED
    assert "502 Bad Gateway nginx" in last.message and "HTTP 502" in last.message
    assert all("<" not in e.message and "font-family" not in e.message for e in events)
    sim.reset()
    sim.add_fault("/get_status", F.html_error_page())
    assert_ready_once(sim, run_one(runner, settings_for(sim)), user_folder)


def test_unknown_status_string(
    sim: GatewaySimulator, runner: JobRunner, waits: Waits, user_folder: Path
) -> None:
    sim.add_fault("/get_status", F.unknown_status("Paused"), count=100)
    last = run_one(runner, settings_for(sim))[-1]
    assert last.phase is Phase.FAILED
    assert "unknown task status 'Paused'" in last.message and "update" in last.message
    sim.reset()
    sim.add_fault("/get_status", F.unknown_status("Paused"))
    assert_ready_once(sim, run_one(runner, settings_for(sim)), user_folder)


def test_no_result_forever_ends_at_the_deadline(sim: GatewaySimulator, runner: JobRunner) -> None:
    sim.set_stage_seconds(float("inf"))
    last = run_one(runner, settings_for(sim, deadline_s=0.4))[-1]
    assert last.phase is Phase.FAILED and "No result after 0.4 s" in last.message
    assert "'NoResult'" in last.message
    assert open_journal(settings_for(sim).user_folder).get(last.task_id or "").state == "failed"  # type: ignore[union-attr]


def test_failure_with_a_reason(sim: GatewaySimulator, runner: JobRunner, waits: Waits) -> None:
    sim.fail_next("No workers available")
    last = run_one(runner, settings_for(sim))[-1]
    assert last.phase is Phase.FAILED
    assert last.message.startswith("The gateway could not generate this: No workers available.")
    assert "Generate again" in last.message  # what to do next
    assert requests(sim, "/get_result") == 0 and waits == []


# -- get_result faults --------------------------------------------------------------
@pytest.mark.parametrize(
    "fault",
    [F.reset_mid_body(), F.short_body(), F.reset_mid_body(cut_at=0)],
    ids=["reset-mid-body", "short-body", "reset-after-headers"],
)
def test_broken_download_is_retried(
    sim: GatewaySimulator, runner: JobRunner, waits: Waits, user_folder: Path, fault: F.Fault
) -> None:
    sim.add_fault("/get_result", fault)
    events = run_one(runner, settings_for(sim))
    assert_ready_once(sim, events, user_folder)
    assert requests(sim, "/get_result") == 2 and waits == [0.5]
    assert any("broke while downloading" in e.message for e in events)


def test_download_slower_than_the_timeout(
    sim: GatewaySimulator, runner: JobRunner, waits: Waits, user_folder: Path
) -> None:
    sim.add_fault("/get_result", F.slow_body(0.8))
    events = run_one(runner, settings_for(sim, timeout_s=0.3))
    assert_ready_once(sim, events, user_folder)
    assert requests(sim, "/get_result") == 2


def test_result_expired_after_success(
    sim: GatewaySimulator, runner: JobRunner, waits: Waits, user_folder: Path
) -> None:
    sim.add_fault("/get_result", F.expired())
    last = run_one(runner, settings_for(sim))[-1]
    assert last.phase is Phase.FAILED
    assert "no result for this task" in last.message and "generate again" in last.message
    assert requests(sim, "/get_result") == 1 and waits == []  # 404 is final
    assert cached_files(user_folder) == []


def test_result_over_the_size_cap_is_refused_early(
    sim: GatewaySimulator, runner: JobRunner, user_folder: Path
) -> None:
    last = run_one(runner, settings_for(sim, max_download_bytes=10_000))[-1]
    assert last.phase is Phase.FAILED
    assert last.message.startswith(
        "The result (164.4 KiB or more) is larger than the download limit of 9.8 KiB"
    )
    assert requests(sim, "/get_result") == 1
    assert cached_files(user_folder) == []  # no cached file, no partial left behind


def test_stream_stops_past_the_cap_without_content_length(tmp_path: Path) -> None:
    """A server that sends no content-length is cut off once the cap is passed."""
    sent: list[int] = []

    def endless() -> Iterator[bytes]:
        for _ in range(1000):
            sent.append(1)
            yield b"x" * 65536

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=endless())

    client = GatewayClient("https://gateway.invalid", "5e1a7c2e-4b0d-4f3a-9c61-0d2b8e4f7a10")
    client._http = httpx.Client(base_url=client.base_url, transport=httpx.MockTransport(handler))
    with open(tmp_path / "out", "wb") as out, pytest.raises(GatewayError, match="download limit"):
        client.stream_result(UNKNOWN_ID, "ply", out, max_bytes=200_000)
    assert len(sent) <= 5 and (tmp_path / "out").stat().st_size <= 200_000
    client.close()


# -- add_task faults: never risk a double charge --------------------------------------
def test_add_task_that_never_arrived_is_sent_again(
    sim: GatewaySimulator, runner: JobRunner, waits: Waits, user_folder: Path
) -> None:
    sim.drop_connections(1)  # reset in the TLS handshake: no request byte was sent
    events = run_one(runner, settings_for(sim))
    assert_ready_once(sim, events, user_folder)
    assert sim.stats().connections == 2 and waits == [0.5]


def test_connection_refused_add_task_is_retried_then_fails(waits: Waits) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = JobRunner(parse=len, retry=RetryPolicy(jitter=0.0, wait=waits))
    settings = JobSettings(f"https://127.0.0.1:{port}", "5e1a7c2e-4b0d-4f3a-9c61-0d2b8e4f7a10")
    last = run_one(r, settings)[-1]
    assert last.phase is Phase.FAILED and "Cannot reach the gateway" in last.message
    assert waits == [0.5, 1.0]  # three attempts in all
    r.shutdown()


def test_add_task_answer_lost_is_not_sent_again(
    sim: GatewaySimulator, runner: JobRunner, waits: Waits
) -> None:
    sim.add_fault("/add_task", F.answer_lost())
    last = run_one(runner, settings_for(sim))[-1]
    assert last.phase is Phase.FAILED
    assert "may have received the request" in last.message and "twice" in last.message
    assert requests(sim, "/add_task") == 1 and len(sim.stats().add_task_log) == 1
    assert waits == []


def test_add_task_timeout_is_not_sent_again(
    sim: GatewaySimulator, runner: JobRunner, waits: Waits
) -> None:
    sim.add_fault("/add_task", F.slow_response(0.5))
    last = run_one(runner, settings_for(sim, timeout_s=0.2))[-1]
    assert last.phase is Phase.FAILED
    assert "did not answer within 0.2 s" in last.message and "not sent again" in last.message
    # The slow handler goes on and creates (charges) the task; the job has ended, so
    # nothing can send it again after that.
    end = time.monotonic() + 10
    while not sim.stats().add_task_log and time.monotonic() < end:
        time.sleep(0.01)
    assert requests(sim, "/add_task") == 1 and len(sim.stats().add_task_log) == 1


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        (F.too_many_requests(retry_after="1"), "wait 1 s"),
        (F.Fault(status=402, body=b'{"error":"insufficient_balance","message":"Low"}'), "top"),
        (F.Fault(status=401, body=b"Unauthorized request: Invalid API key"), "check it"),
        (F.Fault(status=400, body=b"Bad request: Prompt is too long"), "Prompt is too long"),
    ],
    ids=["429", "402", "401", "400"],
)
def test_add_task_refusals_are_final(
    sim: GatewaySimulator, runner: JobRunner, waits: Waits, fault: F.Fault, words: str
) -> None:
    sim.add_fault("/add_task", fault)
    last = run_one(runner, settings_for(sim))[-1]
    assert last.phase is Phase.FAILED and words in last.message
    assert "twice" not in last.message  # the gateway answered: nothing was charged
    assert requests(sim, "/add_task") == 1 and waits == []


@pytest.mark.parametrize("status", [400, 401, 402, 404])
def test_final_answers_on_get_result(
    sim: GatewaySimulator, runner: JobRunner, waits: Waits, status: int
) -> None:
    sim.add_fault("/get_result", F.Fault(status=status, body=b"nope"))
    last = run_one(runner, settings_for(sim))[-1]
    assert last.phase is Phase.FAILED and "nope" in last.message
    assert requests(sim, "/get_result") == 1 and waits == []


# -- transport --------------------------------------------------------------------------
def test_http1_only_gateway(
    runner: JobRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with GatewaySimulator(http2=False, stage_seconds=0.05) as other:
        monkeypatch.setenv("SSL_CERT_FILE", str(other.ca_pem_path))
        events = run_one(runner, settings_for(other))
        assert events[-1].phase is Phase.READY
        assert {v for _, v in other.stats().http_versions} == {"1.1"}


def test_untrusted_certificate_fails_closed(
    runner: JobRunner, waits: Waits, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())  # public CAs, not the simulator's
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    with GatewaySimulator() as untrusted:
        last = run_one(runner, settings_for(untrusted))[-1]
        assert last.phase is Phase.FAILED
        assert "not trusted" in last.message and "SSL_CERT_FILE" in last.message
        assert untrusted.stats().connections == 1 and untrusted.stats().requests == {}
    assert waits == []


def test_malformed_key_refused_before_any_connection(
    sim: GatewaySimulator, runner: JobRunner
) -> None:
    for key in (
        "my-key",
        "5e1a7c2e4b0d4f3a9c610d2b8e4f7a10",
        "5e1a7c2e-4b0d-4f3a-9c61-0d2b8e4f7a1",
    ):
        with pytest.raises(GatewayError, match="API key is not valid") as caught:
            runner.submit(GenerationRequest("a red chair"), settings_for(sim, api_key=key))
        assert key not in str(caught.value)
    assert sim.stats().connections == 0 and runner.events.empty()


def test_cancel_interrupts_a_retry_wait(sim: GatewaySimulator) -> None:
    r = JobRunner(parse=len)  # the real wait: on the job's cancel Event
    sim.add_fault("/get_status", F.too_many_requests(retry_after="30"))
    job_id = r.submit(GenerationRequest("a red chair"), settings_for(sim, deadline_s=100))
    # The retry notice comes just before the job waits on its cancel Event.
    while "trying again" not in r.events.get(timeout=5).message:
        pass
    started = time.monotonic()
    assert r.cancel(job_id)
    r.shutdown(timeout=2)
    assert time.monotonic() - started < 0.5
    assert requests(sim, "/get_status") == 1


def test_fault_table_names_real_tests() -> None:
    """docs/faults.md stays true: every test its table cites exists."""
    root = Path(__file__).resolve().parents[2]
    table = (root / "docs" / "faults.md").read_text(encoding="utf-8")
    cited = {name for name in re.findall(r"`(test_\w+)(?:\[[\w-]+\])?`", table)}
    assert len(cited) >= 25
    defined = set()
    for path in [
        *(root / "tests" / "unit").glob("test_*.py"),
        *(root / "tests" / "blender").glob("test_*.py"),
    ]:
        defined |= set(re.findall(r"^def (test_\w+)", path.read_text(), re.MULTILINE))
    assert cited <= defined, sorted(cited - defined)
