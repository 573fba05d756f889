"""The ASGI application: turns ASGI events into Request/Response and applies faults."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs

from .admin import handle_admin
from .handlers import Limits, Request, Response, handle
from .state import Fault, SimState

Scope = dict[str, Any]
Receive = Any
Send = Any

DRAIN_CAP = 64 * 1024 * 1024
"""Bytes read past the request limit before giving up; reading on lets the 413 arrive."""


async def read_body(receive: Receive, limit: int) -> tuple[bytes, bool]:
    """The request body (empty if over ``limit``) and whether it was over the limit."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        elif size > DRAIN_CAP:
            break
        if not message.get("more_body", False):
            break
    if size > limit:
        return b"", True
    return b"".join(chunks), False


async def apply_fault(fault: Fault, send: Send) -> bool:
    """Play ``fault``; True if it answered the request, False to run the real handler.

    It gets ``send`` so that later kinds can break the response itself (cut the
    body short, reset the stream) rather than only replace it.
    """
    if fault.delay_s > 0:
        await asyncio.sleep(fault.delay_s)
    if fault.kind == "delay":
        return False
    if fault.kind == "respond":
        headers = list(fault.headers)
        content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
        headers = [(k, v) for k, v in headers if k.lower() != "content-type"]
        canned = Response(fault.status, fault.body, content_type or "text/plain", headers)
        await send_response(send, canned)
        return True
    raise ValueError(f"fault kind {fault.kind!r} is not implemented")


async def send_response(send: Send, response: Response) -> None:
    headers = [(b"content-type", response.content_type.encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in response.headers]
    headers.append((b"content-length", str(len(response.body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


class GatewayApp:
    """ASGI app serving the gateway endpoints plus ``/_sim/`` controls from one SimState."""

    def __init__(self, state: SimState, result: bytes, limits: Limits | None = None) -> None:
        self.state = state
        self.result = result
        self.limits = limits or Limits()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        body, too_large = await read_body(receive, self.limits.max_request_bytes)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        req = Request(
            method=scope["method"],
            path=scope["path"],
            query=query,
            headers=headers,
            body=body,
            http_version=scope["http_version"],
            body_too_large=too_large,
        )
        if req.path.startswith("/_sim/"):
            await send_response(send, handle_admin(req, self.state))
            return
        self.state.count_request(req.path, req.http_version)
        fault = self.state.take_fault(req.path)
        if fault is not None and await apply_fault(fault, send):
            return
        await send_response(send, handle(req, self.state, self.limits, self.result))
