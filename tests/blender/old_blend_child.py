"""An older Blender saving a .blend with splat objects (run as a script, not collected).

    python old_blend_child.py ZIP OUT.blend FILE [FILE...]

Run with an older release's bpy (e.g. .venv-bpy-5.0.1/bin/python): installs the
add-on from ZIP into the user folder the caller put in BLENDER_USER_RESOURCES,
imports each FILE (one mesh splat object each, the geometry-nodes display),
saves OUT.blend and prints one JSON line: Blender's version and, per object, its
name, type, splat count and world matrix.
"""

from __future__ import annotations

import json
import sys

import bpy


def main(zip_path: str, out: str, files: list[str]) -> None:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    result = bpy.ops.extensions.package_install_files(
        repo="user_default", filepath=zip_path, enable_on_install=True
    )
    assert result == {"FINISHED"}, result
    for path in files:
        # +Y up, the default of the releases that made such files (before "From File").
        assert bpy.ops.gen404.import_splat(filepath=path, up_axis="Y") == {"FINISHED"}, path
    bpy.ops.wm.save_as_mainfile(filepath=out)
    objects = [
        {
            "name": obj.name,
            "type": obj.type,
            "splats": int(obj["gen404_splats"]),
            "matrix": [list(row) for row in obj.matrix_world],
        }
        for obj in bpy.data.objects
        if "gen404_splats" in obj
    ]
    print(json.dumps({"version": list(bpy.app.version), "objects": objects}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
