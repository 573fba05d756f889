"""Everything the simulator remembers: tasks, their timed progression, faults, counters.

Plain thread-safe Python with no HTTP in it, so tests can drive it in-process
while hypercorn serves the same object from its own thread.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .results import tiny_glb

SIM_API_KEY = "5e1a7c2e-4b0d-4f3a-9c61-0d2b8e4f7a10"
"""The key the simulator accepts unless told otherwise."""

STATUS_NO_RESULT = "NoResult"
STATUS_IN_PROGRESS = "InProgress"
STATUS_SUCCESS = "Success"
STATUS_FAILURE = "Failure"
STAGES = 3
"""NoResult, InProgress, PartialResult(1): each lasts ``stage_seconds``; then the end."""
MAX_WORKERS = 3
"""Workers running each task: up to this many results (variants) per task."""


def partial_status(n: int) -> str:
    return f"PartialResult({n})"


FAULT_KINDS = ("respond", "delay", "reset", "short", "stall", "drop", "expire", "trickle")


@dataclass(frozen=True)
class Fault:
    """One injected misbehaviour, taken by the next request to its path.

    ``respond``: answer ``status``/``headers``/``body`` instead of the real handler.
    ``delay``:   sleep ``delay_s``, then answer normally (slower than a timeout).
    The next kinds run the real handler, then break its answer:
    ``reset``:   send the headers and ``cut_at`` bytes of the body, then cut the
                 TCP connection (every stream on it, as a failing middlebox would).
    ``short``:   send the headers (full content-length) and ``cut_at`` bytes, then end
                 the response cleanly: a body shorter than its content-length.
    ``stall``:   send ``cut_at`` bytes, wait ``delay_s``, then the rest (a slow body).
    ``drop``:    let the handler act (an add_task creates and logs the task) and cut
                 the connection before any answer: the request may have cost money.
    ``expire``:  forget the task named by ``?id=`` first (a result gone after 5 min).
    ``trickle``: send the headers, then the body ``cut_at`` bytes (at least 1) at a
                 time, one piece every ``delay_s``: never idle long enough for a
                 per-read timeout. With a ``body`` it sends that (``status``,
                 ``headers``) instead of the real answer.
    ``cut_at`` < 0 means half the body. Named recipes are in faults.py.
    """

    kind: str = "respond"
    status: int = 500
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    delay_s: float = 0.0
    cut_at: int = -1

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {FAULT_KINDS}")


@dataclass
class Task:
    id: str
    created: float
    stage_seconds: float
    kind: str
    failure_reason: str | None = None
    seed: int = 0
    """The seed it runs with: the one sent, or one the gateway chose (and never tells)."""
    model: str = "404-3dgs"
    workers_ok: int = 1
    """Workers that succeed: the results at Success (``PartialResult(1)`` before it)."""

    def stage(self, now: float) -> int:
        if self.stage_seconds <= 0:
            return STAGES
        return min(STAGES, int((now - self.created) // self.stage_seconds))

    def finished_at(self) -> float:
        return self.created + STAGES * max(self.stage_seconds, 0.0)

    def status(self, now: float) -> dict[str, object]:
        """The /get_status JSON body at ``now``."""
        stage = self.stage(now)
        if self.failure_reason is not None and stage >= 2:
            return {"status": STATUS_FAILURE, "reason": self.failure_reason}
        if stage >= STAGES:
            return {"status": STATUS_SUCCESS, "worker_id": f"sim-worker-{self.id[:8]}"}
        names = (STATUS_NO_RESULT, STATUS_IN_PROGRESS, partial_status(1))
        return {"status": names[stage]}

    def successes(self, now: float) -> int:
        """Results so far: none, then the earliest at PartialResult(1), all at Success."""
        stage = self.stage(now)
        if self.failure_reason is not None or stage < 2:
            return 0
        return self.workers_ok if stage >= STAGES else 1

    def running(self, now: float) -> bool:
        """Still taking one of the account's slots."""
        return self.stage(now) < STAGES and not (self.failure_reason and self.stage(now) >= 2)


@dataclass(frozen=True)
class AddTaskRecord:
    """One accepted /add_task, so a test can prove nothing was submitted twice."""

    task_id: str
    kind: str
    prompt: str | None
    image_bytes: int
    seed: int | None
    model: str
    http_version: str
    model_params: str | None = None
    """The ``model_params`` object as compact JSON, when sent."""
    origin: str | None = None
    """The ``x-client-origin`` header."""


@dataclass(frozen=True)
class RequestRecord:
    """One gateway request: the task it named (``id``) and the connection it came on."""

    path: str
    task_id: str | None
    client: str
    """The client's address and port: one per TCP connection (so per process)."""


@dataclass(frozen=True)
class Stats:
    """A snapshot of the counters."""

    connections: int
    requests: dict[str, int]
    http_versions: list[tuple[str, str]]
    add_task_log: list[AddTaskRecord]
    request_log: list[RequestRecord] = field(default_factory=list)
    origins: list[tuple[str, str | None]] = field(default_factory=list)
    """(path, ``x-client-origin``) of every gateway request, in order."""
    concurrent_refusals: int = 0
    """add_task calls refused with 429 ``concurrent_limit`` (``max_concurrent``)."""
    peak_running: int = 0
    """The most tasks the account ran at once."""

    def as_json(self) -> dict[str, object]:
        return {
            "connections": self.connections,
            "requests": self.requests,
            "http_versions": [list(p) for p in self.http_versions],
            "add_task_log": [r.__dict__ for r in self.add_task_log],
            "request_log": [r.__dict__ for r in self.request_log],
            "origins": [list(p) for p in self.origins],
            "concurrent_refusals": self.concurrent_refusals,
            "peak_running": self.peak_running,
        }

    def requests_for(self, path: str, task_id: str) -> list[RequestRecord]:
        """The requests to ``path`` that named ``task_id``, in order."""
        wanted = task_id.lower()
        return [r for r in self.request_log if r.path == path and r.task_id == wanted]


@dataclass
class Settings:
    api_keys: frozenset[str]
    stage_seconds: float
    result_ttl_s: float
    max_concurrent: int = 0
    """Tasks the account may run at once (0: no limit); more get 429 concurrent_limit."""
    successes: int = 1
    """Workers of each new task that succeed (1 to MAX_WORKERS): its variants."""


class SimState:
    """Tasks and knobs of one simulator. All methods are thread-safe."""

    def __init__(
        self,
        *,
        api_keys: Iterable[str] = (SIM_API_KEY,),
        stage_seconds: float = 0.25,
        result_ttl_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._defaults = Settings(frozenset(api_keys), stage_seconds, result_ttl_s)
        self.result_glb = tiny_glb()
        """What the mesh models return (seeded per task); kept across ``reset``."""
        self.reset()

    # -- control ---------------------------------------------------------------
    def reset(self) -> None:
        """Forget tasks, faults and counters; restore the constructor's settings."""
        with self._lock:
            self.settings = Settings(**self._defaults.__dict__)
            self._offset = 0.0
            self._tasks: dict[str, Task] = {}
            self._fail_next: deque[str] = deque()
            self._faults: dict[str, deque[Fault]] = {}
            self._drop_connections = 0
            self._connections = 0
            self._requests: Counter[str] = Counter()
            self._versions: list[tuple[str, str]] = []
            self._origins: list[tuple[str, str | None]] = []
            self._add_log: list[AddTaskRecord] = []
            self._request_log: list[RequestRecord] = []
            self._refusals = self._peak = 0

    def configure(
        self,
        *,
        stage_seconds: float | None = None,
        result_ttl_s: float | None = None,
        api_keys: Iterable[str] | None = None,
        max_concurrent: int | None = None,
        successes: int | None = None,
    ) -> None:
        """Change settings for tasks created from now on (and the key check)."""
        if successes is not None and not 1 <= int(successes) <= MAX_WORKERS:
            raise ValueError(f"successes must be 1 to {MAX_WORKERS}, not {successes}")
        with self._lock:
            if successes is not None:
                self.settings.successes = int(successes)
            if max_concurrent is not None:
                self.settings.max_concurrent = int(max_concurrent)
            if stage_seconds is not None:
                self.settings.stage_seconds = float(stage_seconds)
            if result_ttl_s is not None:
                self.settings.result_ttl_s = float(result_ttl_s)
            if api_keys is not None:
                self.settings.api_keys = frozenset(api_keys)

    def advance(self, seconds: float) -> None:
        """Move the simulator's clock forward: progression and expiry without sleeping."""
        with self._lock:
            self._offset += seconds

    def fail_next(self, reason: str = "Task timed out", count: int = 1) -> None:
        """The next ``count`` tasks end in Failure with ``reason``."""
        with self._lock:
            self._fail_next.extend([reason] * count)

    def add_fault(self, path: str, fault: Fault, count: int = 1) -> None:
        """Queue ``fault`` for the next ``count`` requests to ``path``."""
        with self._lock:
            self._faults.setdefault(path, deque()).extend([fault] * count)

    def add_faults(self, path: str, faults: Iterable[Fault]) -> None:
        """Queue several faults for ``path``, in order (e.g. a burst of 500, 502, 503)."""
        with self._lock:
            self._faults.setdefault(path, deque()).extend(faults)

    def drop_connections(self, count: int = 1) -> None:
        """Reset the next ``count`` new connections during the TLS handshake, before the
        client can have sent any byte of a request (a "never reached the server" fault)."""
        with self._lock:
            self._drop_connections += count

    def take_connection_drop(self) -> bool:
        with self._lock:
            if self._drop_connections <= 0:
                return False
            self._drop_connections -= 1
            return True

    def forget_task(self, task_id: str | None) -> None:
        """Drop a task as the gateway does ~5 minutes after its last result."""
        with self._lock:
            self._tasks.pop((task_id or "").lower(), None)

    def take_fault(self, path: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(path)
            return queue.popleft() if queue else None

    # -- counters --------------------------------------------------------------
    def count_connection(self) -> None:
        with self._lock:
            self._connections += 1

    def count_request(
        self,
        path: str,
        http_version: str,
        task_id: str | None = None,
        client: str = "",
        origin: str | None = None,
    ) -> None:
        with self._lock:
            self._requests[path] += 1
            self._versions.append((path, http_version))
            task = task_id.strip().lower() if task_id else None
            self._request_log.append(RequestRecord(path, task, client))
            self._origins.append((path, origin))

    def stats(self) -> Stats:
        with self._lock:
            return Stats(
                self._connections,
                dict(self._requests),
                list(self._versions),
                list(self._add_log),
                list(self._request_log),
                list(self._origins),
                self._refusals,
                self._peak,
            )

    # -- tasks -----------------------------------------------------------------
    def now(self) -> float:
        return self.clock() + self._offset

    def key_accepted(self, key: str) -> bool:
        with self._lock:
            return key.lower() in {k.lower() for k in self.settings.api_keys}

    def create_task(
        self,
        *,
        kind: str,
        prompt: str | None,
        image_bytes: int,
        seed: int | None,
        model: str,
        http_version: str,
        model_params: str | None = None,
        origin: str | None = None,
    ) -> Task | None:
        """The new task, or None when the account already runs ``max_concurrent``."""
        with self._lock:
            now = self.now()
            limit = self.settings.max_concurrent
            running = sum(t.running(now) for t in self._tasks.values())
            if limit and running >= limit:
                self._refusals += 1
                return None
            self._peak = max(self._peak, running + 1)
            task = Task(
                id=str(uuid.uuid4()),
                created=now,
                stage_seconds=self.settings.stage_seconds,
                kind=kind,
                failure_reason=self._fail_next.popleft() if self._fail_next else None,
                seed=seed if seed is not None and seed != -1 else random.randrange(2**31),
                model=model,
                workers_ok=self.settings.successes,
            )
            self._tasks[task.id] = task
            self._add_log.append(
                AddTaskRecord(
                    task.id,
                    kind,
                    prompt,
                    image_bytes,
                    seed,
                    model,
                    http_version,
                    model_params,
                    origin,
                )
            )
            return task

    def find_task(self, task_id: str) -> Task | None:
        """The task, or None when unknown or expired (results kept ``result_ttl_s``)."""
        with self._lock:
            task = self._tasks.get(task_id.lower())
            if task and self.now() > task.finished_at() + self.settings.result_ttl_s:
                del self._tasks[task.id]
                return None
            return task
