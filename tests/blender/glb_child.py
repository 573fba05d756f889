"""Write the simulator's mesh result: a small textured box from Blender's own glTF exporter.

Run as ``python glb_child.py OUT.glb`` with the bpy module of the release under test
(tests/blender/conftest.py does). It ends with ``os._exit``: bpy 4.2's glTF exporter
leaves the process to crash during interpreter shutdown.
"""

from __future__ import annotations

import os
import sys
import warnings

import bpy


def textured_box_glb(path: str) -> None:
    """Export a small textured box (0.6 x 0.6 x 1, tall along Blender's Z) with Blender's
    own glTF exporter; everything made for it is removed again."""
    mesh = bpy.data.meshes.new("sim-box")
    w, h = 0.3, 1.0
    verts = [(x, y, z) for z in (0.0, h) for y in (-w, w) for x in (-w, w)]
    faces = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    mesh.from_pydata(verts, [], faces)
    uv = mesh.uv_layers.new(name="UVMap")
    for i, loop in enumerate(uv.data):
        loop.uv = (float(i % 4 in (1, 2)), float(i % 4 >= 2))
    image = bpy.data.images.new("sim-texture", 4, 4)
    image.pixels.foreach_set([0.9, 0.2, 0.1, 1.0] * 16)
    image.pack()
    material = bpy.data.materials.new("sim-material")
    with warnings.catch_warnings():  # deprecated (always on) from Blender 5.0
        warnings.simplefilter("ignore", DeprecationWarning)
        material.use_nodes = True
    nodes = material.node_tree.nodes
    texture = nodes.new("ShaderNodeTexImage")
    texture.image = image
    material.node_tree.links.new(
        texture.outputs["Color"], nodes["Principled BSDF"].inputs["Base Color"]
    )
    mesh.materials.append(material)
    obj = bpy.data.objects.new("sim-box", mesh)
    bpy.context.scene.collection.objects.link(obj)
    selected = [o for o in bpy.context.view_layer.objects if o.select_get()]
    for other in selected:
        other.select_set(False)
    obj.select_set(True)
    try:
        result = bpy.ops.export_scene.gltf(
            filepath=str(path), use_selection=True, export_format="GLB"
        )
        assert result == {"FINISHED"}
    finally:
        bpy.data.objects.remove(obj)
        bpy.data.meshes.remove(mesh)
        bpy.data.materials.remove(material)
        bpy.data.images.remove(image)
        for other in selected:
            other.select_set(True)


if __name__ == "__main__":
    textured_box_glb(sys.argv[1])
    sys.stdout.flush()
    os._exit(0)
