"""client.task_rows: the task list's row states, their wording and their transitions.

Plain Python: the sidebar and operators only read these, so what a row says and
when it counts as finished is decided (and tested) here.
"""

from __future__ import annotations

import pytest
from gen404.client.models import TERMINAL_PHASES, Phase
from gen404.client.task_rows import (
    DOWNLOADED,
    ENDED,
    RESUME_LABELS,
    WAITING,
    WORKER_RESULTS,
    RowState,
    TaskEntry,
    status_text,
)

JOURNAL_ONLY = {RowState.READY_TO_IMPORT, RowState.PAUSED}


def _row(**kwargs: object) -> TaskEntry:
    return TaskEntry(job_id="j1", label="a robot", kind="prompt", host="gw", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("state", list(RowState))
def test_every_state_has_wording(state: RowState) -> None:
    text = status_text(state, results=2, message="why")
    assert text and text != state.value  # words, not the raw value
    assert text[0].isupper() or text[0].isdigit()


def test_the_wording_of_each_state() -> None:
    words = {state: status_text(state, 2, "no key") for state in RowState}
    assert words == {
        RowState.SUBMITTING: "Submitting",
        RowState.WAITING_SLOT: "Waiting for a free slot",
        RowState.QUEUED: "Queued",
        RowState.IN_PROGRESS: "In progress",
        RowState.PARTIAL: f"2 of {WORKER_RESULTS} results",
        RowState.DOWNLOADING: "Downloading",
        RowState.IMPORTING: "Importing",
        RowState.DONE: "Done",
        RowState.FAILED: "Failed: no key",
        RowState.CANCELLED: "Cancelled",
        RowState.READY_TO_IMPORT: "Ready to import",
        RowState.PAUSED: "Paused: no key",
    }


@pytest.mark.parametrize("phase", list(Phase))
def test_every_client_phase_has_a_row_state(phase: Phase) -> None:
    state = RowState.of_phase(phase)
    if phase is Phase.READY:
        assert state is RowState.IMPORTING  # built next, on the main thread
    else:
        assert state.value == phase.value
    # A job that ended without a result ends its row; a ready one is still importing.
    assert state.finished == (phase in TERMINAL_PHASES and phase is not Phase.READY)


def test_row_states_are_strings_with_the_old_values() -> None:
    """Rows saved nowhere, but scripts and the restart test read the values."""
    assert RowState.DONE == "done" and RowState.FAILED == "failed"
    assert RowState("ready_to_import") is RowState.READY_TO_IMPORT
    assert {state.value for state in RowState} >= {phase.value for phase in Phase} - {"ready"}


def test_which_states_are_finished_waiting_or_downloaded() -> None:
    assert {
        RowState.DONE,
        RowState.FAILED,
        RowState.CANCELLED,
        RowState.READY_TO_IMPORT,
        RowState.PAUSED,
    } == ENDED
    assert WAITING == JOURNAL_ONLY and WAITING <= ENDED
    assert {RowState.READY_TO_IMPORT, RowState.DONE} == DOWNLOADED
    for state in RowState:
        assert state.finished == (state in ENDED)


def test_resume_buttons() -> None:
    assert RESUME_LABELS == {
        RowState.READY_TO_IMPORT: "Import",
        RowState.PAUSED: "Resume",
        RowState.DONE: "Import Again",
    }
    assert {s for s in RowState if s.resume_label is not None} == set(RESUME_LABELS)
    assert RowState.FAILED.resume_label is None and RowState.QUEUED.resume_label is None


def test_a_new_row_is_submitting() -> None:
    row = _row(started=10.0)
    assert row.state is RowState.SUBMITTING and not row.finished
    assert row.status_text() == "Submitting"
    assert row.elapsed(now=12.5) == 2.5


def test_a_row_follows_its_job_through_every_phase() -> None:
    row = _row(started=0.0)
    seen = []
    for phase, task_id, results in [
        (Phase.QUEUED, "t-1", 0),
        (Phase.IN_PROGRESS, "", 0),
        (Phase.PARTIAL, "", 2),
        (Phase.PARTIAL, "", 1),  # a late event never lowers the count
        (Phase.DOWNLOADING, "", 3),
        (Phase.READY, "", 3),
    ]:
        row.follow(phase, task_id, results, message=f"at {phase}")
        seen.append((row.state, row.status_text()))
    assert row.task_id == "t-1"  # kept when later events carry none
    assert row.message == "at ready" and row.results == 3
    assert seen == [
        (RowState.QUEUED, "Queued"),
        (RowState.IN_PROGRESS, "In progress"),
        (RowState.PARTIAL, "2 of 3 results"),
        (RowState.PARTIAL, "2 of 3 results"),
        (RowState.DOWNLOADING, "Downloading"),
        (RowState.IMPORTING, "Importing"),
    ]
    assert not row.finished  # importing: the session builds it, then marks it done


@pytest.mark.parametrize(
    ("phase", "state", "text"),
    [
        (Phase.FAILED, RowState.FAILED, "Failed: Task timed out."),
        (Phase.CANCELLED, RowState.CANCELLED, "Cancelled"),
    ],
)
def test_a_job_that_ends_without_a_result_ends_its_row(
    phase: Phase, state: RowState, text: str
) -> None:
    row = _row()
    row.follow(phase, "t-9", 0, "Task timed out.")
    assert row.state is state and row.finished and row.status_text() == text


def test_elapsed_stops_when_the_row_ends() -> None:
    row = _row(started=100.0, ended=160.0)
    assert row.elapsed(now=500.0) == 60.0
    assert _row(started=100.0).elapsed(now=90.0) == 0.0  # never negative
