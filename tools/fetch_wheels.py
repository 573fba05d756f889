"""Download the pure-Python wheels that blender_manifest.toml lists into ./wheels.

The manifest is the one list of bundled wheels: each file name there says the
package and version to fetch, so the two can never disagree.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def wheel_files() -> list[str]:
    manifest = tomllib.loads((ROOT / "blender_manifest.toml").read_text())
    return [Path(w).name for w in manifest["wheels"]]


def requirement(wheel: str) -> str:
    """`httpx-0.28.1-py3-none-any.whl` -> `httpx==0.28.1`."""
    name, version = wheel.split("-")[:2]
    return f"{name}=={version}"


def main() -> int:
    dest = ROOT / "wheels"
    dest.mkdir(exist_ok=True)
    wanted = wheel_files()
    missing = [w for w in wanted if not (dest / w).is_file()]
    if missing:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--python-version",
            "3.11",
            "--dest",
            str(dest),
        ]
        subprocess.run(cmd + [requirement(w) for w in missing], check=True)
    absent = [w for w in wanted if not (dest / w).is_file()]
    if absent:
        print("pip fetched other files than the manifest names: " + ", ".join(absent))
        return 1
    for stale in set(p.name for p in dest.glob("*.whl")) - set(wanted):
        (dest / stale).unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
