# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""gen404.generate_batch: several prompts at once, laid out in a grid as they land.

Every prompt is checked before anything is sent; the tasks then go through the
runner's line (client/slots.py), as the account's concurrent limit allows, and each
result is put in its cell when it lands (scene/grid.py).
"""

from __future__ import annotations

from typing import Any

import bpy

from .. import model_choices, preferences, session
from ..client.endpoints import host_of
from ..client.errors import GatewayError
from ..client.generation import RANDOM_SEED
from ..client.models import GenerationRequest
from ..client.prompt_list import MAX_PROMPTS, read_batch
from ..client.task_rows import RowState, TaskEntry
from ..scene.grid_layout import Cell, Grid, columns_for
from .generate import object_name_for
from .options import SendingOperator, call_argument, seed_property, wait_property
from .outcome import done, failed
from .returns import OperatorReturn


class GEN404_OT_generate_batch(SendingOperator):
    """Generate one 3D Gaussian splat per prompt, laid out in a grid, with 404.xyz"""

    bl_idname = "gen404.generate_batch"
    bl_label = "Generate Batch (404 Gen)"
    bl_description = (
        f"Generate up to {MAX_PROMPTS} prompts at once, one per line of a text: sent as "
        "your 404 account's concurrent limit allows, the results laid out in a grid "
        "from the 3D cursor, in prompt order"
    )

    prompts: call_argument(  # type: ignore[valid-type]
        "Prompts", "The prompts, one per line (blank lines and surrounding spaces ignored)"
    )
    text_name: call_argument(  # type: ignore[valid-type]
        "Text", "The text (Text Editor) holding the prompts, one per line"
    )
    model: model_choices.model_property()  # type: ignore[valid-type]
    seed: seed_property(  # type: ignore[valid-type]
        "-1 draws a random seed for each prompt (recorded with its result); "
        "any other seed N gives the prompts N, N+1, N+2... in order"
    )
    columns: bpy.props.IntProperty(  # type: ignore[valid-type]
        name="Columns",
        description="Results per row of the grid; 0: about as many rows as columns",
        default=0,
        min=0,
        max=MAX_PROMPTS,
    )
    wait: wait_property()  # type: ignore[valid-type]

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> OperatorReturn:
        if not self.prompts and not self.text_name:
            # From F3 or a menu: the sidebar's text and choices, or ask for a text.
            take_batch_choices(self, context.window_manager.gen404)  # type: ignore[union-attr]
            if not self.text_name:
                return context.window_manager.invoke_props_dialog(self)  # type: ignore[union-attr, return-value]
        return self.execute(context)

    def draw(self, context: bpy.types.Context) -> None:
        layout: Any = self.layout
        layout.prop_search(self, "text_name", bpy.data, "texts", icon="TEXT")
        layout.label(text="One prompt per line", icon="INFO")
        layout.prop(self, "model")
        layout.prop(self, "seed")
        layout.prop(self, "columns")

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        try:
            requests = self._requests()
            settings = preferences.sending_settings(context)
        except GatewayError as exc:
            return failed(self, exc)
        scene = context.scene
        assert scene is not None
        cursor, count = scene.cursor.location, len(requests)
        grid = Grid(count, columns_for(count, self.columns), (cursor.x, cursor.y), cursor.z)
        tasks, host = session.get_session(), host_of(settings.base_url)
        entries: list[TaskEntry] = []
        try:
            for index, request in enumerate(requests):
                label = object_name_for(request.prompt or "", "")
                entry = tasks.submit(request, settings, label, "prompt", host)
                entry.grid_cell = Cell(grid, index)
                entries.append(entry)
        except GatewayError as exc:  # not expected after the checks: say what was sent
            return failed(self, f"{len(entries)} of {len(requests)} prompts sent: {exc}")
        if not self.wait:
            return done(self, f"generating {len(entries)} prompts, sent as your account allows")
        return self._wait(entries, settings.deadline_s + 120.0)

    def _requests(self) -> list[GenerationRequest]:
        """One request per prompt, every one checked: raises GatewayError, nothing sent."""
        if self.prompts.strip() and self.text_name:
            raise GatewayError("Give the prompts or a text's name, not both.")
        text = self.prompts
        if self.text_name:
            found = bpy.data.texts.get(self.text_name)
            if found is None:
                raise GatewayError(
                    f"There is no text named '{self.text_name}': write the prompts in the "
                    "Text Editor, one per line, and choose that text."
                )
            text = found.as_string()
        return read_batch(text, self.model, self.seed)

    def _wait(self, entries: list[TaskEntry], timeout: float) -> OperatorReturn:
        """Block until every task of the batch has ended (scripts, background mode)."""
        tasks = session.get_session()
        # Each wait starts when the one before has ended: the line sends them in order.
        ended = [tasks.wait(entry.job_id, timeout) for entry in entries]
        missing = [e for e in ended if e.state is not RowState.DONE]
        if not missing:
            return done(self, f"the {len(ended)} results are in the scene")
        first = missing[0]
        return failed(
            self,
            f"{len(ended) - len(missing)} of {len(ended)} results are in the scene; "
            f"'{first.label}': {first.status_text()}"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""),
        )


def take_batch_choices(op: Any, state: Any) -> None:
    """Copy the sidebar's batch text, model and seed onto the operator ``op``."""
    op.text_name, op.model = state.batch_text, state.model
    op.seed = RANDOM_SEED if state.random_seed else state.seed
