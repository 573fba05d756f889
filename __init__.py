# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""gen404: text/image to 3D Gaussian splats from the 404.xyz gateway, inside Blender.

This module stays importable without bpy (tests load ``client`` and ``splats``
through it); everything that needs bpy is imported in ``register()``.
"""


def register() -> None:
    from . import registration

    registration.register()


def unregister() -> None:
    from . import registration

    registration.unregister()
