# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Where the add-on keeps its files outside Blender's own user folder logic.

Inside Blender the caller passes ``bpy.utils.extension_path_user(...)``; everywhere
else (tests, tools, plain Python) ``default_user_folder()`` is the stand-in. Nothing
here creates a folder: that happens on a worker thread when a file is first written.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ENV_USER_FOLDER = "GEN404_USER_FOLDER"
RESULTS = "results"
JOURNAL = "tasks.json"


def default_user_folder() -> Path:
    """``$GEN404_USER_FOLDER``, else ``gen404`` in the platform's per-user cache folder."""
    override = os.environ.get(ENV_USER_FOLDER, "").strip()
    if override:
        return Path(override).expanduser()
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = home / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or home / ".cache")
    return base / "gen404"


def results_folder(user_folder: str | os.PathLike[str]) -> Path:
    """The result cache (and its partial downloads) inside the user folder."""
    return Path(user_folder) / RESULTS


def journal_path(user_folder: str | os.PathLike[str]) -> Path:
    return Path(user_folder) / JOURNAL
