# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Which way is up in each kind of splat file: the one table, and the import's rule (no bpy).

Readers turn every file into the PLY frame (``frames.py``) and declare two things
on the cloud they return: ``file_frame``, the axes the values were converted from
(``PLY_FRAME``: none, the values are as stored), and ``file_up``, the file's own
axis that points up by its format's convention (the table below). An import "From
File" stands the splats upright by that declaration; an explicit choice (+Y, -Y,
+Z) names the file's own axis too, for files that break their format's
convention. Either way ``ply_frame_up`` turns it into the up axis of the converted
values, which is what the scene builder and the export work with: the conversion
into the PLY frame happens once, in the reader, and is never undone or repeated.

Up, per format, is what the format's own producer shows (facts gathered from the
producers' sources, see ``UPRIGHT``):

- 404's PLY and 404's zstd SPZ: +Y up (404's generators; the gateway's SPZ shares
  the PLY's frame).
- Upstream SPZ: stored right-up-back (RUB), so +Y is up; Niantic's library and
  Blender 5.3's ``wm.spz_import`` stand it so (file x, y, z -> Blender x, -z, y). An
  SPZ whose coordinate-system extension names another frame: that frame's up.
- PLY captures, .splat, PlayCanvas compressed PLY and SOG: -Y up, the OpenCV
  camera convention (y down) every one of their viewers assumes: Inria's SIBR and
  antimatter15's viewer look through OpenCV cameras, SuperSplat (PlayCanvas, +Y
  up) turns every one of these formats 180 degrees about Z (splat-transform's
  ``Transform.PLY``), which puts the file's -Y up.

A PLY carries no frame, so the evidence is its content: 404's results are SH
degree 0, while captures trained by Inria's code (and the files SuperSplat and
splat-transform write from them) keep higher SH bands. A degree-0 capture is the
case the explicit choice is for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

import numpy as np

from .frames import PLY_FRAME, frame_matrix

AUTO = "AUTO"
"""The import's up-axis choice that takes the file's own declaration."""

FILE_UP_AXES = ("Y", "-Y", "Z")
"""The file axes a user can name as up."""


class Declared(TypedDict):
    """A reader's ``file_up`` and ``file_frame``, to pass on to SplatCloud."""

    file_up: str
    file_frame: str


@dataclass(frozen=True)
class Upright:
    """How one kind of file stands: its up axis (in its own axes) and the frame it stores."""

    file_up: str
    file_frame: str
    why: str

    def declared(self) -> Declared:
        """The SplatCloud fields a reader of this kind fills in."""
        return Declared(file_up=self.file_up, file_frame=self.file_frame)


UPRIGHT = {
    "404 ply": Upright(
        "Y", PLY_FRAME, "404's generators write +Y up; SH degree 0 with no higher bands"
    ),
    "ply capture": Upright(
        "-Y",
        PLY_FRAME,
        "captures trained by Inria's code (higher SH bands) use the OpenCV camera frame, y down, "
        "as Inria's viewer and SuperSplat show them",
    ),
    "splat": Upright(
        "-Y", PLY_FRAME, "antimatter15's viewer, which defined .splat, uses OpenCV cameras (y down)"
    ),
    "spz": Upright(
        "Y",
        "RUB",
        "upstream SPZ is stored right-up-back; Niantic's library and Blender 5.3's "
        "wm.spz_import stand it with +Y up",
    ),
    "404 spz": Upright("Y", PLY_FRAME, "404's zstd SPZ shares 404's PLY frame, +Y up"),
    "compressed ply": Upright(
        "-Y", PLY_FRAME, "SuperSplat turns PlayCanvas's formats 180 degrees about Z: -Y up"
    ),
    "sog": Upright(
        "-Y", PLY_FRAME, "SuperSplat turns PlayCanvas's formats 180 degrees about Z: -Y up"
    ),
}
"""Up and stored frame per kind of file; readers declare their entry on what they return."""


def ply_upright(sh_degree: int) -> Upright:
    """A plain PLY's entry: a capture if it keeps higher SH bands, else one of 404's."""
    return UPRIGHT["ply capture" if sh_degree > 0 else "404 ply"]


def frame_up(frame: str) -> str:
    """The up axis a frame's name declares, in its own axes: 'Y' for RUB, '-Z' for RBD."""
    letters = frame.upper()
    for axis, letter in enumerate(letters):
        if letter in "UD":
            return ("" if letter == "U" else "-") + "XYZ"[axis]
    raise ValueError(f"{frame!r} names no up or down axis")


def ply_frame_up(file_up: str, file_frame: str) -> str:
    """The up axis of values converted from ``file_frame`` into the PLY frame, given the
    file's own ``file_up``: 'Y' of an RUB file is '-Y' of the PLY frame."""
    sign = -1.0 if file_up.startswith("-") else 1.0
    axis = "XYZ".index(file_up.lstrip("+-").upper())
    direction = sign * frame_matrix(file_frame)[:, axis]
    index = int(np.argmax(np.abs(direction)))
    if index == 0:
        raise ValueError(f"up axis {file_up} of a {file_frame} file is sideways in Blender")
    return ("-" if direction[index] < 0 else "") + "XYZ"[index]


def import_up(choice: str, file_up: str, file_frame: str) -> str:
    """The up axis (of the values as read) an import uses: the file's declaration for
    ``AUTO``, else ``choice``, a file axis; both translated through the file's frame."""
    return ply_frame_up(file_up if choice == AUTO else choice, file_frame)
