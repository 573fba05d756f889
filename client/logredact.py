# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Keep API keys out of other libraries' debug logs.

hpack (under h2, under httpx) logs every header it encodes at DEBUG level,
``x-api-key`` included, and the Huffman-coded header block besides. A filter on
those libraries' loggers masks every key a GatewayClient was given (in any case) and drops the
coded header blocks. It costs nothing unless someone turns DEBUG logging on.
"""

from __future__ import annotations

import logging
import re
import threading

LOGGERS = (
    "hpack.hpack",
    "hpack.table",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpx",
)
MASK = "<api key>"

_keys: set[str] = set()
_lock = threading.Lock()
_installed = False


class KeyFilter(logging.Filter):
    """Masks known keys in a record; drops hpack's encoded header blocks."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("hpack") and str(record.msg).startswith("Encoded header"):
            return False
        with _lock:
            keys = tuple(_keys)
        if not keys:
            return True
        text = record.getMessage()
        masked = redact_keys(text, keys)
        if masked != text:
            record.msg, record.args = masked, None
        return True


def redact_keys(text: str, keys: tuple[str, ...]) -> str:
    """``text`` with each key masked, whatever its case."""
    pattern = "|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True))
    return re.sub(pattern, MASK, text, flags=re.IGNORECASE) if pattern else text


def protect(key: str) -> None:
    """Mask ``key`` in the HTTP libraries' log records from now on."""
    global _installed
    key = key.strip()
    if not key:
        return
    with _lock:
        _keys.add(key.lower())
        if _installed:
            return
        _installed = True
    shared = KeyFilter()
    for name in LOGGERS:
        logging.getLogger(name).addFilter(shared)
