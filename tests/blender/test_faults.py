"""One gateway fault per test, through the installed add-on, driven by its timer pump.

For each: the task ends in the right state with a clear message, the scene is
untouched on failure, nothing is imported twice, and the pump never raises.
The table these tests prove is docs/faults.md.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator
from pathlib import Path

import bpy
import pytest

from tests.blender.helpers import (
    ADDON_MODULE,
    addon_session,
    row_state,
    splat_objects,
    wait_for_event,
)
from tests.simulator import GatewaySimulator, faults


@pytest.fixture
def prefs(addon) -> Iterator[bpy.types.AddonPreferences]:
    p = bpy.context.preferences.addons[ADDON_MODULE].preferences
    saved = (p.timeout_seconds, p.deadline_minutes)
    yield p
    p.timeout_seconds, p.deadline_minutes = saved


def run_one(prompt: str) -> object:
    """Submit through the operator and drive the real timer callback until it ends."""
    session = addon_session()
    assert bpy.ops.gen404.generate(prompt=prompt) == {"FINISHED"}
    (entry,) = [e for e in session.active() if e.label == prompt]
    interval: float | None = 0.0
    while interval is not None:
        if session.active():
            wait_for_event(session.runner.events, timeout=90)
        interval = session.pump()  # returns None once idle; raising would fail the test
    return entry


RECOVERED = [
    ("/get_status", [faults.too_many_requests(retry_after="1")]),
    ("/get_status", [faults.too_many_requests()]),
    ("/get_status", [faults.server_error(s) for s in (500, 502, 503)]),
    ("/get_result", [faults.reset_mid_body()]),
    ("/get_result", [faults.short_body()]),
    ("/get_status", [faults.invalid_json()]),
    ("/get_status", [faults.html_error_page()]),
    ("/get_status", [faults.unknown_status()]),
]


@pytest.mark.parametrize(
    ("path", "injected"),
    RECOVERED,
    ids=[
        "429-retry-after",
        "429",
        "5xx-burst",
        "reset-mid-body",
        "short-body",
        "invalid-json",
        "html-page",
        "unknown-status",
    ],
)
def test_passing_faults_are_retried_and_import_once(gateway, clean_scene, path, injected):
    gateway.add_faults(path, injected)
    entry = run_one("a sturdy robot")
    assert entry.state is row_state().DONE, entry.message
    (obj,) = splat_objects()
    assert obj.name == "a sturdy robot"
    stats = gateway.stats()
    assert len(stats.add_task_log) == 1
    assert stats.requests["/get_result"] == 1 + (path == "/get_result")


def test_a_response_slower_than_the_timeout_is_retried(gateway, clean_scene, prefs) -> None:
    prefs.timeout_seconds = 1.0
    gateway.add_fault("/get_status", faults.slow_response(3.0))
    entry = run_one("a patient robot")
    assert entry.state is row_state().DONE, entry.message
    assert len(splat_objects()) == 1


FAILED = [
    ("expired", "/get_result", faults.expired(), r"5 minutes"),
    ("answer-lost", "/add_task", faults.answer_lost(), r"not sent again"),
]


@pytest.mark.parametrize(("name", "path", "fault", "message"), FAILED, ids=[f[0] for f in FAILED])
def test_final_faults_fail_clearly_and_leave_the_scene(
    gateway, clean_scene, name, path, fault, message
) -> None:
    gateway.add_fault(path, fault)
    entry = run_one("a doomed robot")
    assert entry.state is row_state().FAILED, entry.status_text()
    assert re.search(message, entry.message), entry.message
    assert splat_objects() == []
    assert len(gateway.stats().add_task_log) == 1  # never charged twice


def test_failure_with_a_reason(gateway, clean_scene) -> None:
    gateway.fail_next("Task timed out")
    entry = run_one("a failing robot")
    assert "Task timed out. Generate again" in entry.message
    assert splat_objects() == []
    assert gateway.stats().requests.get("/get_result", 0) == 0


def test_no_result_forever_ends_at_the_deadline(gateway, clean_scene, prefs) -> None:
    gateway.set_stage_seconds(math.inf)
    prefs.deadline_minutes = 0.02  # 1.2 s
    entry = run_one("a forgotten robot")
    assert entry.state is row_state().FAILED
    assert entry.status_text().startswith("Failed: No result after")
    assert splat_objects() == []


def test_a_server_that_only_speaks_http1(addon, clean_scene, monkeypatch, tmp_path) -> None:
    with GatewaySimulator(http2=False, stage_seconds=0.1, ca_pem_path=tmp_path / "ca.pem") as h1:
        bundle = tmp_path / "bundle.pem"
        trusted = Path(os.environ["SSL_CERT_FILE"]).read_text()
        bundle.write_text(h1.ca_pem_path.read_text() + trusted)
        monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
        monkeypatch.setenv("GEN404_GATEWAY_URL", h1.url)
        monkeypatch.setenv("GEN404_API_KEY", h1.api_key)
        entry = run_one("an old-fashioned robot")
        assert entry.state is row_state().DONE, entry.message
        assert {v for _, v in h1.stats().http_versions} == {"1.1"}
    assert len(splat_objects()) == 1


def test_an_untrusted_certificate_fails_closed(addon, clean_scene, monkeypatch, tmp_path) -> None:
    # A gateway whose CA Blender does not trust (not in SSL_CERT_FILE).
    with GatewaySimulator(stage_seconds=0.1, ca_pem_path=tmp_path / "other-ca.pem") as other:
        monkeypatch.setenv("GEN404_GATEWAY_URL", other.url)
        monkeypatch.setenv("GEN404_API_KEY", other.api_key)
        entry = run_one("a suspicious robot")
        assert entry.state is row_state().FAILED
        assert "not trusted" in entry.message
        stats = other.stats()
        assert stats.requests == {} and len(stats.add_task_log) == 0
    assert splat_objects() == []
