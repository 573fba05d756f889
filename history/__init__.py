# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""The history of results across sessions and their thumbnails: no bpy here.

``rows`` reads the task journal into one row per result and does what the History
panel's buttons need that touches no Blender data (find, remove, the request to
generate again); ``thumbnails`` renders a small picture of each cached result on a
worker thread (``splat_view`` for splats, ``glb_mesh`` and ``mesh_view`` for GLB
meshes) and writes it as a PNG (``png``); ``service`` ties both to one worker for
the panel.
"""
