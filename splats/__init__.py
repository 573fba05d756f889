# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Splat file readers and the SplatCloud value they produce. No bpy here."""
