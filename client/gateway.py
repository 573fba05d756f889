"""GatewayClient: the three gateway calls over one httpx connection pool.

Blocking by design: it runs on a job's worker thread, never on Blender's main
thread. Every failure surfaces as a GatewayError whose message a user can act on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any, BinaryIO

import httpx

from .endpoints import host_of, is_uuid, validate_base_url
from .errors import PREFS_HINT, Cancelled, GatewayError, error_from_response, redact, server_message
from .generation import GLB_FORMAT, encode_params
from .limits import account_error
from .logredact import protect
from .models import RESULT_FORMATS
from .status import TaskStatus, parse_status
from .transport import (
    TURN_WAIT_TIMEOUTS,
    ConnectionTurns,
    H2Error,
    content_length,
    size_text,
    ssl_context,
    transport_error,
)

__all__ = ["RESULT_FORMATS", "GatewayClient", "key_problem", "ssl_context"]

USER_AGENT = "gen404-blender/0.1"
CLIENT_ORIGIN = "blender"
"""``x-client-origin``: the gateway records where a task came from (its allow-list has it)."""
MAX_CONNECTIONS = 8
"""HTTP/2 multiplexes every job over one connection; HTTP/1.1 gets this small pool."""
ERROR_BODY_LIMIT = 64 * 1024
"""Bytes of an error answer worth reading: enough for any message, bounded for any server."""
CHUNK_BYTES = 256 * 1024
KEY_EXAMPLE = "123e4567-e89b-12d3-a456-426614174000"


def key_problem(api_key: str) -> str | None:
    """Why ``api_key`` cannot be sent (never quoting it); None when it looks right."""
    key = api_key.strip()
    if not key:
        return f"No API key is set: enter it in {PREFS_HINT} (or set GEN404_API_KEY)."
    if not is_uuid(key):
        return (
            f"The API key is not valid: a 404 key looks like {KEY_EXAMPLE} (36 characters). "
            f"Copy it again from your 404 account into {PREFS_HINT}."
        )
    return None


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
        options: dict[str, Any] = {
            "base_url": self.base_url,
            "timeout": httpx.Timeout(timeout),
            "trust_env": True,
            "verify": ssl_context(),
            "headers": {"user-agent": USER_AGENT, "x-client-origin": CLIENT_ORIGIN},
            "follow_redirects": False,
            "limits": httpx.Limits(
                max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS
            ),
        }
        try:
            self._http = httpx.Client(http2=http2, **options)
        except ImportError:  # no h2 package: HTTP/1.1 works just as well
            self._http = httpx.Client(http2=False, **options)
            http2 = False
        # Requests on a shared HTTP/2 connection take turns (see ConnectionTurns);
        # HTTP/1.1 gives each request a connection of its own.
        self._turns = ConnectionTurns() if http2 else None

    def __repr__(self) -> str:
        return f"GatewayClient({self.base_url!r})"

    # -- the gateway calls -----------------------------------------------------
    def add_text_task(
        self,
        prompt: str,
        seed: int | None = None,
        *,
        model: str | None = None,
        model_params: dict[str, object] | None = None,
    ) -> str:
        """Submit a text→3D task; returns the gateway's task id."""
        body: dict[str, object] = {"prompt": prompt}
        if seed is not None:
            body["seed"] = seed
        body.update(task_options(model, model_params))
        response = self._send("POST", "/add_task", "submitting the prompt", auth=True, json=body)
        return self._task_id(response)

    def add_image_task(
        self,
        image: bytes,
        filename: str,
        mime: str,
        seed: int | None = None,
        *,
        model: str | None = None,
        model_params: dict[str, object] | None = None,
    ) -> str:
        """Submit an image→3D task (multipart field ``image``); returns the task id."""
        if not image:
            raise GatewayError("The image is empty: choose another image file.")
        files = {"image": (filename or "image", image, mime or "application/octet-stream")}
        data = {"seed": str(seed)} if seed is not None else {}
        for name, value in task_options(model, model_params).items():  # multipart: text
            data[name] = value if isinstance(value, str) else encode_params(value)  # type: ignore[arg-type]
        response = self._send(
            "POST", "/add_task", "uploading the image", auth=True, files=files, data=data
        )
        return self._task_id(response)

    def get_status(self, task_id: str) -> TaskStatus:
        """The task's current state (the gateway needs no key for this)."""
        self._check_task_id(task_id)
        response = self._send(
            "GET", "/get_status", "asking for the task status", params={"id": task_id}
        )
        return parse_status(self._json(response, retryable=True))

    def get_result(self, task_id: str, fmt: str = "ply") -> bytes:
        """The first successful result in memory, as PLY (``format=ply&compress=0``) or SPZ.

        Jobs use ``stream_result`` into a file instead; this stays for small callers.
        """
        self._check_task_id(task_id)
        response = self._send(
            "GET",
            "/get_result",
            "downloading the result",
            auth=True,
            params=_result_params(task_id, fmt),
        )
        data = response.content
        declared = response.headers.get("content-length")
        encoding = response.headers.get("content-encoding", "identity").lower()
        if (
            declared
            and declared.isdigit()
            and encoding == "identity"
            and int(declared) != len(data)
        ):
            raise self._cut_short(len(data), int(declared))
        if not data:
            raise GatewayError(
                f"The gateway at {self.host} sent an empty result: try again.", retryable=True
            )
        return data

    def stream_result(
        self,
        task_id: str,
        fmt: str,
        dest: BinaryIO,
        *,
        max_bytes: int,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> int:
        """Write the result into ``dest`` as it arrives; returns the bytes written.

        Refuses a declared size over ``max_bytes`` before reading, stops reading past it,
        and raises (retryable) when fewer bytes came than ``content-length`` promised.
        Raises Cancelled as soon as ``should_stop()`` is true between chunks. The
        server's file name (Content-Disposition) is ignored: it is never a path here.
        """
        self._check_task_id(task_id)
        params = _result_params(task_id, fmt)
        written = 0
        request = self._http.build_request(
            "GET", "/get_result", params=params, headers=self._auth_headers()
        )
        try:
            with self._turn(unsent=True):
                response = self._http.send(request, stream=True)
            # Only an HTTP/2 answer shares its connection: an HTTP/1.1 one (a server
            # without h2) has its own, and taking turns there could leave a request
            # holding the turn while it waits for a connection only a download frees.
            shared = response.http_version == "HTTP/2"
            try:
                if response.status_code != 200:
                    with self._turn(needed=shared):
                        body = _read_capped(response)
                    raise self._status_error(response, body)
                declared = content_length(response)
                if declared is not None and declared > max_bytes:
                    raise self._too_large(declared, max_bytes)
                chunks = response.iter_bytes()
                while True:
                    with self._turn(needed=shared):  # a piece at a time: see ConnectionTurns
                        chunk = next(chunks, None)
                    if chunk is None:
                        break
                    if should_stop():
                        raise Cancelled
                    written += len(chunk)
                    if written > max_bytes:
                        raise self._too_large(written, max_bytes)
                    try:
                        dest.write(chunk)
                    except OSError as exc:
                        raise GatewayError(
                            f"The download could not be saved ({exc.strerror or exc}): "
                            "free some disk space and try again."
                        ) from exc
                received = response.num_bytes_downloaded
            finally:
                with self._turn(needed=shared, wait_anyway=True):
                    response.close()
        except (httpx.HTTPError, H2Error) as exc:
            raise self._transport_error(exc, "downloading the result") from exc
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

    @contextlib.contextmanager
    def _turn(
        self, *, unsent: bool = False, needed: bool = True, wait_anyway: bool = False
    ) -> Iterator[None]:
        """This thread's turn on a shared HTTP/2 connection (see ConnectionTurns).

        A turn not given in time is a retryable error (``unsent`` when the request has
        not started); with ``wait_anyway`` (closing a response) the block runs regardless.
        None is taken when HTTP/2 is off or not ``needed``.
        """
        if self._turns is None or not needed:
            yield
            return
        busy = GatewayError(
            f"The connection to {self.host} stayed busy for "
            f"{TURN_WAIT_TIMEOUTS * self.timeout:g} s: try again.",
            retryable=True,
            unsent=unsent,  # then nothing of this request has left
        )
        got = self._turns.acquire(TURN_WAIT_TIMEOUTS * self.timeout)
        if not got and not wait_anyway:
            raise busy
        try:
            yield
        finally:
            if got:
                self._turns.release()

    def _send(
        self, method: str, path: str, doing: str, *, auth: bool = False, **kwargs: Any
    ) -> httpx.Response:
        headers = self._auth_headers() if auth else None
        try:
            with self._turn(unsent=True):  # the whole exchange, answer included
                response = self._http.request(method, path, headers=headers, **kwargs)
        except (httpx.HTTPError, H2Error) as exc:
            raise self._transport_error(exc, doing) from exc
        if response.status_code != 200:
            raise self._status_error(response, response.content)
        return response

    def _status_error(self, response: httpx.Response, body: bytes) -> GatewayError:
        limited = account_error(response.status_code, body, secret=self._api_key)
        if limited is not None:  # the account's limits and billing: see limits.py
            return limited
        return error_from_response(
            response.status_code,
            body,
            response.headers.get("content-type", ""),
            retry_after=response.headers.get("retry-after"),
            secret=self._api_key,
        )

    def _cut_short(self, got: int, declared: int) -> GatewayError:
        return GatewayError(
            f"The download from {self.host} was cut short ({got} of {declared} bytes): try again.",
            retryable=True,
        )

    @staticmethod
    def _too_large(size: int, limit: int) -> GatewayError:
        return GatewayError(
            f"The result ({size_text(size)} or more) is larger than the download limit of "
            f"{size_text(limit)}: raise the limit in {PREFS_HINT} if you trust the gateway."
        )

    def _transport_error(self, exc: BaseException, doing: str) -> GatewayError:
        return transport_error(
            exc, host=self.host, timeout=self.timeout, doing=doing, secret=self._api_key
        )

    def _json(self, response: httpx.Response, *, retryable: bool = False) -> object:
        try:
            return response.json()
        except ValueError:
            snippet = server_message(response.content, response.headers.get("content-type", ""))
            raise GatewayError(
                f"The gateway at {self.host} sent an answer that is not JSON "
                f"({redact(snippet[:120], self._api_key) or 'empty'}): "
                "it may be down or behind a proxy; try again later.",
                status_code=response.status_code,
                retryable=retryable,
            ) from None

    def _task_id(self, response: httpx.Response) -> str:
        payload = self._json(response)
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


def task_options(model: str | None, params: dict[str, object] | None) -> dict[str, object]:
    """add_task's optional ``model`` and ``model_params`` (left out when not given)."""
    options: dict[str, object] = {}
    if model:
        options["model"] = model
    if params:
        options["model_params"] = dict(params)
    return options


def _result_params(task_id: str, fmt: str) -> dict[str, str]:
    if fmt not in RESULT_FORMATS:
        raise GatewayError(f"Unknown result format {fmt!r}: use 'ply' or 'spz'.")
    if fmt == GLB_FORMAT:  # a mesh model's result is its GLB: no splat format to choose
        return {"id": task_id}
    params = {"id": task_id, "format": fmt}
    if fmt == "ply":
        params["compress"] = "0"
    return params


def _read_capped(response: httpx.Response) -> bytes:
    """At most ERROR_BODY_LIMIT bytes of a streamed (error) answer."""
    parts: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        parts.append(chunk)
        size += len(chunk)
        if size >= ERROR_BODY_LIMIT:
            break
    return b"".join(parts)[:ERROR_BODY_LIMIT]
