"""Pytest fixtures for a live gateway simulator, shared by the unit and Blender tests.

``SSL_CERT_FILE`` points at a bundle of the simulator's CA plus whatever the
variable named before, so clients that honour it trust the simulator without
losing the public CAs. Nothing here imports the add-on (the Blender tests'
Python has no httpx of its own).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.simulator import GatewaySimulator

TEST_STAGE_SECONDS = 0.1


@pytest.fixture(scope="session")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewaySimulator]:
    """A started simulator shared by the session (short stages: a task takes 0.3 s)."""
    folder = tmp_path_factory.mktemp("gateway-sim")
    sim = GatewaySimulator(stage_seconds=TEST_STAGE_SECONDS, ca_pem_path=folder / "ca.pem")
    sim.start()
    bundle = folder / "ca-bundle.pem"
    previous = os.environ.get("SSL_CERT_FILE")
    parts = [sim.ca_pem_path.read_text()]
    if previous and Path(previous).is_file():
        parts.append(Path(previous).read_text())
    bundle.write_text("\n".join(parts))
    os.environ["SSL_CERT_FILE"] = str(bundle)
    try:
        yield sim
    finally:
        if previous is None:
            os.environ.pop("SSL_CERT_FILE", None)
        else:
            os.environ["SSL_CERT_FILE"] = previous
        sim.stop()


@pytest.fixture
def sim(simulator: GatewaySimulator) -> GatewaySimulator:
    """The session simulator, reset: no tasks, faults or counts; default settings."""
    simulator.reset()
    return simulator
