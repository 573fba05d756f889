# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Advisory locks between processes on one user folder: ``fcntl.flock`` on POSIX,
``msvcrt.locking`` on Windows.

Both kinds belong to an open file, not to a path, and the operating system lets go
of them when the process ends however it ends (a SIGKILLed or crashed Blender
included), so a lock file can never be left "locked" by a process that is gone.
``flock`` locks of two open files conflict even inside one process, like Windows'
locks, so two journals opened in one process (tests) behave as two processes would.
Lock files are opened without following a symbolic link and created private (0600).
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, 0, os.SEEK_SET)  # msvcrt locks bytes from the current position
        try:  # one byte, past the end of an empty file: Windows allows that
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError as exc:
            if exc.errno in (errno.EACCES, getattr(errno, "EDEADLOCK", errno.EDEADLK)):
                return False
            raise
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return False
            raise
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


_FLAGS = os.O_RDWR | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)


class LockTimeout(OSError):
    """Another process held the lock for longer than the caller would wait."""


def open_lock_file(path: Path, *, create: bool = True) -> int:
    """A descriptor of the lock file ``path`` (created 0600 when missing and ``create``).

    Raises FileNotFoundError when it is missing and not to be created, and OSError
    (ELOOP) when a symbolic link stands in its place."""
    return os.open(path, _FLAGS | (os.O_CREAT if create else 0), 0o600)


def try_lock(fd: int) -> bool:
    """Lock ``fd`` at once if no other open file holds it; False if one does."""
    return _try_lock(fd)


def unlock(fd: int) -> None:
    with contextlib.suppress(OSError):
        _unlock(fd)


@contextlib.contextmanager
def locked(path: Path, timeout: float, poll: float = 0.01) -> Iterator[None]:
    """Hold the lock file ``path`` for the ``with`` block, waiting up to ``timeout``
    seconds for another process to let go (LockTimeout after that)."""
    fd = open_lock_file(path)
    try:
        end = time.monotonic() + timeout
        while not try_lock(fd):
            if time.monotonic() >= end:
                raise LockTimeout(errno.EAGAIN, f"{path.name} is held by another process")
            time.sleep(poll)
            poll = min(poll * 2, 0.1)
        try:
            yield
        finally:
            unlock(fd)
    finally:
        os.close(fd)


def is_held(path: Path) -> bool:
    """Whether some open file (another process, or another owner here) holds ``path``.

    False when the file does not exist; a file found free is left as it was."""
    try:
        fd = open_lock_file(path, create=False)
    except FileNotFoundError:
        return False
    try:
        if try_lock(fd):
            unlock(fd)
            return False
        return True
    finally:
        os.close(fd)
