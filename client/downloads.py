# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""One result download: stream into a partial file, then move it into the cache.

Only a complete file (length checked, flushed to disk) ever gets a cache name; a
failed, cut or cancelled attempt leaves nothing behind. Retrying is the caller's
(see jobs.py): results stay on the gateway about 5 minutes.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from .cache import ResultCache
from .errors import GatewayError
from .gateway import GatewayClient
from .models import DEFAULT_MAX_DOWNLOAD_BYTES


def download_result(
    client: GatewayClient,
    task_id: str,
    fmt: str,
    cache: ResultCache,
    *,
    max_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
    cancel: threading.Event | None = None,
    deadline: float | None = None,
) -> Path:
    """Download the task's result into ``cache``; returns the cached file. Cancelled
    within about a second of ``cancel``; ends by ``deadline`` (time.monotonic())."""
    cache.path_for(task_id, fmt)  # the id and format are checked before any request
    try:
        tmp, handle = cache.new_partial()
    except OSError as exc:
        raise GatewayError(
            f"Cannot write downloads into {cache.folder} ({exc.strerror or exc}): "
            "check that the folder is writable and the disk has space."
        ) from exc
    try:
        with handle:
            client.stream_result(
                task_id, fmt, handle, max_bytes=max_bytes, cancel=cancel, deadline=deadline
            )
            handle.flush()
            os.fsync(handle.fileno())
        return cache.put_from_temp(tmp, task_id, fmt)
    except OSError as exc:
        raise GatewayError(
            f"The download could not be saved in {cache.folder} ({exc.strerror or exc}): "
            "free some disk space and try again."
        ) from exc
    finally:
        tmp.unlink(missing_ok=True)  # gone already when it was moved into the cache
