"""Named fault recipes: the misbehaviours of docs/faults.md, one function each.

In-process: ``sim.add_fault("/get_status", faults.too_many_requests(retry_after="2"))``.
From another process: ``POST /_sim/fault {"path": "/get_status", "name":
"too_many_requests", "retry_after": "2"}``. Faults that are not about one answer
are simulator knobs: ``sim.drop_connections(n)`` (reset in the TLS handshake),
``sim.set_stage_seconds(math.inf)`` (NoResult forever), ``sim.fail_next(reason)``
(Failure with a reason), ``GatewaySimulator(http2=False)`` (HTTP/1.1 only), and any
second ``GatewaySimulator`` whose CA is not in SSL_CERT_FILE (untrusted certificate).
"""

from __future__ import annotations

import functools
import json
import zlib

from .state import Fault

JSON = (("content-type", "application/json"),)
HTML = (("content-type", "text/html; charset=utf-8"),)


def too_many_requests(retry_after: str | None = None) -> Fault:
    """429 with the gateway's JSON body, with or without a Retry-After header."""
    body = json.dumps({"error": "rate_limited", "message": "Too many requests"}).encode()
    headers = JSON + ((("retry-after", retry_after),) if retry_after is not None else ())
    return Fault(status=429, body=body, headers=headers)


def server_error(status: int = 500) -> Fault:
    """A plain-text 5xx (use several for a burst: ``[server_error(s) for s in ...]``)."""
    words = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
    return Fault(status=status, body=words.get(status, "Server Error").encode())


def queue_full() -> Fault:
    return Fault(status=503, body=b"Service unavailable: Task queue is full")


def _account(status: int, kind: str, message: str) -> Fault:
    body = json.dumps({"error": kind, "message": message}).encode()
    return Fault(status=status, body=body, headers=JSON)


def login_required() -> Fault:
    """401: the account must log in (JSON ``login_required``)."""
    return _account(401, "login_required", "Please log in to continue")


def insufficient_balance() -> Fault:
    """402: out of balance (JSON ``insufficient_balance``)."""
    return _account(402, "insufficient_balance", "Insufficient balance for this task")


def concurrent_limit() -> Fault:
    """429: the account runs too many tasks at once (also: ``sim.set_max_concurrent``)."""
    return _account(429, "concurrent_limit", "Too many concurrent tasks for this account")


def daily_limit() -> Fault:
    """429: no more tasks today."""
    return _account(429, "daily_limit", "Daily task limit reached")


def pricing_unavailable() -> Fault:
    """503: the gateway has not loaded its prices."""
    return _account(503, "pricing_unavailable", "Pricing is temporarily unavailable")


def html_error_page(status: int = 502) -> Fault:
    """A proxy's HTML error page instead of the gateway's answer."""
    page = (
        b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title>"
        b"<style>body{font-family:sans-serif}</style></head>"
        b"<body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>"
    )
    return Fault(status=status, body=page, headers=HTML)


def invalid_json() -> Fault:
    """200 with a body that is not JSON (cut off mid-object)."""
    return Fault(status=200, body=b'{"status": "Succ', headers=JSON)


def unknown_status(name: str = "Paused") -> Fault:
    return Fault(status=200, body=json.dumps({"status": name}).encode(), headers=JSON)


def slow_response(delay_s: float) -> Fault:
    """No answer for ``delay_s`` (make it longer than the client's timeout)."""
    return Fault(kind="delay", delay_s=delay_s)


def slow_body(delay_s: float, cut_at: int = -1) -> Fault:
    """Headers and part of the body at once, the rest after ``delay_s``."""
    return Fault(kind="stall", delay_s=delay_s, cut_at=cut_at)


def reset_mid_body(cut_at: int = -1) -> Fault:
    return Fault(kind="reset", cut_at=cut_at)


def short_body(cut_at: int = -1) -> Fault:
    return Fault(kind="short", cut_at=cut_at)


def answer_lost() -> Fault:
    """The request is carried out (an add_task is charged), the answer never arrives."""
    return Fault(kind="drop")


def expired() -> Fault:
    """The task is forgotten just before this request: get_result answers 404."""
    return Fault(kind="expire")


def trickle(interval_s: float = 0.4, piece: int = 1, status_body: str = "") -> Fault:
    """The real answer (or ``{"status": status_body}`` padded to 40 bytes), ``piece``
    bytes every ``interval_s``: each read gets a byte long before a per-read timeout."""
    if not status_body:
        return Fault(kind="trickle", delay_s=interval_s, cut_at=piece)
    body = json.dumps({"status": status_body}).encode().ljust(40)
    return Fault(
        kind="trickle", delay_s=interval_s, cut_at=piece, body=body, status=200, headers=JSON
    )


@functools.lru_cache(maxsize=8)
def bomb_bytes(encoding: str, decoded_bytes: int, status: str = "NoResult") -> bytes:
    """``{"status": "<status>"`` + spaces + ``}`` (valid JSON, ``decoded_bytes`` long)
    compressed with ``encoding`` (``zstd``, ``gzip`` or ``deflate``): kilobytes on
    the wire, gigabytes unpacked."""
    head = json.dumps({"status": status}).encode()[:-1]
    fill = decoded_bytes - len(head) - 1
    step = b" " * min(16 * 2**20, max(fill, 1))
    if encoding == "zstd":
        import zstandard

        packer = zstandard.ZstdCompressor(level=3).compressobj()
        finish = packer.flush
    elif encoding in ("gzip", "deflate"):
        wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
        packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
        finish = packer.flush
    else:
        raise ValueError(f"unknown encoding {encoding!r}")
    out = [packer.compress(head)]
    while fill > 0:
        piece = step[: min(fill, len(step))]
        out.append(packer.compress(piece))
        fill -= len(piece)
    out.append(packer.compress(b"}"))
    out.append(finish())
    return b"".join(out)


def compressed_bomb(
    encoding: str = "zstd",
    decoded_bytes: int = 2**30,
    status: int = 200,
    task_status: str = "NoResult",
) -> Fault:
    """An answer with ``content-encoding: <encoding>`` that unpacks to ``decoded_bytes``
    (sent whatever the client's Accept-Encoding said). As a 503 it is an error page."""
    body = bomb_bytes(encoding, decoded_bytes, task_status)
    return Fault(status=status, body=body, headers=(*JSON, ("content-encoding", encoding)))


def deep_json(depth: int = 100_000, status: int = 200) -> Fault:
    """``[[[[...]]]]`` nested ``depth`` deep: a recursive parser runs out of stack."""
    return Fault(status=status, body=b"[" * depth + b"]" * depth, headers=JSON)


def huge_partial(digits: int = 5000) -> Fault:
    """``PartialResult(999...9)`` with ``digits`` digits (more than int() takes)."""
    return Fault(
        status=200,
        body=json.dumps({"status": f"PartialResult({'9' * digits})"}).encode(),
        headers=JSON,
    )


def echo_text(text: str, status: int = 400) -> Fault:
    """A plain-text error saying ``text`` (e.g. the client's key, changed or padded)."""
    return Fault(status=status, body=text.encode())


RECIPES = {
    "too_many_requests": too_many_requests,
    "server_error": server_error,
    "queue_full": queue_full,
    "login_required": login_required,
    "insufficient_balance": insufficient_balance,
    "concurrent_limit": concurrent_limit,
    "daily_limit": daily_limit,
    "pricing_unavailable": pricing_unavailable,
    "html_error_page": html_error_page,
    "invalid_json": invalid_json,
    "unknown_status": unknown_status,
    "slow_response": slow_response,
    "slow_body": slow_body,
    "reset_mid_body": reset_mid_body,
    "short_body": short_body,
    "answer_lost": answer_lost,
    "expired": expired,
    "trickle": trickle,
    "compressed_bomb": compressed_bomb,
    "deep_json": deep_json,
    "huge_partial": huge_partial,
    "echo_text": echo_text,
}


def recipe(body: dict) -> Fault:
    """The Fault named by ``body["name"]``, with the other keys (but path/count) as arguments."""
    make = RECIPES.get(str(body["name"]))
    if make is None:
        raise ValueError(f"unknown fault {body['name']!r}; known: {sorted(RECIPES)}")
    args = {k: v for k, v in body.items() if k not in ("name", "path", "count")}
    return make(**args)
