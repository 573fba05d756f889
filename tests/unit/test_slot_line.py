"""Many tasks at once on an account with few slots (a batch): the runner's jobs send
add_task one at a time, in order, the waiting ones behind the first without asking,
and none is failed for having waited its turn. Against the live simulator, whose
``max_concurrent`` refuses with 429 ``concurrent_limit`` and counts the refusals."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gen404.client.jobs import JobRunner
from gen404.client.models import GenerationRequest, Phase

from tests.simulator import GatewaySimulator
from tests.simulator import faults as F
from tests.unit.conftest import settings_for, wait_jobs, wait_phase


@pytest.fixture
def runner() -> Iterator[JobRunner]:
    r = JobRunner(parse=len)
    yield r
    r.shutdown()


def _submit(runner: JobRunner, sim: GatewaySimulator, count: int, **settings: object) -> list:
    return [
        runner.submit(GenerationRequest(f"a chair number {i}"), settings_for(sim, **settings))
        for i in range(count)
    ]


def test_twenty_tasks_on_two_slots_all_land_in_order_without_a_burst(
    sim: GatewaySimulator, runner: JobRunner
) -> None:
    sim.set_max_concurrent(2)
    ids = _submit(runner, sim, 20, deadline_s=60.0)
    events = wait_jobs(runner, ids, timeout=60)
    assert [events[i][-1].phase for i in ids] == [Phase.READY] * 20
    stats = sim.stats()
    log = stats.add_task_log
    assert len({r.task_id for r in log}) == len(log) == 20  # each sent once, none twice
    assert [r.prompt for r in log] == [f"a chair number {i}" for i in range(20)]
    # Every add_task was accepted or refused for want of a slot, and the refusals are
    # about one per slot that came free (every waiting job asking again: 162 of 182).
    assert stats.requests["/add_task"] == 20 + stats.concurrent_refusals
    assert stats.concurrent_refusals <= 20
    assert stats.peak_running == 2  # both slots used, never more
    assert sum(e.phase is Phase.WAITING_SLOT for i in ids for e in events[i]) > 0


def test_waiting_in_line_does_not_use_up_a_tasks_deadline(
    sim: GatewaySimulator, runner: JobRunner
) -> None:
    """Six tasks of about a second on one slot take longer than each one's deadline:
    a deadline counted from the submission failed the last ones, sending them with no
    time left ("the gateway may have received the request")."""
    sim.set_max_concurrent(1)
    sim.set_stage_seconds(0.3)
    ids = _submit(runner, sim, 6, deadline_s=2.5)
    events = wait_jobs(runner, ids, timeout=60)
    assert [events[i][-1].phase for i in ids] == [Phase.READY] * 6, [
        events[i][-1].message for i in ids
    ]
    assert len(sim.stats().add_task_log) == 6


def test_a_line_that_does_not_move_gives_up_without_sending(
    sim: GatewaySimulator, runner: JobRunner
) -> None:
    sim.add_fault("/add_task", F.concurrent_limit(), count=50)  # slots held elsewhere
    ids = _submit(runner, sim, 3, deadline_s=1.0)
    events = wait_jobs(runner, ids, timeout=20)
    for job_id in ids:
        last = events[job_id][-1]
        assert last.phase is Phase.FAILED and "no slot came free within 1 s" in last.message
        assert "not sent" in last.message and "received" not in last.message
    stats = sim.stats()
    assert stats.add_task_log == []
    assert stats.requests["/add_task"] <= 2  # the first in line asked; the others waited


def test_a_task_cancelled_in_line_leaves_it_and_the_others_go_on(
    sim: GatewaySimulator, runner: JobRunner
) -> None:
    sim.set_max_concurrent(1)
    sim.set_stage_seconds(0.3)
    first, second, third = _submit(runner, sim, 3, deadline_s=30.0)
    wait_phase(runner, second, Phase.WAITING_SLOT, timeout=10)
    assert runner.cancel(second)
    events = wait_jobs(runner, [first, second, third], timeout=30)
    assert [events[i][-1].phase for i in (first, second, third)] == [
        Phase.READY,
        Phase.CANCELLED,
        Phase.READY,
    ]
    prompts = [r.prompt for r in sim.stats().add_task_log]
    assert prompts == ["a chair number 0", "a chair number 2"]
