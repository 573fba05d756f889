"""GatewayClient: the three gateway calls over one httpx connection pool.

Blocking by design: it runs on a job's worker thread, never on Blender's main
thread. Every failure surfaces as a GatewayError whose message a user can act on.
"""

from __future__ import annotations

import os
import ssl
from types import TracebackType
from typing import Any

import httpx

from .endpoints import host_of, is_uuid, validate_base_url
from .errors import PREFS_HINT, GatewayError, error_from_response, redact, server_message
from .status import TaskStatus, parse_status

USER_AGENT = "gen404-blender/0.1"
RESULT_FORMATS = ("ply", "spz")


def ssl_context() -> ssl.SSLContext:
    """A verifying TLS context trusting the system store, certifi, and SSL_CERT_FILE/DIR.

    httpx 0.28 with ``trust_env`` *replaces* its CA bundle with SSL_CERT_FILE; here
    the file is *added*, so a company proxy's CA (or a test CA) works without
    losing the public CAs the real gateway needs.
    """
    ctx = ssl.create_default_context()
    try:
        import certifi

        ctx.load_verify_locations(cafile=certifi.where())
    except (ImportError, OSError, ssl.SSLError):
        pass
    cafile = os.environ.get("SSL_CERT_FILE", "")
    capath = os.environ.get("SSL_CERT_DIR", "")
    try:
        if cafile and os.path.isfile(cafile):
            ctx.load_verify_locations(cafile=cafile)
        if capath and os.path.isdir(capath):
            ctx.load_verify_locations(capath=capath)
    except (OSError, ssl.SSLError) as exc:
        raise GatewayError(
            f"The certificates in SSL_CERT_FILE/SSL_CERT_DIR cannot be read ({exc}): "
            "fix or unset those environment variables."
        ) from exc
    return ctx


def _is_cert_error(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        if "CERTIFICATE_VERIFY_FAILED" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class GatewayClient:
    """Talks to one gateway with one API key. TLS is always verified."""

    def __init__(
        self, base_url: str, api_key: str, *, timeout: float = 30.0, http2: bool = True
    ) -> None:
        self.base_url = validate_base_url(base_url)
        self.host = host_of(self.base_url)
        self.timeout = timeout
        self._api_key = api_key.strip()
        options: dict[str, Any] = {
            "base_url": self.base_url,
            "timeout": httpx.Timeout(timeout),
            "trust_env": True,
            "verify": ssl_context(),
            "headers": {"user-agent": USER_AGENT},
            "follow_redirects": False,
        }
        try:
            self._http = httpx.Client(http2=http2, **options)
        except ImportError:  # no h2 package: HTTP/1.1 works just as well
            self._http = httpx.Client(http2=False, **options)

    def __repr__(self) -> str:
        return f"GatewayClient({self.base_url!r})"

    # -- the gateway calls -----------------------------------------------------
    def add_text_task(self, prompt: str, seed: int | None = None) -> str:
        """Submit a text→3D task; returns the gateway's task id."""
        body: dict[str, object] = {"prompt": prompt}
        if seed is not None:
            body["seed"] = seed
        response = self._send("POST", "/add_task", "submitting the prompt", auth=True, json=body)
        return self._task_id(response)

    def add_image_task(
        self, image: bytes, filename: str, mime: str, seed: int | None = None
    ) -> str:
        """Submit an image→3D task (multipart field ``image``); returns the task id."""
        if not image:
            raise GatewayError("The image is empty: choose another image file.")
        files = {"image": (filename or "image", image, mime or "application/octet-stream")}
        data = {"seed": str(seed)} if seed is not None else {}
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
        return parse_status(self._json(response))

    def get_result(self, task_id: str, fmt: str = "ply") -> bytes:
        """The first successful result, as PLY (``format=ply&compress=0``) or SPZ bytes."""
        self._check_task_id(task_id)
        if fmt not in RESULT_FORMATS:
            raise GatewayError(f"Unknown result format {fmt!r}: use 'ply' or 'spz'.")
        params = {"id": task_id, "format": fmt}
        if fmt == "ply":
            params["compress"] = "0"
        response = self._send(
            "GET", "/get_result", "downloading the result", auth=True, params=params
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
            raise GatewayError(
                f"The download from {self.host} was cut short ({len(data)} of {declared} bytes): "
                "try again.",
                status_code=response.status_code,
            )
        if not data:
            raise GatewayError(f"The gateway at {self.host} sent an empty result: try again.")
        return data

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

    def _send(
        self, method: str, path: str, doing: str, *, auth: bool = False, **kwargs: Any
    ) -> httpx.Response:
        headers = None
        if auth:
            if not self._api_key:
                raise GatewayError(
                    f"No API key is set: enter it in {PREFS_HINT} (or set GEN404_API_KEY)."
                )
            headers = {"x-api-key": self._api_key}
        try:
            response = self._http.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, doing) from exc
        if response.status_code != 200:
            raise error_from_response(
                response.status_code,
                response.content,
                response.headers.get("content-type", ""),
                retry_after=response.headers.get("retry-after"),
                secret=self._api_key,
            )
        return response

    def _transport_error(self, exc: httpx.HTTPError, doing: str) -> GatewayError:
        reason = redact(str(exc) or type(exc).__name__, self._api_key)
        host = self.host
        if isinstance(exc, httpx.TimeoutException):
            text = (
                f"The gateway at {host} did not answer within {self.timeout:g} s while {doing}: "
                "check your connection, or try again later."
            )
        elif isinstance(exc, httpx.ConnectError) and _is_cert_error(exc):
            text = (
                f"The certificate of {host} is not trusted ({reason}). Check the gateway URL; "
                "behind a company proxy, set SSL_CERT_FILE to its CA certificate."
            )
        elif isinstance(exc, httpx.ConnectError):
            text = (
                f"Cannot reach the gateway at {host}: {reason}. Check your internet "
                f"connection and the gateway region in {PREFS_HINT}."
            )
        elif isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
            text = f"The connection to {host} broke while {doing} ({reason}): try again."
        else:
            text = f"Talking to the gateway at {host} failed while {doing}: {reason}"
        return GatewayError(text)

    def _json(self, response: httpx.Response) -> object:
        try:
            return response.json()
        except ValueError:
            snippet = server_message(response.content, response.headers.get("content-type", ""))
            raise GatewayError(
                f"The gateway at {self.host} sent an answer that is not JSON "
                f"({redact(snippet[:120], self._api_key) or 'empty'}): "
                "it may be down or behind a proxy; try again later.",
                status_code=response.status_code,
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
