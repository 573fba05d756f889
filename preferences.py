# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Add-on preferences: API key, gateway region, download format, task deadline.

These live in Blender's user preferences, never in a .blend. Environment
variables serve scripted and render-farm use: ``GEN404_API_KEY`` stands in for an
empty key field and ``GEN404_GATEWAY_URL`` replaces the region.
"""

from __future__ import annotations

import os

import bpy

from .client.endpoints import (
    CUSTOM_REGION,
    ENV_API_KEY,
    ENV_GATEWAY_URL,
    REGIONS,
    resolve_api_key,
    resolve_base_url,
)
from .client.errors import GatewayError
from .client.models import JobSettings
from .props import flag, whole

ADDON_ID = __package__ or "gen404"
"""The add-on's module name as Blender knows it (e.g. ``bl_ext.user_default.gen404``)."""

_REGION_ITEMS = [(key, label, url) for key, (label, url) in REGIONS.items()] + [
    (CUSTOM_REGION, "Custom URL", "A gateway base URL of your own (https only)")
]


class GEN404_AddonPreferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_ID

    api_key: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="API Key",
        description="Your 404.xyz API key (a UUID). Stored in Blender's preferences only",
        subtype="PASSWORD",
    )
    region: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Gateway",
        description="Which 404.xyz gateway to use",
        items=_REGION_ITEMS,
        default="GEODNS",
    )
    custom_url: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Custom URL",
        description="Base URL of the gateway, e.g. https://gateway-eu.404.xyz:4443",
    )
    result_format: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Download Format",
        description="File format to download results in",
        items=[
            ("ply", "PLY", "Binary 3DGS PLY: a larger download, nothing to decode"),
            (
                "spz",
                "SPZ",
                "404's compressed SPZ: about 4.5x smaller to download, decoded after download",
            ),
        ],
        default="ply",
    )
    splat_object: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Splat Objects",
        description="What an import or a generation makes (Blender 5.3 and newer)",
        items=[
            (
                "NATIVE",
                "Blender's Gaussian Splats",
                "Blender's own splat point cloud: drawn by EEVEE, Cycles and Workbench, "
                "fast to render; Blender 5.2 and older cannot show it",
            ),
            (
                "NODES",
                "Geometry-Nodes Splats",
                "A mesh with the add-on's geometry-nodes display: slower, but a .blend "
                "with it opens and shows in Blender 4.2 to 5.2 too",
            ),
        ],
        default="NATIVE",
    )
    deadline_minutes: bpy.props.FloatProperty(  # type: ignore[valid-type]
        name="Give Up After (min)",
        description="Stop waiting for a task after this long: the gateway never reports "
        "an unknown task as failed",
        default=10.0,
        min=0.01,
        soft_min=1.0,
        max=120.0,
    )
    max_download_mb: whole(  # type: ignore[valid-type]
        "Largest Download (MB)",
        "Refuse results larger than this (a damaged or hostile answer)",
        1024,
        min=1,
    )
    cache_mb: whole(  # type: ignore[valid-type]
        "Result Cache (MB)",
        "Downloaded results kept on disk for re-importing without the network; the oldest "
        "are removed beyond this size",
        2048,
        min=0,
    )
    first_result_early: flag(  # type: ignore[valid-type]
        "First Result Early",
        "Import the first finished result as soon as the gateway reports PartialResult(1), "
        "instead of waiting for every worker (Success)",
        default=True,
    )
    timeout_seconds: bpy.props.FloatProperty(  # type: ignore[valid-type]
        name="Network Timeout (s)",
        description="Longest wait for one answer from the gateway before retrying",
        default=30.0,
        min=0.5,
        soft_min=5.0,
        max=300.0,
    )

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.use_property_split = True
        col = layout.column()
        col.prop(self, "api_key")
        if not self.api_key and os.environ.get(ENV_API_KEY):
            col.label(text=f"Using the key from {ENV_API_KEY}", icon="INFO")
        col.prop(self, "region")
        if self.region == CUSTOM_REGION:
            col.prop(self, "custom_url")
        if os.environ.get(ENV_GATEWAY_URL):
            col.label(text=f"{ENV_GATEWAY_URL} overrides the gateway", icon="INFO")
        col.prop(self, "result_format")
        if bpy.app.version >= (5, 3, 0):
            col.prop(self, "splat_object")
        col.prop(self, "first_result_early")
        col.prop(self, "deadline_minutes")
        col.prop(self, "timeout_seconds")
        col.prop(self, "max_download_mb")
        col.prop(self, "cache_mb")
        if not bpy.app.online_access:
            box = layout.box()
            box.label(text="Online access is disabled in Blender's preferences", icon="ERROR")
            box.label(text="Enable it in Preferences → System → Network to generate")


def get_preferences(context: bpy.types.Context | None = None) -> GEN404_AddonPreferences:
    prefs = (context or bpy.context).preferences
    assert prefs is not None
    return prefs.addons[ADDON_ID].preferences  # type: ignore[return-value]


def api_key(context: bpy.types.Context | None = None) -> str:
    return resolve_api_key(get_preferences(context).api_key, os.environ)


def job_settings(
    context: bpy.types.Context | None = None, *, require_key: bool = True
) -> JobSettings:
    """Snapshot the preferences for one job (main thread). Raises GatewayError."""
    prefs = get_preferences(context)
    key = resolve_api_key(prefs.api_key, os.environ)
    if not key and require_key:
        raise GatewayError(missing_key_message())
    return JobSettings(
        base_url=resolve_base_url(prefs.region, prefs.custom_url, os.environ),
        api_key=key,
        deadline_s=prefs.deadline_minutes * 60.0,
        timeout_s=prefs.timeout_seconds,
        max_download_bytes=prefs.max_download_mb * 1024 * 1024,
        cache_max_bytes=prefs.cache_mb * 1024 * 1024,
        result_format=prefs.result_format,
        download_on_partial=prefs.first_result_early,
        user_folder=user_folder(),
    )


def user_folder() -> str:
    """The add-on's writable folder (journal, downloads), outside the add-on itself.

    Created here rather than with ``create=True``: Blender checks and then creates,
    so two Blenders starting at once on a new user folder raced (FileExistsError)."""
    path = bpy.utils.extension_path_user(ADDON_ID, create=False)
    os.makedirs(path, exist_ok=True)
    return path


def missing_key_message() -> str:
    return (
        "No API key: enter it in Preferences → Add-ons → 404 Gen, "
        f"or set the {ENV_API_KEY} environment variable (from a script: "
        f"os.environ['{ENV_API_KEY}'] = '<key>')."
    )


OFFLINE_MESSAGE = (
    "Online access is disabled: enable Preferences → System → Network → Allow Online "
    "Access; in a script: bpy.context.preferences.system.use_online_access = True"
)
"""Short enough (under 200 bytes) that Blender keeps all of it as a poll message."""


def sending_settings(context: bpy.types.Context | None = None) -> JobSettings:
    """``job_settings`` for a job that sends a task; GatewayError offline or without a key."""
    if not bpy.app.online_access:
        raise GatewayError(OFFLINE_MESSAGE)
    return job_settings(context)


def blocker(context: bpy.types.Context | None = None) -> str | None:
    """What stops any generation now (offline, no key), in words; None when nothing does."""
    if not bpy.app.online_access:
        return OFFLINE_MESSAGE
    if not api_key(context):
        return missing_key_message()
    return None
