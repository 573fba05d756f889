# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""ClientPool: one GatewayClient per gateway and key, shared by the jobs that use it.

Twenty jobs at once then ride one HTTP/2 connection (or a few HTTP/1.1 ones)
instead of twenty. httpx clients are thread-safe; a client is closed when its
last job lets go of it, so no connection outlives the work.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

from .gateway import GatewayClient
from .models import JobSettings

_Key = tuple[str, str, float, bool]


class ClientPool:
    def __init__(self, factory: Callable[[JobSettings], GatewayClient]) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._clients: dict[_Key, tuple[GatewayClient, int]] = {}

    def __repr__(self) -> str:  # never the keys: they hold API keys
        return f"ClientPool({len(self._clients)} client(s))"

    @staticmethod
    def _key(settings: JobSettings) -> _Key:
        return (settings.base_url, settings.api_key.strip(), settings.timeout_s, settings.http2)

    def acquire(self, settings: JobSettings) -> GatewayClient:
        key = self._key(settings)
        with self._lock:
            client, users = self._clients.get(key, (None, 0))
            if client is None:
                client = self._factory(settings)
            self._clients[key] = (client, users + 1)
            return client

    def release(self, client: GatewayClient) -> None:
        with self._lock:
            for key, (known, users) in list(self._clients.items()):
                if known is client:
                    if users > 1:
                        self._clients[key] = (known, users - 1)
                        return
                    del self._clients[key]
                    break
        with contextlib.suppress(Exception):
            client.close()

    def open_clients(self) -> int:
        with self._lock:
            return len(self._clients)

    def close_all(self) -> None:
        with self._lock:
            clients = [client for client, _ in self._clients.values()]
            self._clients.clear()
        for client in clients:
            with contextlib.suppress(Exception):
                client.close()
