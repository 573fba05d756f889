# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Who follows a journalled task: one process at a time, and never a dead one.

Each open journal has an owner token (random, 32 hex digits) and, once it owns a
task, holds the lock of ``owners/<token>.lock`` beside the journal for as long as
it lives. A task's entry names its owner's token (and, for people, its process
id). An owner whose lock file is missing or free is gone, however it ended
(quit, crash, SIGKILL, power loss): its tasks may be taken over. No clocks, no
heartbeats, no process ids to be reused.

Every method runs with the journal's lock held, so no process can see a lock file
between its creation and its locking, or one being removed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import uuid
from pathlib import Path

from .locking import is_held, open_lock_file, try_lock, unlock

log = logging.getLogger(__name__)

OWNERS = "owners"
TOKEN = re.compile(r"^[0-9a-f]{32}$")


def check_token(token: str) -> str:
    """``token`` if it can be an owner token (so, safely, part of a file name)."""
    if token and not TOKEN.fullmatch(token):
        raise ValueError("not an owner token")
    return token


class Owner:
    """This process's (this journal's) owner token and its lock file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder / OWNERS
        self.token = uuid.uuid4().hex
        self._fd: int | None = None

    def path(self, token: str) -> Path:
        return self.folder / f"{check_token(token)}.lock"

    @property
    def holding(self) -> bool:
        return self._fd is not None

    def hold(self) -> None:
        """Take our lock file, if not yet held. Raises OSError when it cannot be made:
        then the claim stands but dies with nothing to hold it (others may take over)."""
        if self._fd is not None:
            return
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = open_lock_file(self.path(self.token))
        if not try_lock(fd):  # a fresh random name: nobody else can hold it
            os.close(fd)
            raise OSError(f"the owner lock {self.token} is held already")
        self._fd = fd

    def release(self) -> None:
        """Let go of our tasks (Blender quits, the add-on is disabled)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        unlock(fd)
        os.close(fd)
        with contextlib.suppress(OSError):
            self.path(self.token).unlink()

    def alive(self, token: str) -> bool:
        """Whether the owner ``token`` still runs (this one does, of course)."""
        if not token:
            return False
        if token == self.token:
            return True
        try:
            return is_held(self.path(token))
        except (OSError, ValueError) as exc:  # unreadable: assume gone, as a crash would
            log.warning("gen404: the owner lock %s cannot be checked: %s", token, exc)
            return False

    def bury(self, token: str) -> None:
        """Remove the lock file of the owner ``token``, found gone."""
        if token and token != self.token:
            with contextlib.suppress(OSError, ValueError):
                self.path(token).unlink()

    def sweep(self) -> int:
        """Remove the lock files of owners that are gone; returns how many went."""
        gone = 0
        with contextlib.suppress(OSError):
            for path in self.folder.iterdir():
                token = path.name.removesuffix(".lock")
                if not TOKEN.fullmatch(token) or path.name == token or token == self.token:
                    continue
                if not self.alive(token):
                    self.bury(token)
                    gone += 1
        return gone
