"""The add-on's main job, end to end: install the built extension into Blender, generate
a splat from a prompt, frame it, save demo.blend and render demo.png with Cycles.

    .venv-bpy-5.0.1/bin/python tools/demo.py --prompt "mechanic robot" --zip dist/gen404-0.1.0.zip

Run by `make demo`. By default it starts the local gateway simulator
(tests/simulator) in its own process, serving a real 404 result
(tests/data/real/hamburger.ply) for any prompt, and points the add-on at it:
nothing leaves the machine, nothing is paid. Only `--gateway real` (`make demo
GATEWAY=real`) sends the prompt to the real, paid 404 gateway, with the key in
GEN404_API_KEY (GEN404_GATEWAY_URL picks another gateway); it says so first.
Blender's user folder is build/blender-user, so your own Blender set-up is untouched.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
USER_FOLDER = ROOT / "build" / "blender-user"
SIM_KEY_ENV = "GEN404_API_KEY"
REAL_RESULT = ROOT / "tests" / "data" / "real" / "hamburger.ply"


def start_simulator(
    out: Path, stage_seconds: float, result_file: Path | None
) -> tuple[subprocess.Popen, str]:
    """The simulator in a child process; returns it and its base URL once it serves."""
    ca_file = out / "sim-ca.pem"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.simulator",
            "--port",
            "0",
            "--ca-file",
            str(ca_file),
            "--stage-seconds",
            str(stage_seconds),
            *(["--result-file", str(result_file)] if result_file else []),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    # It prints three lines once serving: "... ready at URL", "API key: K", "CA certificate: P".
    lines = [proc.stdout.readline().strip() for _ in range(3)]
    if not all(lines):
        raise SystemExit(f"the gateway simulator did not start (exit code {proc.wait()})")
    url = lines[0].rsplit(" at ", 1)[1]
    os.environ[SIM_KEY_ENV] = lines[1].split(": ", 1)[1]
    os.environ["SSL_CERT_FILE"] = lines[2].split(": ", 1)[1]
    os.environ["GEN404_GATEWAY_URL"] = url
    return proc, url


def install_extension(zip_path: Path):
    import bpy

    bpy.context.preferences.system.use_online_access = True
    result = bpy.ops.extensions.package_install_files(
        repo="user_default", filepath=str(zip_path), enable_on_install=True
    )
    if result != {"FINISHED"}:
        raise SystemExit(f"installing {zip_path} failed: {result}")


def stage_scene(obj) -> None:
    """A camera in front of the splat (Blender's -Y), a plain background, Cycles."""
    import bpy
    import numpy as np
    from mathutils import Vector

    scene = bpy.context.scene
    positions = np.empty(len(obj.data.vertices) * 3, dtype=np.float32)
    obj.data.attributes["position"].data.foreach_get("vector", positions)
    positions = positions.reshape(-1, 3) + np.array(obj.location, dtype=np.float32)
    lo, hi = positions.min(axis=0), positions.max(axis=0)
    centre = Vector(((lo + hi) / 2).tolist())
    height = float(max(hi[2] - lo[2], hi[0] - lo[0], 1e-3))

    cam_data = bpy.data.cameras.new("Demo Camera")
    cam_data.lens = 50.0
    cam = bpy.data.objects.new("Demo Camera", cam_data)
    scene.collection.objects.link(cam)
    fov = 2 * math.atan(cam_data.sensor_width / (2 * cam_data.lens))
    distance = 1.35 * height / (2 * math.tan(fov / 2)) + height / 2
    direction = Vector((0.45, -1.0, 0.35)).normalized()
    cam.location = centre + direction * distance
    cam.rotation_euler = (-direction).to_track_quat("-Z", "Y").to_euler()
    scene.camera = cam

    world = scene.world or bpy.data.worlds.new("World")
    scene.world = world
    world.color = (0.05, 0.05, 0.06)
    if world.node_tree is not None:
        background = world.node_tree.nodes.get("Background")
        if background is not None:
            background.inputs["Color"].default_value = (0.05, 0.05, 0.06, 1.0)

    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = 16
    scene.cycles.use_denoising = False
    scene.render.resolution_x = 512
    scene.render.resolution_y = 512
    # Splat colours are display-referred: Standard shows them as a splat viewer does.
    scene.view_settings.view_transform = "Standard"


def show_render_progress() -> None:
    """Print the renderer's own status line (samples, time) as the render goes."""
    import bpy

    def progress(stats: object = None, *_: object) -> None:
        # e.g. "Remaining: 00:02.74 | Mem: 4M | Sample 1/64": keep the remaining time and sample
        parts = [p.strip() for p in str(stats or "").split("|")]
        line = " | ".join(p for p in parts if not p.startswith("Mem:"))
        if line:
            print(f"\r  rendering: {line[:70]:<70}", end="", flush=True)

    bpy.app.handlers.render_stats.append(progress)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompt", default="hamburger")
    parser.add_argument("--zip", type=Path, required=True, help="the built extension")
    parser.add_argument("--out", type=Path, default=ROOT / "demo")
    parser.add_argument(
        "--gateway",
        choices=("sim", "real"),
        default="sim",
        help="sim: the local simulator (default, free); real: the real 404 gateway (paid)",
    )
    parser.add_argument(
        "--result-file",
        type=Path,
        default=REAL_RESULT,
        help="simulator: the PLY every task returns (default: a real 404 result)",
    )
    parser.add_argument(
        "--stage-seconds", type=float, default=1.0, help="simulator: seconds per status stage"
    )
    args = parser.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    zip_path = args.zip.resolve()

    os.environ["BLENDER_USER_RESOURCES"] = str(USER_FOLDER)
    simulator = None
    if args.gateway == "real":
        if not os.environ.get(SIM_KEY_ENV):
            print(f"demo: --gateway real needs your 404 API key in {SIM_KEY_ENV}")
            return 2
        where = os.environ.get("GEN404_GATEWAY_URL") or "the add-on's default (api.dns.404.xyz)"
        print(f"demo: sending '{args.prompt}' to the REAL 404 gateway at {where}:")
        print("      this generation is paid from your 404 balance.")
    else:
        if os.environ.get(SIM_KEY_ENV):
            print(
                f"demo: {SIM_KEY_ENV} is set but not used: this demo runs against the local "
                "simulator (free). `make demo GATEWAY=real` uses the real, paid gateway."
            )
        simulator, url = start_simulator(out, args.stage_seconds, args.result_file)
        print(f"demo: local gateway simulator at {url}, serving {args.result_file.name}")
    try:
        import bpy

        install_extension(zip_path)
        for obj in list(bpy.data.objects):  # the default cube, camera and light
            bpy.data.objects.remove(obj)
        started = time.monotonic()
        try:
            bpy.ops.gen404.generate(prompt=args.prompt, wait=True)
        except RuntimeError as exc:  # a refused prompt, a failed task: the reason, no traceback
            print(f"demo: generation failed: {str(exc).strip().removeprefix('Error: ')}")
            return 1
        generation_s = time.monotonic() - started
        obj = bpy.context.view_layer.objects.active
        print(
            f"demo: '{obj.name}': {len(obj.data.vertices)} splats in {generation_s:.1f} s "
            f"(task {obj['gen404_task_id']})"
        )
        stage_scene(obj)
        blend = out / "demo.blend"
        bpy.ops.wm.save_as_mainfile(filepath=str(blend))
        scene = bpy.context.scene
        scene.render.filepath = str(out / "demo.png")
        show_render_progress()
        started = time.monotonic()
        bpy.ops.render.render(write_still=True)
        print(f"\ndemo: rendered {scene.render.filepath} in {time.monotonic() - started:.1f} s")
        print(f"demo: saved {blend}")
    finally:
        if simulator is not None:
            simulator.terminate()
            simulator.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
