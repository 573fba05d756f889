# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""GatewayClient: the three gateway calls over one httpx connection pool.

Blocking by design: it runs on a job's worker thread, never on Blender's main
thread. Every failure surfaces as a GatewayError whose message a user can act on.
"""

from __future__ import annotations

import contextlib
import io
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, BinaryIO, TypedDict, Unpack

import httpx

from .answers import (
    body_pieces,
    cut_short,
    failures,
    json_answer,
    read_body,
    status_error,
    too_large,
)
from .endpoints import host_of, is_uuid, key_problem, validate_base_url
from .errors import Cancelled, GatewayError
from .generation import encode_params, result_params, task_options
from .limits import account_error
from .logredact import protect
from .models import DEFAULT_MAX_DOWNLOAD_BYTES, RESULT_FORMATS
from .status import TaskStatus, parse_status
from .transport import (
    TURN_WAIT_TIMEOUTS,
    ConnectionTurns,
    content_length,
    http_client,
    ssl_context,
    transport_error,
    turn_of,
)

__all__ = ["RESULT_FORMATS", "GatewayClient", "key_problem", "ssl_context"]

USER_AGENT = "gen404-blender/0.1"
CLIENT_ORIGIN = "blender"
"""``x-client-origin``: the gateway records where a task came from (its allow-list has it)."""
MAX_CONNECTIONS = 8
"""HTTP/2 multiplexes every job over one connection; HTTP/1.1 gets this small pool."""
ERROR_BODY_LIMIT = 64 * 1024
"""Bytes of an error answer worth reading: enough for any message, bounded for any server."""
ANSWER_LIMIT = 64 * 1024
"""Largest JSON answer (add_task, get_status) taken, counted after any unpacking: the
real ones are under 200 bytes."""
UPLOAD_TIMEOUTS = 3
"""add_task gets this many network timeouts in all (connect, upload, answer); a status
call gets one; a download the job's time (DOWNLOAD_BUDGET_S without a job)."""
DOWNLOAD_BUDGET_S = 600.0


class TaskCall(TypedDict, total=False):
    """add_task's optional arguments: the model and its parameters, and the job's
    ``cancel`` event and ``deadline`` (see the gateway calls below)."""

    model: str | None
    model_params: dict[str, object] | None
    cancel: threading.Event | None
    deadline: float | None


class GatewayClient:
    """Talks to one gateway with one API key. TLS is always verified."""

    def __init__(
        self, base_url: str, api_key: str, *, timeout: float = 30.0, http2: bool = True
    ) -> None:
        self.base_url = validate_base_url(base_url)
        self.host = host_of(self.base_url)
        self.timeout = timeout
        self._api_key = api_key.strip()
        protect(self._api_key)
        headers = {"user-agent": USER_AGENT, "x-client-origin": CLIENT_ORIGIN}
        self._http, http2 = http_client(self.base_url, timeout, http2, headers, MAX_CONNECTIONS)
        # Requests on a shared HTTP/2 connection take turns (see ConnectionTurns);
        # HTTP/1.1 gives each request a connection of its own.
        self._turns = ConnectionTurns() if http2 else None

    def __repr__(self) -> str:
        return f"GatewayClient({self.base_url!r})"

    # -- the gateway calls -----------------------------------------------------
    # Each call takes the job's ``cancel`` event and ``deadline`` (time.monotonic()):
    # the request ends within its own time (see UPLOAD_TIMEOUTS) and the job's,
    # and within about a second of ``cancel`` being set (Cancelled is raised).
    def add_text_task(self, prompt: str, seed: int | None = None, **call: Unpack[TaskCall]) -> str:
        """Submit a text→3D task; returns the gateway's task id."""
        body: dict[str, object] = {"prompt": prompt}
        if seed is not None:
            body["seed"] = seed
        body.update(task_options(call.get("model"), call.get("model_params")))
        return self._add_task(
            "submitting the prompt", call.get("cancel"), call.get("deadline"), json=body
        )

    def add_image_task(
        self,
        image: bytes,
        filename: str,
        mime: str,
        seed: int | None = None,
        **call: Unpack[TaskCall],
    ) -> str:
        """Submit an image→3D task (multipart field ``image``); returns the task id."""
        if not image:
            raise GatewayError("The image is empty: choose another image file.")
        files = {"image": (filename or "image", image, mime or "application/octet-stream")}
        data = {"seed": str(seed)} if seed is not None else {}
        for name, value in task_options(call.get("model"), call.get("model_params")).items():
            # multipart fields are text: the parameters go as their JSON
            data[name] = value if isinstance(value, str) else encode_params(value)  # type: ignore[arg-type]
        return self._add_task(
            "uploading the image", call.get("cancel"), call.get("deadline"), files=files, data=data
        )

    def _add_task(
        self, doing: str, cancel: threading.Event | None, deadline: float | None, **payload: Any
    ) -> str:
        """POST /add_task with the key, within UPLOAD_TIMEOUTS network timeouts."""
        response, answer = self._send(
            "POST",
            "/add_task",
            doing,
            auth=True,
            budget=UPLOAD_TIMEOUTS * self.timeout,
            cancel=cancel,
            deadline=deadline,
            **payload,
        )
        return self._task_id(response, answer)

    def get_status(
        self,
        task_id: str,
        *,
        cancel: threading.Event | None = None,
        deadline: float | None = None,
    ) -> TaskStatus:
        """The task's current state (the gateway needs no key for this)."""
        self._check_task_id(task_id)
        response, answer = self._send(
            "GET",
            "/get_status",
            "asking for the task status",
            budget=self.timeout,
            cancel=cancel,
            deadline=deadline,
            params={"id": task_id},
        )
        return parse_status(self._json(response, answer, retryable=True), secret=self._api_key)

    def get_result(
        self,
        task_id: str,
        fmt: str = "ply",
        *,
        max_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
        cancel: threading.Event | None = None,
        deadline: float | None = None,
    ) -> bytes:
        """The first successful result in memory, as PLY (``format=ply&compress=0``) or SPZ.

        Jobs use ``stream_result`` into a file instead; this stays for small callers.
        """
        out = io.BytesIO()
        self.stream_result(task_id, fmt, out, max_bytes=max_bytes, cancel=cancel, deadline=deadline)
        return out.getvalue()

    def stream_result(
        self,
        task_id: str,
        fmt: str,
        dest: BinaryIO,
        *,
        max_bytes: int,
        should_stop: Callable[[], bool] = lambda: False,
        cancel: threading.Event | None = None,
        deadline: float | None = None,
    ) -> int:
        """Write the result into ``dest`` as it arrives; returns the bytes written.

        Refuses a declared size over ``max_bytes`` before reading, stops reading past it
        (counting unpacked bytes, should the server pack the answer anyway), and raises
        (retryable) when fewer bytes came than ``content-length`` promised. Raises
        Cancelled within about a second of ``cancel`` being set (between pieces for
        ``should_stop``). The whole download ends by ``deadline`` (DOWNLOAD_BUDGET_S
        without one). The server's file name (Content-Disposition) is ignored: it is
        never a path here.
        """
        self._check_task_id(task_id)
        if fmt not in RESULT_FORMATS:
            raise GatewayError(f"Unknown result format {fmt!r}: use 'ply' or 'spz'.")
        params = result_params(task_id, fmt)
        doing = "downloading the result"
        written = 0
        end = self._end(DOWNLOAD_BUDGET_S, deadline)
        request = self._http.build_request(
            "GET",
            "/get_result",
            params=params,
            headers=self._auth_headers(),
            timeout=self._timeouts(end),
        )
        with self._failures(doing, end, cancel):
            with self._turn(unsent=True, cancel=cancel):
                response = self._http.send(request, stream=True)
            # Only an HTTP/2 answer shares its connection: an HTTP/1.1 one (a server
            # without h2) has its own, and taking turns there could leave a request
            # holding the turn while it waits for a connection only a download frees.
            shared = response.http_version == "HTTP/2"
            try:
                if response.status_code != 200:
                    with self._turn(needed=shared, cancel=cancel):
                        body = self._read_body(response, ERROR_BODY_LIMIT, doing, refuse=False)
                    raise self._status_error(response, body)
                declared = content_length(response)
                if declared is not None and declared > max_bytes:
                    raise too_large(declared, max_bytes)
                pieces = body_pieces(response, self.host, doing)
                while True:
                    with self._turn(needed=shared, cancel=cancel):  # see ConnectionTurns
                        piece = next(pieces, None)
                    if piece is None:
                        break
                    if should_stop() or (cancel is not None and cancel.is_set()):
                        raise Cancelled
                    written += len(piece)
                    if written > max_bytes:
                        raise too_large(written, max_bytes)
                    try:
                        dest.write(piece)
                    except OSError as exc:
                        raise GatewayError(
                            f"The download could not be saved ({exc.strerror or exc}): "
                            "free some disk space and try again."
                        ) from exc
                received = response.num_bytes_downloaded
            finally:
                with self._turn(needed=shared, wait_anyway=True):
                    response.close()
        if declared is not None and received != declared:
            raise self._cut_short(received, declared)
        if written == 0:
            raise GatewayError(
                f"The gateway at {self.host} sent an empty result: try again.", retryable=True
            )
        return written

    # -- plumbing --------------------------------------------------------------
    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GatewayClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _auth_headers(self) -> dict[str, str]:
        """The key header, or GatewayError before anything is sent for a missing/bad key."""
        problem = key_problem(self._api_key)
        if problem:
            raise GatewayError(problem)
        return {"x-api-key": self._api_key}

    def _turn(
        self,
        *,
        unsent: bool = False,
        needed: bool = True,
        wait_anyway: bool = False,
        cancel: threading.Event | None = None,
    ) -> contextlib.AbstractContextManager[None]:
        """This thread's turn on a shared HTTP/2 connection (see transport.turn_of)."""
        turns = self._turns if needed else None
        wait = TURN_WAIT_TIMEOUTS * self.timeout
        return turn_of(turns, self.host, wait, unsent, wait_anyway=wait_anyway, cancel=cancel)

    def _send(
        self,
        method: str,
        path: str,
        doing: str,
        *,
        auth: bool = False,
        budget: float,
        cancel: threading.Event | None,
        deadline: float | None,
        **kwargs: Any,
    ) -> tuple[httpx.Response, bytes]:
        """One exchange with a JSON answer: the (closed) response and its unpacked body,
        at most ANSWER_LIMIT bytes; GatewayError for a non-200 answer."""
        headers = self._auth_headers() if auth else None
        end = self._end(budget, deadline)
        request = self._http.build_request(
            method, path, headers=headers, timeout=self._timeouts(end), **kwargs
        )
        # The turn covers the whole exchange, answer included.
        with self._failures(doing, end, cancel), self._turn(unsent=True, cancel=cancel):
            response = self._http.send(request, stream=True)
            try:
                ok = response.status_code == 200
                limit = ANSWER_LIMIT if ok else ERROR_BODY_LIMIT
                body = self._read_body(response, limit, doing, refuse=ok)
            finally:
                response.close()
        if not ok:
            raise self._status_error(response, body)
        return response, body

    def _end(self, budget: float, deadline: float | None) -> float:
        end = time.monotonic() + budget
        return end if deadline is None else min(end, deadline)

    def _timeouts(self, end: float) -> httpx.Timeout:
        """httpx's per-operation timeouts, none past ``end`` (deadlines.py does the rest)."""
        return httpx.Timeout(max(0.001, min(self.timeout, end - time.monotonic())))

    def _failures(
        self, doing: str, end: float, cancel: threading.Event | None
    ) -> contextlib.AbstractContextManager[None]:
        return failures(self.host, doing, end, cancel, self._transport_error)

    def _read_body(
        self, response: httpx.Response, limit: int, doing: str, *, refuse: bool
    ) -> bytes:
        return read_body(response, limit, self.host, doing, refuse=refuse)

    def _status_error(self, response: httpx.Response, body: bytes) -> GatewayError:
        limited = account_error(response.status_code, body, secret=self._api_key)
        if limited is not None:  # the account's limits and billing: see limits.py
            return limited
        return status_error(response, body, self._api_key)

    def _cut_short(self, got: int, declared: int) -> GatewayError:
        return cut_short(self.host, got, declared)

    def _transport_error(self, exc: BaseException, doing: str) -> GatewayError:
        return transport_error(
            exc, host=self.host, timeout=self.timeout, doing=doing, secret=self._api_key
        )

    def _json(self, response: httpx.Response, body: bytes, *, retryable: bool = False) -> object:
        return json_answer(response, body, self.host, self._api_key, retryable=retryable)

    def _task_id(self, response: httpx.Response, body: bytes) -> str:
        payload = self._json(response, body)
        task_id = payload.get("id") if isinstance(payload, dict) else None
        if not isinstance(task_id, str) or not is_uuid(task_id):
            raise GatewayError(
                f"The gateway at {self.host} accepted the task but sent no valid task id: "
                "try again; if it keeps happening, the add-on may need an update."
            )
        return task_id.lower()

    @staticmethod
    def _check_task_id(task_id: str) -> None:
        if not is_uuid(task_id):
            raise GatewayError(f"{task_id!r} is not a task id (expected a UUID).")
