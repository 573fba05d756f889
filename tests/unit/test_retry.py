"""Retry timing without sleeping: a fake clock and a fake wait record every delay."""

from __future__ import annotations

import email.utils
import random
import threading
import time

import pytest
from gen404.client.errors import Cancelled, GatewayError, error_from_response, parse_retry_after
from gen404.client.retry import RetryPolicy, call_with_retry, retry_message


class FakeTime:
    """A clock that moves only when the code under test waits."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def wait(self, cancel: threading.Event, seconds: float) -> bool:
        self.waits.append(seconds)
        self.now += seconds
        return cancel.is_set()


def policy(fake: FakeTime, **overrides: object) -> RetryPolicy:
    values: dict = {"jitter": 0.0, "wait": fake.wait, "clock": fake.clock}
    values.update(overrides)
    return RetryPolicy(**values)


def failing(errors: list[GatewayError], result: str = "ok"):
    """A call that raises ``errors`` in turn, then returns ``result``; counts its calls."""
    calls = []

    def call() -> str:
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return result

    return call, calls


def busy(status: int = 503, retry_after: str | None = None) -> GatewayError:
    return error_from_response(status, b"busy", retry_after=retry_after)


def test_exponential_backoff_until_success() -> None:
    fake = FakeTime()
    call, calls = failing([busy(500), busy(502), busy(503), busy(504)])
    got = call_with_retry(
        call, policy=policy(fake), cancel=threading.Event(), deadline=fake.now + 100
    )
    assert got == "ok" and len(calls) == 5
    assert fake.waits == [0.5, 1.0, 2.0, 4.0]


def test_backoff_is_capped_and_attempts_are_bounded() -> None:
    fake = FakeTime()
    call, calls = failing([busy()] * 20)
    with pytest.raises(GatewayError, match="busy"):
        call_with_retry(
            call,
            policy=policy(fake, max_attempts=7),
            cancel=threading.Event(),
            deadline=fake.now + 1000,
        )
    assert len(calls) == 7
    assert fake.waits == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]


def test_jitter_stays_within_its_band() -> None:
    p = RetryPolicy(jitter=0.5, rng=random.Random(4))
    for attempt in range(1, 8):
        top = min(p.max_delay_s, p.base_s * 2 ** (attempt - 1))
        delays = {p.delay(attempt) for _ in range(50)}
        assert all(top * 0.5 <= d <= top for d in delays)
        assert len(delays) > 1  # it really varies
    assert all(3.0 <= p.delay(1, retry_after=3.0) <= 3.3 for _ in range(50))


def test_retry_after_seconds_is_honoured() -> None:
    fake = FakeTime()
    call, _ = failing([busy(429, retry_after="7"), busy(503, retry_after="2")])
    call_with_retry(call, policy=policy(fake), cancel=threading.Event(), deadline=fake.now + 100)
    assert fake.waits == [7.0, 2.0]


def test_retry_after_http_date_is_honoured() -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 28 <= (parse_retry_after(when) or 0) <= 30
    fake = FakeTime()
    call, _ = failing([busy(429, retry_after=when)])
    call_with_retry(call, policy=policy(fake), cancel=threading.Event(), deadline=fake.now + 100)
    assert len(fake.waits) == 1 and 28 <= fake.waits[0] <= 30


def test_retry_after_beyond_the_deadline_gives_up_at_once() -> None:
    fake = FakeTime()
    call, calls = failing([busy(429, retry_after="120")])
    with pytest.raises(GatewayError, match="wait 120 s"):
        call_with_retry(call, policy=policy(fake), cancel=threading.Event(), deadline=fake.now + 60)
    assert len(calls) == 1 and fake.waits == []


def test_backoff_never_waits_past_the_deadline() -> None:
    fake = FakeTime()
    start = fake.now
    call, calls = failing([busy()] * 20)
    with pytest.raises(GatewayError):
        call_with_retry(
            call,
            policy=policy(fake, max_attempts=100),
            cancel=threading.Event(),
            deadline=start + 10,
        )
    assert fake.now <= start + 10
    assert fake.waits == [0.5, 1.0, 2.0, 4.0, 2.5]  # the last wait is cut to the deadline
    assert len(calls) == 6


@pytest.mark.parametrize("status", [400, 401, 402, 404, 413, 501])
def test_final_answers_are_not_retried(status: int) -> None:
    fake = FakeTime()
    call, calls = failing([busy(status)])
    with pytest.raises(GatewayError):
        call_with_retry(call, policy=policy(fake), cancel=threading.Event(), deadline=fake.now + 99)
    assert len(calls) == 1 and fake.waits == []


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_passing_answers_are_retryable(status: int) -> None:
    assert busy(status).retryable


def test_may_retry_filter_and_cancel() -> None:
    fake = FakeTime()
    sent = GatewayError("reset after sending", retryable=True)
    call, calls = failing([sent])
    with pytest.raises(GatewayError, match="reset after sending"):
        call_with_retry(
            call,
            policy=policy(fake),
            cancel=threading.Event(),
            deadline=fake.now + 99,
            may_retry=lambda e: e.unsent and e.retryable,
        )
    assert len(calls) == 1

    cancel = threading.Event()

    def cancelling_wait(event: threading.Event, seconds: float) -> bool:
        event.set()
        return True

    call, calls = failing([busy()] * 3)
    with pytest.raises(Cancelled):
        call_with_retry(
            call,
            policy=policy(fake, wait=cancelling_wait),
            cancel=cancel,
            deadline=fake.now + 99,
        )
    assert len(calls) == 1


def test_real_wait_is_interrupted_by_cancel() -> None:
    """The default wait sits on the cancel Event: cancelling ends a 30 s backoff at once."""
    cancel = threading.Event()
    call, calls = failing([busy(429, retry_after="30")])
    threading.Timer(0.05, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        call_with_retry(call, policy=RetryPolicy(), cancel=cancel, deadline=time.monotonic() + 100)
    assert time.monotonic() - started < 1.0 and len(calls) == 1


def test_on_retry_reports_the_pause() -> None:
    fake = FakeTime()
    seen: list[tuple[str, float]] = []
    call, _ = failing([busy(503, retry_after="4")])
    call_with_retry(
        call,
        policy=policy(fake),
        cancel=threading.Event(),
        deadline=fake.now + 99,
        on_retry=lambda e, pause: seen.append((retry_message(e, pause), pause)),
    )
    ((text, pause),) = seen
    assert pause == 4.0 and "trying again in 4 s" in text and "busy" in text
