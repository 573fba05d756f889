"""The ASGI application: turns ASGI events into Request/Response and applies faults."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
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


Client = tuple[str, int] | None
KillConnection = Callable[[Client], bool]
FLUSH_S = 0.05
"""Time for bytes already handed to the transport to reach the client before a cut."""


def _cut(fault: Fault, body: bytes) -> int:
    return len(body) // 2 if fault.cut_at < 0 else min(fault.cut_at, len(body))


async def _start(send: Send, response: Response) -> None:
    headers = [(b"content-type", response.content_type.encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in response.headers]
    headers.append((b"content-length", str(len(response.body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})


async def _cut_connection(kill: KillConnection, client: Client) -> None:
    await asyncio.sleep(FLUSH_S)
    kill(client)
    await asyncio.sleep(FLUSH_S)  # let the server notice before the app returns


async def apply_fault(
    fault: Fault,
    send: Send,
    real: Callable[[], Response],
    kill: KillConnection,
    client: Client,
) -> None:
    """Answer the request the way ``fault`` says; ``real()`` runs the real handler."""
    if fault.kind in ("respond", "delay") and fault.delay_s > 0:
        await asyncio.sleep(fault.delay_s)
    if fault.kind == "respond":
        headers = list(fault.headers)
        content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
        headers = [(k, v) for k, v in headers if k.lower() != "content-type"]
        canned = Response(fault.status, fault.body, content_type or "text/plain", headers)
        await send_response(send, canned)
        return
    if fault.kind in ("delay", "expire"):
        await send_response(send, real())
        return
    if fault.kind == "trickle" and fault.body:
        headers = [(k, v) for k, v in fault.headers if k.lower() != "content-type"]
        content_type = next((v for k, v in fault.headers if k.lower() == "content-type"), "")
        response = Response(fault.status, fault.body, content_type or "text/plain", headers)
    else:
        response = real()
    if fault.kind == "trickle":
        await _start(send, response)
        step = max(1, fault.cut_at)
        for start in range(0, len(response.body), step):
            await send(
                {
                    "type": "http.response.body",
                    "body": response.body[start : start + step],
                    "more_body": True,
                }
            )
            await asyncio.sleep(fault.delay_s)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    if fault.kind == "drop":
        await _cut_connection(kill, client)
        return
    cut = _cut(fault, response.body)
    await _start(send, response)
    await send({"type": "http.response.body", "body": response.body[:cut], "more_body": True})
    if fault.kind == "reset":
        await _cut_connection(kill, client)
    elif fault.kind == "short":
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    elif fault.kind == "stall":
        await asyncio.sleep(fault.delay_s)
        await send({"type": "http.response.body", "body": response.body[cut:]})
    else:
        raise ValueError(f"fault kind {fault.kind!r} is not implemented")


async def send_response(send: Send, response: Response) -> None:
    await _start(send, response)
    await send({"type": "http.response.body", "body": response.body})


class GatewayApp:
    """ASGI app serving the gateway endpoints plus ``/_sim/`` controls from one SimState."""

    def __init__(self, state: SimState, result: bytes, limits: Limits | None = None) -> None:
        self.state = state
        self.result = result
        self.limits = limits or Limits()
        self.kill_connection: KillConnection = lambda client: False
        """Set by the server: cut the TCP connection of a client (host, port)."""

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
        client = scope.get("client")
        self.state.count_request(
            req.path,
            req.http_version,
            task_id=req.param("id"),
            client=f"{client[0]}:{client[1]}" if client else "",
            origin=req.headers.get("x-client-origin"),
        )
        fault = self.state.take_fault(req.path)
        if fault is None:
            await send_response(send, handle(req, self.state, self.limits, self.result))
            return
        if fault.kind == "expire":
            self.state.forget_task(req.param("id"))
        await apply_fault(
            fault,
            send,
            lambda: handle(req, self.state, self.limits, self.result),
            self.kill_connection,
            scope.get("client"),
        )
