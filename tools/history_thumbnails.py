"""The History's thumbnails of result files: written for a look, and what each costs.

    .venv/bin/python tools/history_thumbnails.py [FILE ...] [--splats N]

Each file (a PLY, SPZ or GLB result; by default the real 404 result in tests/data/real
and the simulator's figure) is drawn in a fresh Python process, as the add-on's worker
draws it, and written to build/history-thumbnails/tool-<name>.png. ``--splats N`` also
draws a generated N-splat PLY (e.g. 10000000: the largest result 404 makes), to show
the cost cap. Printed per file: seconds and the peak RSS the drawing added.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "build" / "history-thumbnails"

CHILD = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
import tests.conftest  # the repository as the package gen404
from gen404.history.thumbnails import make_thumbnail
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
make_thumbnail(sys.argv[1], sys.argv[2])
seconds = time.perf_counter() - started
added = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
print(json.dumps({{"seconds": seconds, "peak_mb": added}}))
"""


def big_ply(count: int, folder: Path) -> Path:
    """A 404-layout PLY of ``count`` random splats (written in blocks)."""
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from tests.simulator.figure import PLY_PROPERTIES

    path = folder / f"random-{count}.ply"
    header = ["ply", "format binary_little_endian 1.0", f"element vertex {count}"]
    header += [f"property float {name}" for name in PLY_PROPERTIES] + ["end_header"]
    rng = np.random.default_rng(0)
    with path.open("wb") as handle:
        handle.write(("\n".join(header) + "\n").encode("ascii"))
        for start in range(0, count, 1_000_000):
            n = min(1_000_000, count - start)
            table = np.empty((n, 14), dtype="<f4")
            table[:, 0:3] = rng.normal(0.0, 0.3, (n, 3))
            table[:, 3:6] = rng.normal(0.0, 1.0, (n, 3))
            table[:, 6] = 2.0
            table[:, 7:10] = np.log(0.004)
            table[:, 10:14] = (1.0, 0.0, 0.0, 0.0)
            handle.write(table.tobytes())
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--splats", type=int, default=0, help="also draw an N-splat PLY")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        files = list(args.files)
        if not files:
            sys.path.insert(0, str(ROOT))
            from tests.simulator import figure_ply_bytes

            figure = Path(tmp) / "simulator-figure.ply"
            figure.write_bytes(figure_ply_bytes())
            files = [ROOT / "tests" / "data" / "real" / "hamburger.ply", figure]
        if args.splats:
            files.append(big_ply(args.splats, Path(tmp)))
        for path in files:
            out = OUT / f"tool-{path.stem}.png"
            code = CHILD.format(root=str(ROOT))
            run = [sys.executable, "-c", code, str(path), str(out)]
            done = subprocess.run(run, capture_output=True, text=True, check=False)
            if done.returncode:
                print(f"{path.name}: failed\n{done.stderr[-2000:]}")
                continue
            cost = json.loads(done.stdout.strip().splitlines()[-1])
            size = path.stat().st_size / 1e6
            print(
                f"{path.name} ({size:.1f} MB): {cost['seconds']:.2f} s, "
                f"peak +{cost['peak_mb']:.0f} MB -> {out.relative_to(ROOT)}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
