"""Fixtures for unit tests that need a gateway: one live HTTPS simulator per session.

``SSL_CERT_FILE`` points at a bundle of the simulator's CA plus whatever the
variable named before, so clients using httpx's ``trust_env`` trust the simulator
without losing the public CAs.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Iterable
from pathlib import Path

import pytest
from gen404.client.jobs import JobRunner
from gen404.client.models import JobEvent, JobSettings, Phase

from tests.simulator import GatewaySimulator


@pytest.fixture(autouse=True)
def user_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's own add-on user folder (journal, result cache): never the real one."""
    folder = tmp_path / "gen404-user"
    monkeypatch.setenv("GEN404_USER_FOLDER", str(folder))
    return folder


# -- helpers for job tests (imported by test_client*.py) ----------------------------
def settings_for(sim: GatewaySimulator, **overrides: object) -> JobSettings:
    values: dict = {
        "base_url": sim.url,
        "api_key": sim.api_key,
        "timeout_s": 5.0,
        "deadline_s": 10.0,
        "poll_interval_s": 0.05,
    }
    values.update(overrides)
    return JobSettings(**values)


def wait_jobs(runner: JobRunner, job_ids: Iterable[str], timeout: float = 10.0) -> dict:
    """Every event of ``job_ids`` until each has ended (fails after ``timeout``)."""
    pending = set(job_ids)
    events: dict[str, list[JobEvent]] = {job_id: [] for job_id in pending}
    end = time.monotonic() + timeout
    while pending:
        try:
            event = runner.events.get(timeout=max(0.01, end - time.monotonic()))
        except queue.Empty:
            pytest.fail(f"jobs did not end in {timeout} s: {events}")
        events[event.job_id].append(event)
        if event.terminal:
            pending.discard(event.job_id)
    return events


def wait_phase(runner: JobRunner, job_id: str, phase: Phase, timeout: float = 5.0) -> JobEvent:
    end = time.monotonic() + timeout
    while True:
        try:
            event = runner.events.get(timeout=max(0.01, end - time.monotonic()))
        except queue.Empty:
            pytest.fail(f"no {phase} event in {timeout} s")
        if event.job_id == job_id and event.phase is phase:
            return event
        assert not (event.job_id == job_id and event.terminal), event
