"""The simulator's fault kinds and recipes, seen by plain httpx (no add-on code)."""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.simulator import SIM_API_KEY, Fault, GatewaySimulator
from tests.simulator import faults as F

KEY = {"x-api-key": SIM_API_KEY}


@pytest.fixture
def http(sim: GatewaySimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.url, http2=True, timeout=2) as client:
        yield client


def finished_task(sim: GatewaySimulator, http: httpx.Client) -> str:
    task_id = http.post("/add_task", json={"prompt": "a red robot"}, headers=KEY).json()["id"]
    sim.advance(10)
    return task_id


def get_result(http: httpx.Client, task_id: str) -> httpx.Response:
    return http.get("/get_result", params={"id": task_id, "format": "ply"}, headers=KEY)


def test_reset_mid_body_cuts_the_connection(sim: GatewaySimulator, http: httpx.Client) -> None:
    task_id = finished_task(sim, http)
    sim.add_fault("/get_result", F.reset_mid_body(cut_at=1000))
    with pytest.raises(httpx.RemoteProtocolError):
        get_result(http, task_id)
    assert get_result(http, task_id).status_code == 200
    assert sim.stats().connections == 2  # the cut connection was not reused


@pytest.mark.parametrize("http2", [True, False])
def test_short_body_is_seen_by_the_client(http2: bool) -> None:
    with GatewaySimulator(http2=http2, stage_seconds=0) as other:
        verify = ssl.create_default_context(cafile=str(other.ca_pem_path))
        with httpx.Client(base_url=other.url, http2=True, verify=verify, timeout=2) as client:
            task_id = finished_task(other, client)
            other.add_fault("/get_result", F.short_body(cut_at=100))
            with pytest.raises(Exception) as caught:  # h2 raises its own error type
                get_result(client, task_id)
            assert "100" in str(caught.value)


def test_slow_body_stalls_after_the_headers(sim: GatewaySimulator, http: httpx.Client) -> None:
    task_id = finished_task(sim, http)
    sim.add_fault("/get_result", F.slow_body(0.3, cut_at=10))
    started = time.monotonic()
    with http.stream(
        "GET", "/get_result", params={"id": task_id, "format": "ply"}, headers=KEY
    ) as r:
        chunks = r.iter_raw()
        first = next(chunks)
        assert time.monotonic() - started < 0.25 and len(first) == 10
        rest = b"".join(chunks)
    assert time.monotonic() - started >= 0.3
    assert len(first + rest) == int(r.headers["content-length"])


def test_answer_lost_still_acts(sim: GatewaySimulator, http: httpx.Client) -> None:
    sim.add_fault("/add_task", F.answer_lost())
    with pytest.raises(httpx.RemoteProtocolError):
        http.post("/add_task", json={"prompt": "a red robot"}, headers=KEY)
    assert len(sim.stats().add_task_log) == 1  # created (and charged), answer never came


def test_expired_forgets_the_task(sim: GatewaySimulator, http: httpx.Client) -> None:
    task_id = finished_task(sim, http)
    sim.add_fault("/get_result", F.expired())
    gone = get_result(http, task_id)
    assert gone.status_code == 404 and "not found" in gone.text
    status = http.get("/get_status", params={"id": task_id}).json()
    assert status == {"status": "NoResult"}


def test_drop_connections_resets_in_the_handshake(
    sim: GatewaySimulator, http: httpx.Client
) -> None:
    sim.drop_connections(1)
    with pytest.raises(httpx.ConnectError):
        http.get("/get_status", params={"id": "11111111-2222-4333-8444-555555555555"})
    assert sim.stats().requests == {} and sim.stats().connections == 1
    ok = http.get("/get_status", params={"id": "11111111-2222-4333-8444-555555555555"})
    assert ok.status_code == 200 and sim.stats().connections == 2


def test_recipes_answer_as_named(sim: GatewaySimulator, http: httpx.Client) -> None:
    some_id = {"id": "11111111-2222-4333-8444-555555555555"}
    sim.add_faults(
        "/get_status",
        [
            F.too_many_requests(retry_after="3"),
            F.too_many_requests(),
            F.server_error(502),
            F.html_error_page(),
            F.invalid_json(),
            F.unknown_status("Paused"),
        ],
    )
    answers = [http.get("/get_status", params=some_id) for _ in range(6)]
    assert [a.status_code for a in answers] == [429, 429, 502, 502, 200, 200]
    assert answers[0].headers["retry-after"] == "3" and "retry-after" not in answers[1].headers
    assert answers[3].headers["content-type"].startswith("text/html")
    assert answers[4].text == '{"status": "Succ'
    assert answers[5].json() == {"status": "Paused"}


def test_slow_response_delays_the_real_answer(sim: GatewaySimulator, http: httpx.Client) -> None:
    sim.add_fault("/get_status", F.slow_response(0.2))
    started = time.monotonic()
    answer = http.get("/get_status", params={"id": "11111111-2222-4333-8444-555555555555"})
    assert answer.json() == {"status": "NoResult"} and time.monotonic() - started >= 0.2


def test_admin_fault_by_name_and_drop(sim: GatewaySimulator, http: httpx.Client) -> None:
    fault = {"path": "/get_status", "name": "too_many_requests", "retry_after": "5"}
    assert http.post("/_sim/fault", json=fault).status_code == 200
    answer = http.get("/get_status", params={"id": "11111111-2222-4333-8444-555555555555"})
    assert (answer.status_code, answer.headers["retry-after"]) == (429, "5")
    reset = {"path": "/get_result", "kind": "reset", "cut_at": 10}
    assert http.post("/_sim/fault", json=reset).status_code == 200
    assert http.post("/_sim/drop_connections", json={"count": 2}).status_code == 200
    assert sim.state.take_connection_drop() and sim.state.take_connection_drop()
    assert not sim.state.take_connection_drop()
    for bad in ({"path": "/x", "name": "nope"}, {"path": "/x", "kind": "explode"}):
        assert http.post("/_sim/fault", json=bad).status_code == 400


def test_unknown_fault_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault(kind="explode")
