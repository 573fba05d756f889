"""The first finished result is imported at PartialResult(1), not at Success (the
"First Result Early" preference), measured against the simulator's stage timing."""

from __future__ import annotations

import time
from collections.abc import Iterator

import bpy
import pytest

from tests.blender.helpers import ADDON_MODULE, splat_objects

STAGE_S = 1.5
"""NoResult, InProgress and PartialResult(1) last this long each: PartialResult(1) comes
at 2 stages, Success at 3, so an early import saves about one stage."""


@pytest.fixture
def prefs(addon) -> Iterator[bpy.types.AddonPreferences]:
    prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
    before = prefs.first_result_early
    yield prefs
    prefs.first_result_early = before


def _time_to_object(prompt: str) -> float:
    start = time.monotonic()
    assert bpy.ops.gen404.generate(prompt=prompt, wait=True) == {"FINISHED"}
    elapsed = time.monotonic() - start
    assert [o.name for o in splat_objects()] == [prompt]
    return elapsed


def test_first_result_early_is_on_by_default(prefs) -> None:
    assert type(prefs).bl_rna.properties["first_result_early"].default is True


def test_the_first_result_is_imported_at_partial_result_not_success(
    gateway, clean_scene, prefs
) -> None:
    gateway.set_stage_seconds(STAGE_S)
    prefs.first_result_early = False
    waited = _time_to_object("robot at success")
    for obj in splat_objects():
        bpy.data.objects.remove(obj)

    prefs.first_result_early = True
    early = _time_to_object("robot at partial")

    print(
        f"\ntime to object (stage {STAGE_S:g} s): first result early {early:.2f} s, "
        f"waiting for Success {waited:.2f} s"
    )
    # Success comes one stage after PartialResult(1).
    assert waited >= 3 * STAGE_S
    assert early < 3 * STAGE_S
    assert waited - early > 0.5 * STAGE_S
