# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""gen404.import_splat: splat files from disk (.ply, .spz, .splat) through the generations' builder.

Called from a script (``execute``) the import is synchronous: the operator
returns once the objects exist, so ``blender -b`` scripts and the ``bpy`` module
get them. Opened from the UI (file browser, drag and drop: ``invoke``) the files
are read and decoded on a worker thread while a modal timer shows progress, so
Blender stays responsive on a large capture; only the final copy into Blender
runs on the main thread. The reading half (``splats.loading``) needs no bpy; this
module keeps the Blender half: the modal timer, progress bar and building.
"""

from __future__ import annotations

import os
import queue
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import bpy
from bpy_extras.io_utils import ImportHelper

from ..scene import builder
from ..scene.webp import decode_webp
from ..splats.cloud import SplatCloud
from ..splats.loading import ImportJob, Loaded, problem_text
from ..splats.main_thread import MainThreadCalls
from ..splats.reader import SUPPORTED_EXTENSIONS, SUPPORTED_NAMES, open_rows
from ..splats.rows import CloudRows, RowSource
from ..splats.upright import AUTO, import_up
from .returns import OperatorReturn

UP_AXIS_ITEMS = [
    ("Y", "+Y", "+Y is up: 404's results"),
    ("-Y", "-Y", "-Y is up: Inria-style captures (OpenCV camera frame)"),
    ("Z", "+Z", "+Z is up: already Blender's frame"),
]
IMPORT_UP_AXIS_ITEMS = [
    (
        AUTO,
        "From File",
        "The up axis the file's format declares: +Y for 404's PLY and SPZ and for upstream "
        "SPZ (stored right-up-back), -Y for captures with higher SH, .splat and "
        "PlayCanvas's formats (as their viewers show them)",
    ),
    ("Y", "+Y", "The file's +Y is up: 404's results, upstream SPZ"),
    ("-Y", "-Y", "The file's -Y is up: Inria-style captures (OpenCV camera frame)"),
    ("Z", "+Z", "The file's +Z is up: already Blender's frame"),
]
FILTER_GLOB = ";".join([*(f"*{ext}" for ext in SUPPORTED_EXTENSIONS), *SUPPORTED_NAMES])
MENU_LABEL = "Gaussian Splat ({})".format("/".join(SUPPORTED_EXTENSIONS))
HANDLER_LABEL = "Gaussian Splat (404 Gen)"
IMPORT_NAME = f"Import {HANDLER_LABEL}"  # how Blender's chooser of importers for a drop names us

Report = Callable[[Any, str], None]
"""An operator's ``report``: (set of levels, message)."""

TIMER_SECONDS = 0.05
"""The modal import's tick: often enough for a smooth progress bar, cheap when idle."""


def _object_name(path: str) -> str:
    path = os.path.normpath(path)
    if os.path.basename(path).lower() in SUPPORTED_NAMES:  # an unbundled SOG: its folder's name
        path = os.path.dirname(path)
    return os.path.splitext(os.path.basename(path))[0] or "Splat"


# --- the main-thread half -----------------------------------------------------------------


@dataclass
class ImportOptions:
    """The operator's options, copied once: a modal import outlives the call that set them."""

    up_axis: str = AUTO
    standard_view: bool = True


def build_one(
    context: bpy.types.Context,
    path: str,
    source: SplatCloud | RowSource,
    options: ImportOptions,
    report: Report,
) -> bpy.types.Object:
    """Copy one file's splats into the scene (main thread); report what the user should know."""
    scene, view_layer = context.scene, context.view_layer
    assert scene is not None and view_layer is not None
    name = os.path.basename(os.path.normpath(path))  # a folder: its name
    rows = CloudRows(source) if isinstance(source, SplatCloud) else source
    obj = builder.build_object(
        scene,
        view_layer,
        rows,
        _object_name(path),
        up_axis=import_up(options.up_axis, rows.file_up, rows.file_frame),
        properties={"source": name},
        standard_view=options.standard_view,
        report=lambda text: report({"INFO"}, text),
        warn=lambda text: report({"WARNING"}, f"{name}: {text}"),
    )
    report({"INFO"}, f"Imported {obj[builder.SPLAT_COUNT_PROP]:,} splats from {name}")
    return obj


class ThreadedImport:
    """The modal side of a UI import: starts the worker, builds results as they arrive.

    ``step`` is what each timer tick runs; it never blocks. It builds at most one
    object per call, so the interface keeps breathing between big copies.
    """

    def __init__(
        self,
        paths: Sequence[str],
        options: ImportOptions,
        report: Report,
    ) -> None:
        # A SOG's WebP images go through Blender's loader, which only the main thread
        # may call: the worker hands each over and ``step`` serves them.
        self.main_calls = MainThreadCalls()
        self.job = ImportJob(paths, decode_webp=self.main_calls.wrap(decode_webp))
        self.options = options
        self.report = report
        self.objects: list[str] = []
        self.failures = 0
        self.finished = False

    def start(self, context: bpy.types.Context) -> None:
        self.job.start()
        context.window_manager.progress_begin(0.0, 1.0)  # type: ignore[union-attr]
        self._show(context)

    def step(self, context: bpy.types.Context) -> str:
        """'RUNNING', or once every file is handled 'FINISHED' / 'CANCELLED'."""
        self.main_calls.serve()
        try:
            loaded = self.job.results.get_nowait()
        except queue.Empty:
            self._show(context)
            return "RUNNING"
        if loaded is None or self.job.cancelled:
            return self._end(context)
        self._build(context, loaded)
        self._show(context)
        return "RUNNING"

    def cancel(self, context: bpy.types.Context) -> str:
        self.job.cancel()
        self.report({"WARNING"}, "Import cancelled")
        return self._end(context)

    def _build(self, context: bpy.types.Context, loaded: Loaded) -> None:
        if loaded.cloud is None:
            self.failures += 1
            self.report({"ERROR"}, problem_text(loaded.path, loaded.error or RuntimeError()))
            return
        cloud, loaded.cloud = loaded.cloud, None  # freed once Blender holds its copy
        try:
            obj = build_one(context, loaded.path, cloud, self.options, self.report)
        except Exception as exc:
            self.failures += 1
            self.report({"ERROR"}, problem_text(loaded.path, exc))
        else:
            self.objects.append(obj.name)

    def _show(self, context: bpy.types.Context) -> None:
        fraction, text = self.job.progress()
        context.window_manager.progress_update(fraction)  # type: ignore[union-attr]
        workspace = context.workspace
        if workspace is not None:
            workspace.status_text_set(f"Importing splats: {text} ({fraction:.0%}) - Esc cancels")

    def _end(self, context: bpy.types.Context) -> str:
        self.finished = True
        self.main_calls.close()
        context.window_manager.progress_end()  # type: ignore[union-attr]
        if context.workspace is not None:
            context.workspace.status_text_set(None)
        return "FINISHED" if self.objects else "CANCELLED"


# --- the operator -------------------------------------------------------------------------


class GEN404_OT_import_splat(bpy.types.Operator, ImportHelper):  # type: ignore[misc]
    """Import 3D Gaussian splat files (.ply, .spz, .splat, .sog) as splat objects"""

    bl_idname = "gen404.import_splat"
    bl_label = IMPORT_NAME
    bl_description = (
        "Import 3D Gaussian splat files (.ply, .spz, .splat, .sog or a SOG's meta.json) as "
        "splat objects at the 3D cursor"
    )
    bl_options = {"REGISTER", "UNDO", "PRESET"}

    filename_ext = ".ply"
    filter_glob: bpy.props.StringProperty(default=FILTER_GLOB, options={"HIDDEN"})  # type: ignore[valid-type]
    directory: bpy.props.StringProperty(subtype="DIR_PATH", options={"HIDDEN", "SKIP_SAVE"})  # type: ignore[valid-type]
    files: bpy.props.CollectionProperty(  # type: ignore[valid-type]
        type=bpy.types.OperatorFileListElement, options={"HIDDEN", "SKIP_SAVE"}
    )
    up_axis: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Up Axis",
        description=(
            "Which axis of the file points up: what its format declares, or one of its own "
            "axes for a file that breaks its format's convention"
        ),
        items=IMPORT_UP_AXIS_ITEMS,
        default=AUTO,
    )
    standard_view: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Standard View Transform",
        description=(
            "Switch the scene from AgX/Filmic to the Standard view transform, so the splats' "
            "display-referred colours look as they do in a splat viewer"
        ),
        default=True,
    )
    use_worker: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Read in Background",
        description="Read and decode on a worker thread with progress (set when run from the UI)",
        default=False,
        options={"HIDDEN", "SKIP_SAVE"},
    )

    _importer: ThreadedImport | None = None
    _timer: Any = None

    def paths(self) -> list[str]:
        """Every chosen file: the multi-file selection, or ``filepath`` alone."""
        directory = bpy.path.abspath(self.directory) if self.directory else ""  # type: ignore[attr-defined]
        names = [f.name for f in self.files if f.name]
        if directory and names:
            return [os.path.join(directory, name) for name in names]
        return [bpy.path.abspath(self.filepath)] if self.filepath else []  # type: ignore[attr-defined]

    def import_options(self) -> ImportOptions:
        return ImportOptions(up_axis=self.up_axis, standard_view=self.standard_view)

    def invoke(  # type: ignore[override]
        self, context: bpy.types.Context, event: bpy.types.Event
    ) -> OperatorReturn:
        self.use_worker = True
        # Dropped on the viewport (the path is set): ask for the options, then import;
        # from a menu: the file browser.
        return self.invoke_popup(context)  # type: ignore[return-value]

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        paths = self.paths()
        if not paths:
            self.report({"ERROR"}, "Choose a .ply, .spz, .splat or .sog file to import")
            return {"CANCELLED"}
        if self.use_worker and context.window is not None and not bpy.app.background:
            return self._start_modal(context, paths)
        return self._import_now(context, paths)

    def _import_now(self, context: bpy.types.Context, paths: list[str]) -> OperatorReturn:
        built, problems = 0, []
        for path in paths:
            try:
                # Binary PLYs stream from disk straight into Blender's memory.
                source = open_rows(path, decode_webp=decode_webp)
                try:
                    build_one(context, path, source, self.import_options(), self.report)
                finally:
                    source.close()
            except Exception as exc:  # one bad file must not stop the others
                problems.append(problem_text(path, exc))
            else:
                built += 1
        # An error makes a script's bpy.ops call raise: only when nothing was imported.
        for problem in problems:
            self.report({"WARNING"} if built else {"ERROR"}, problem)
        return {"FINISHED"} if built else {"CANCELLED"}

    def _start_modal(self, context: bpy.types.Context, paths: list[str]) -> OperatorReturn:
        wm: Any = context.window_manager
        self._importer = ThreadedImport(paths, self.import_options(), self.report)
        self._importer.start(context)
        self._timer = wm.event_timer_add(TIMER_SECONDS, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> OperatorReturn:
        importer = self._importer
        assert importer is not None
        if event.type == "ESC" and event.value == "PRESS":
            state = importer.cancel(context)
        elif event.type == "TIMER":
            state = importer.step(context)
        else:
            return {"PASS_THROUGH"}
        if state == "RUNNING":
            return {"RUNNING_MODAL"}
        context.window_manager.event_timer_remove(self._timer)  # type: ignore[union-attr]
        return {"FINISHED"} if state == "FINISHED" else {"CANCELLED"}


def _poll_drop(context: bpy.types.Context) -> bool:
    area = context.area
    return area is not None and area.type == "VIEW_3D"


class GEN404_FH_splat(bpy.types.FileHandler):
    """Dropping splat files on the 3D Viewport imports them (on 5.3, where Blender's own
    .spz and .ply handlers take them too, Blender offers both by their operators' names)."""

    bl_idname = "GEN404_FH_splat"
    bl_label = HANDLER_LABEL
    bl_import_operator = "gen404.import_splat"
    bl_file_extensions = ";".join(SUPPORTED_EXTENSIONS)

    @classmethod
    def poll_drop(cls, context: bpy.types.Context | None) -> bool:
        return context is not None and _poll_drop(context)
