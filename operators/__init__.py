# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Operators, registered in order by ``registration``."""

from .convert import GEN404_OT_convert_to_native
from .export_splat import GEN404_OT_export_splat
from .generate import GEN404_OT_generate
from .generate_again import GEN404_OT_generate_again
from .generate_batch import GEN404_OT_generate_batch
from .history import classes as history_classes
from .import_splat import GEN404_FH_splat, GEN404_OT_import_splat
from .reports import GEN404_OT_report, GEN404_OT_task_details
from .tasks import (
    GEN404_OT_cancel_task,
    GEN404_OT_clear_tasks,
    GEN404_OT_resume_task,
    GEN404_OT_wait_all,
)

classes = (
    GEN404_OT_generate,
    GEN404_OT_generate_again,
    GEN404_OT_generate_batch,
    GEN404_OT_import_splat,
    GEN404_FH_splat,  # after its operator
    GEN404_OT_export_splat,
    GEN404_OT_convert_to_native,
    GEN404_OT_cancel_task,
    GEN404_OT_resume_task,
    GEN404_OT_clear_tasks,
    GEN404_OT_wait_all,
    GEN404_OT_report,
    GEN404_OT_task_details,
    *history_classes,
)
