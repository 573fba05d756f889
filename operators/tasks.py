"""Operators on the task list: cancel and clear."""

from __future__ import annotations

import bpy

from .. import session
from ..client.task_rows import RowState
from .returns import OperatorReturn


class GEN404_OT_cancel_task(bpy.types.Operator):
    """Stop waiting for a running 404 generation task"""

    bl_idname = "gen404.cancel_task"
    bl_label = "Cancel 404 Generations"
    bl_description = "Stop a running 404 generation; from a menu, stop every running one"
    bl_options = {"REGISTER"}

    job_id: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Task", description="The task to cancel; empty cancels every running task"
    )

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        tasks = session.get_session()
        if self.job_id:
            tasks.cancel(self.job_id)
            return {"FINISHED"}
        count = tasks.cancel_all()
        self.report({"INFO"}, f"404 Gen: cancelled {count} task(s)")
        return {"FINISHED"}


class GEN404_OT_resume_task(bpy.types.Operator):
    """Import a downloaded result (again), or resume a paused 404 task, without paying again"""

    bl_idname = "gen404.resume_task"
    bl_label = "Resume 404 Tasks"
    bl_description = (
        "Import results downloaded in an earlier session and resume paused 404 tasks "
        "(never submits them again); from a menu, all of them"
    )
    bl_options = {"REGISTER"}

    job_id: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Task", description="The task to resume; empty resumes every waiting one"
    )

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        tasks = session.get_session()
        tasks.start()
        keys = [self.job_id] if self.job_id else [e.job_id for e in tasks.waiting()]
        rows = [tasks.resume(key) for key in keys if key in tasks.entries]
        paused = [row for row in rows if row.state is RowState.PAUSED]
        if paused:
            self.report({"ERROR"}, f"404 Gen: {paused[0].status_text()}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"404 Gen: resumed {len(rows)} task(s)")
        return {"FINISHED"}


class GEN404_OT_clear_tasks(bpy.types.Operator):
    """Remove finished, failed and cancelled tasks from the 404 task list"""

    bl_idname = "gen404.clear_tasks"
    bl_label = "Clear Finished 404 Tasks"
    bl_description = "Remove finished, failed and cancelled tasks from the 404 task list"
    bl_options = {"REGISTER"}

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        session.get_session().clear_finished()
        return {"FINISHED"}


class GEN404_OT_wait_all(bpy.types.Operator):
    """Block until every 404 generation task has ended (for scripts)"""

    bl_idname = "gen404.wait_all"
    bl_label = "Wait for All 404 Tasks"
    bl_description = (
        "Block until every running 404 generation has finished and been imported "
        "(for scripts and background mode)"
    )
    bl_options = {"REGISTER"}

    timeout: bpy.props.FloatProperty(  # type: ignore[valid-type]
        name="Timeout",
        description="Give up waiting after this many seconds",
        default=600.0,
        min=0.0,
    )

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        tasks = session.get_session()
        if tasks.wait_all(self.timeout):
            return {"FINISHED"}
        self.report(
            {"ERROR"},
            f"404 Gen: {len(tasks.active())} task(s) still running after {self.timeout:g} s",
        )
        return {"CANCELLED"}
