"""The API key never shows: not in a log record (any logger, DEBUG included), the
journal or any file in the user folder, an event, or an exception's text."""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

import pytest
from gen404.client.errors import GatewayError
from gen404.client.gateway import GatewayClient
from gen404.client.jobs import JobRunner
from gen404.client.models import GenerationRequest, Phase
from gen404.client.retry import RetryPolicy

from tests.simulator import Fault, GatewaySimulator
from tests.unit.conftest import settings_for, wait_jobs


def forms(key: str) -> list[str]:
    """The key as written, and the spellings a careless formatter might produce."""
    return [key, key.upper(), key.replace("-", ""), key.encode().hex()]


def test_key_never_leaks(
    sim: GatewaySimulator, caplog: pytest.LogCaptureFixture, user_folder: Path
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, httpx/httpcore/h2/hpack included
    key = sim.api_key
    echo = f"trouble with key {key}".encode()
    sim.add_fault("/get_status", Fault(status=503, body=echo))
    sim.add_fault("/get_result", Fault(status=500, body=echo))
    r = JobRunner(parse=len, retry=RetryPolicy(base_s=0.01, max_delay_s=0.02))
    settings = settings_for(sim)
    ok = r.submit(GenerationRequest("a red chair"), settings)
    events = wait_jobs(r, [ok])
    sim.add_fault("/add_task", Fault(status=401, body=b"Unauthorized request: " + echo))
    refused = r.submit(GenerationRequest("a blue chair"), settings)
    events.update(wait_jobs(r, [refused]))
    r.shutdown()
    assert events[ok][-1].phase is Phase.READY
    assert events[refused][-1].phase is Phase.FAILED
    assert any("<api key>" in e.message for e in events[ok])  # the echo was there, masked

    texts = [f"{e!r} {e.message}" for evs in events.values() for e in evs]
    for record in caplog.records:
        texts.append(record.getMessage())
        if record.exc_info:
            texts.append("".join(traceback.format_exception(*record.exc_info)))
    for path in user_folder.rglob("*"):
        if path.is_file():
            texts.append(path.read_bytes().decode("latin-1"))
    with GatewayClient(sim.url, key) as client:
        sim.add_fault("/get_result", Fault(status=402, body=echo))
        with pytest.raises(GatewayError) as caught:
            client.get_result("11111111-2222-4333-8444-555555555555")
        texts += [str(caught.value), repr(caught.value), repr(client), str(caught.value.args)]
    texts += [repr(settings), str(settings), repr(r._pool)]
    assert len(caplog.records) > 10  # the loggers really were listening
    for text in texts:
        for form in forms(key):
            assert form not in text, text[:300]
