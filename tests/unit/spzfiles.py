"""Write SPZ and .splat test files by hand, and run the npm peer tools.

Like ``plyfiles.py``, nothing here uses the readers under test: the encoders
follow the format notes (docs/splat-formats.md) and the upstream packer, with their
own quantisation and their own hand-derived frame signs, so a bug shared by
reader and writer cannot hide. The peers (tests/peers: splat-transform, the
official SPZ library, spz-js) are independent implementations; they are installed
with ``npm ci`` on first use.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import json
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
import zstandard

from tests.unit.plyfiles import REST_PER_CHANNEL, splat_names

if TYPE_CHECKING:
    from gen404.splats.cloud import SplatCloud

ROOT = Path(__file__).resolve().parents[2]
PEERS = ROOT / "tests" / "peers"
SH_C0 = 0.28209479177387814
SQRT1_2 = np.sqrt(0.5)

RUB_SH_SIGNS = np.array([-1, -1, 1, -1, 1, 1, -1, 1, -1, 1, -1, -1, 1, -1, 1], np.float32)
"""Sign of each degree 1-3 basis function under (x, y, z) -> (x, -y, -z), worked out by
hand from the Inria basis (-y, z, -x | xy, yz, 3z²-1, xz, x²-y² | y(3x²-y²), xyz,
y(5z²-1), z(5z²-3), x(5z²-1), z(x²-y²), x(x²-3y²)): odd total power of y and z flips."""

REST_DEGREE_4 = 24


# --- splat values ----------------------------------------------------------------------


@dataclass
class Splats:
    """Raw PLY-style values of N splats; sh is (N, K, 3), coefficient-major."""

    positions: np.ndarray
    log_scales: np.ndarray
    rotations: np.ndarray  # w, x, y, z, not normalised
    opacity: np.ndarray
    f_dc: np.ndarray
    sh: np.ndarray

    @property
    def count(self) -> int:
        return len(self.positions)

    def columns(self) -> dict[str, np.ndarray]:
        """PLY columns in the Inria order, for plyfiles.make_ply (degree <= 3)."""
        n, k = self.count, self.sh.shape[1]
        cols = {name: self.positions[:, i] for i, name in enumerate("xyz")}
        cols.update({f"f_dc_{i}": self.f_dc[:, i] for i in range(3)})
        for c in range(3):
            for j in range(k):
                cols[f"f_rest_{c * k + j}"] = self.sh[:, j, c]
        cols["opacity"] = self.opacity
        cols.update({f"scale_{i}": self.log_scales[:, i] for i in range(3)})
        cols.update({f"rot_{i}": self.rotations[:, i] for i in range(4)})
        assert len(cols) == 14 + 3 * k and all(len(v) == n for v in cols.values())
        return cols

    def in_rub(self) -> Splats:
        """The same scene in SPZ's RUB frame: y and z negated, with rotations and SH."""
        k = self.sh.shape[1]
        signs = RUB_SH_SIGNS[:k] if k <= 15 else np.r_[RUB_SH_SIGNS, _DEGREE_4_SIGNS]
        return replace(
            self,
            positions=self.positions * np.float32([1, -1, -1]),
            rotations=self.rotations * np.float32([1, 1, -1, -1]),
            sh=self.sh * signs[None, :, None],
        )


# Degree 4 (order m = -4..4): a real SH of degree l, order m is odd in y for m < 0 and
# has z-parity (-1)^(l-|m|); the same rule reproduces the table above for l = 1..3.
_DEGREE_4_SIGNS = np.array([-1, 1, -1, 1, 1, -1, 1, -1, 1], np.float32)


def realistic_splats(n: int, degree: int = 0, seed: int = 0) -> Splats:
    """Values inside every SPZ range, so quantisation (not clipping) bounds the error."""
    rng = np.random.default_rng(seed)
    k = REST_DEGREE_4 if degree == 4 else REST_PER_CHANNEL[degree]
    rot = rng.normal(size=(n, 4)) * rng.uniform(0.5, 2.0, (n, 1))
    return Splats(
        positions=rng.uniform(-5, 5, (n, 3)).astype(np.float32),
        log_scales=rng.uniform(-6, 0, (n, 3)).astype(np.float32),
        rotations=rot.astype(np.float32),
        opacity=rng.uniform(-4, 4, n).astype(np.float32),
        f_dc=rng.uniform(-1.5, 1.5, (n, 3)).astype(np.float32),
        sh=rng.uniform(-0.9, 0.9, (n, k, 3)).astype(np.float32),
    )


def splats_from_columns(columns: Mapping[str, np.ndarray]) -> Splats:
    """Splats from PLY columns (channel-major f_rest)."""
    k = sum(1 for name in columns if name.startswith("f_rest_")) // 3

    def stack(*names: str) -> np.ndarray:
        return np.stack([np.asarray(columns[nm], np.float32) for nm in names], axis=1)

    sh = np.zeros((len(columns["x"]), k, 3), np.float32)
    for c in range(3):
        for j in range(k):
            sh[:, j, c] = columns[f"f_rest_{c * k + j}"]
    return Splats(
        positions=stack("x", "y", "z"),
        log_scales=stack("scale_0", "scale_1", "scale_2"),
        rotations=stack("rot_0", "rot_1", "rot_2", "rot_3"),
        opacity=stack("opacity")[:, 0],
        f_dc=stack("f_dc_0", "f_dc_1", "f_dc_2"),
        sh=sh,
    )


def ply_bytes(splats: Splats) -> bytes:
    """A float binary PLY of ``splats`` (degree <= 3), via plyfiles.make_ply."""
    from tests.unit.plyfiles import make_ply

    columns = splats.columns()
    assert list(columns) == splat_names(_degree(splats.sh.shape[1]))
    return make_ply(columns)


def degree4_ply_bytes(splats: Splats) -> bytes:
    """A PLY with 72 f_rest (SH degree 4), only for the peer encoders."""
    n, k = splats.count, splats.sh.shape[1]
    names = ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2"]
    names += [f"f_rest_{i}" for i in range(3 * k)]
    names += ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    table = np.concatenate(
        [
            splats.positions,
            splats.f_dc,
            splats.sh.transpose(0, 2, 1).reshape(n, 3 * k),
            splats.opacity[:, None],
            splats.log_scales,
            splats.rotations,
        ],
        axis=1,
    ).astype("<f4")
    head = ["ply", "format binary_little_endian 1.0", f"element vertex {n}"]
    head += [f"property float {nm}" for nm in names] + ["end_header", ""]
    return "\n".join(head).encode() + table.tobytes()


def _degree(k: int) -> int:
    return {0: 0, 3: 1, 8: 2, 15: 3, 24: 4}[k]


# --- comparing -----------------------------------------------------------------------------

STEP_DC = 1 / 255 / 0.15


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x.astype(np.float64)))


def unit(q: np.ndarray) -> np.ndarray:
    q = q.astype(np.float64)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def assert_close_to_source(
    cloud: SplatCloud,
    src: Splats,
    version: int,
    fractional_bits: int = 12,
    sh_atol: float = 1 / 256 + 1e-6,
) -> None:
    """Every field equals the source to within what SPZ's quantisation loses."""
    assert cloud.count == src.count
    if version == 1:
        np.testing.assert_allclose(cloud.positions, src.positions, rtol=2**-11, atol=1e-7)
    else:
        np.testing.assert_allclose(cloud.positions, src.positions, rtol=0, atol=2**-fractional_bits)
    np.testing.assert_allclose(cloud.log_scales, src.log_scales, rtol=0, atol=1 / 32 + 1e-6)
    np.testing.assert_allclose(
        sigmoid(cloud.opacity_logit), sigmoid(src.opacity), rtol=0, atol=0.5 / 255 + 1e-6
    )
    np.testing.assert_allclose(cloud.sh_dc, src.f_dc, rtol=0, atol=STEP_DC / 2 + 1e-6)
    keep = min(src.sh.shape[1], 15)
    np.testing.assert_allclose(cloud.sh_rest, src.sh[:, :keep], rtol=0, atol=sh_atol)
    dots = np.abs(np.sum(unit(cloud.rotations) * unit(src.rotations), axis=1))
    assert dots.min() > (0.99 if version < 3 else 0.99999)
    for arr in [cloud.positions, cloud.log_scales, cloud.rotations, cloud.opacity_logit]:
        assert arr.dtype == np.float32 and arr.flags.c_contiguous
    assert cloud.sh_dc.dtype == cloud.sh_rest.dtype == np.float32
    assert cloud.sh_rest.flags.c_contiguous


# --- SPZ encoding -------------------------------------------------------------------------


@dataclass
class SpzOptions:
    """How to write an SPZ. ``frame='RUB'`` converts the (PLY-frame) values first."""

    version: int = 2
    wrapper: str = "zstd"  # zstd (404), gzip (upstream 1-3), plain (uncompressed 1-3)
    frame: str = "RDF"
    fractional_bits: int = 12
    flags: int = 0
    extensions: bytes = b""
    count: int | None = None  # header's count, to fake corrupt files
    degree: int | None = None  # header's SH degree, likewise
    zstd_content_size: bool = True
    streams: int | None = None  # v4: number of streams declared
    toc_sizes: Sequence[int] | None = None  # v4: declared uncompressed sizes
    omit_empty_sh: bool = True  # v4 degree 0: 5 streams, as the SPZ library writes
    header_extra: dict[str, int] = field(default_factory=dict)


def quantised_arrays(splats: Splats, opts: SpzOptions) -> list[bytes]:
    """The six SPZ arrays, quantised as the upstream packer does."""
    s = splats.in_rub() if opts.frame == "RUB" else splats
    n = s.count
    if opts.version == 1:
        positions = s.positions.astype("<f2").tobytes()
    else:
        fixed = np.round(s.positions.astype(np.float64) * 2**opts.fractional_bits)
        fixed = fixed.astype("<i4").view(np.uint8).reshape(n, 3, 4)[:, :, :3]
        positions = np.ascontiguousarray(fixed).tobytes()
    sigmoid = 1 / (1 + np.exp(-s.opacity.astype(np.float64)))
    alphas = _u8(sigmoid * 255)
    colors = _u8(s.f_dc.astype(np.float64) * (0.15 * 255) + 0.5 * 255)
    scales = _u8((s.log_scales.astype(np.float64) + 10) * 16)
    q = s.rotations.astype(np.float64)
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    xyzw = np.concatenate([q[:, 1:], q[:, :1]], axis=1)
    rotations = _first_three(xyzw) if opts.version < 3 else _smallest_three(xyzw)
    sh = _u8(s.sh.astype(np.float64) * 128 + 128)  # (N, K, 3): coefficient-major already
    return [
        positions,
        alphas.tobytes(),
        colors.tobytes(),
        scales.tobytes(),
        rotations,
        sh.tobytes(),
    ]


def _u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def _first_three(xyzw: np.ndarray) -> bytes:
    q = np.where(xyzw[:, 3:] < 0, -xyzw, xyzw)
    return _u8(q[:, :3] * 127.5 + 127.5).tobytes()


def _smallest_three(xyzw: np.ndarray) -> bytes:
    """Upstream packQuaternionSmallestThree, on whole arrays (a loop over 4 components)."""
    n = len(xyzw)
    largest = np.argmax(np.abs(xyzw), axis=1)
    negate = xyzw[np.arange(n), largest] < 0
    comp = largest.astype(np.uint32)
    for i in range(4):
        skip = largest == i
        negbit = ((xyzw[:, i] < 0) ^ negate).astype(np.uint32)
        mag = (511 * (np.abs(xyzw[:, i]) / SQRT1_2) + 0.5).astype(np.uint32)
        shifted = (comp << np.uint32(10)) | (negbit << np.uint32(9)) | mag
        comp = np.where(skip, comp, shifted)
    return comp.astype("<u4").tobytes()


def encode_spz(splats: Splats, opts: SpzOptions | None = None) -> bytes:
    """An SPZ file of ``splats``: any version, wrapper and frame, corrupt on request."""
    opts = opts or SpzOptions()
    arrays = quantised_arrays(splats, opts)
    count = splats.count if opts.count is None else opts.count
    degree = _degree(splats.sh.shape[1]) if opts.degree is None else opts.degree
    if opts.version >= 4:
        return _encode_v4(arrays, count, degree, opts)
    header = struct.pack(
        "<4sIIBBBB", b"NGSP", opts.version, count, degree, opts.fractional_bits, opts.flags, 0
    )
    payload = header + opts.extensions + b"".join(arrays)
    if opts.wrapper == "zstd":
        if not opts.zstd_content_size:
            return zstd_without_size(payload)
        return zstandard.ZstdCompressor().compress(payload)
    if opts.wrapper == "gzip":
        return gzip.compress(payload, mtime=0)
    assert opts.wrapper == "plain"
    return payload


def zstd_without_size(payload: bytes) -> bytes:
    """A zstd frame that does not declare its decompressed size (streaming writers)."""
    cobj = zstandard.ZstdCompressor(write_content_size=False).compressobj()
    return cobj.compress(payload) + cobj.flush()


def _encode_v4(arrays: list[bytes], count: int, degree: int, opts: SpzOptions) -> bytes:
    if degree == 0 and opts.omit_empty_sh:
        arrays = arrays[:5]
    streams = len(arrays) if opts.streams is None else opts.streams
    toc_offset = 32 + len(opts.extensions)
    header = struct.pack(
        "<4sIIBBBBI12s",
        b"NGSP",
        opts.version,
        count,
        degree,
        opts.fractional_bits,
        opts.flags,
        streams,
        opts.header_extra.get("toc_offset", toc_offset),
        bytes(12),
    )
    cctx = zstandard.ZstdCompressor()
    blobs = [cctx.compress(a) for a in arrays]
    sizes = list(opts.toc_sizes) if opts.toc_sizes is not None else [len(a) for a in arrays]
    toc = b"".join(struct.pack("<QQ", len(b), s) for b, s in zip(blobs, sizes, strict=False))
    return header + opts.extensions + toc + b"".join(blobs)


def extension_record(kind: int, payload: bytes) -> bytes:
    """One SPZ extension record: u32 type, u32 byteLength, payload."""
    return struct.pack("<II", kind, len(payload)) + payload


def coordinate_system_extension(code: int) -> bytes:
    """SPZ_ADOBE_coordinate_system (0xADBE0003): the frame the data is stored in."""
    return extension_record(0xADBE0003, struct.pack("<I", code))


# --- .splat ------------------------------------------------------------------------------


def encode_dot_splat(splats: Splats) -> bytes:
    """The antimatter15 .splat layout: 32 bytes a splat (degree-0 colour only)."""
    n = splats.count
    records = np.zeros(
        n,
        dtype=[("p", "<f4", 3), ("s", "<f4", 3), ("c", "u1", 4), ("r", "u1", 4)],
    )
    records["p"] = splats.positions
    records["s"] = np.exp(splats.log_scales.astype(np.float64))
    rgb = 0.5 + SH_C0 * splats.f_dc.astype(np.float64)
    records["c"][:, :3] = _u8(rgb * 255)
    records["c"][:, 3] = _u8(255 / (1 + np.exp(-splats.opacity.astype(np.float64))))
    q = splats.rotations.astype(np.float64)
    records["r"] = _u8(q / np.linalg.norm(q, axis=1, keepdims=True) * 128 + 128)
    return records.tobytes()


# --- npm peers ---------------------------------------------------------------------------

NPM_CI = ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"]
"""How the peers are installed (also what `make test` runs): exact versions from the
lock file; install scripts skipped (webgpu's would fetch binaries the tests never use)."""


@functools.cache
def node_modules() -> Path:
    """tests/peers/node_modules, installed by ``npm ci`` when missing or out of date.

    The tests need Node.js and npm: without them they fail (never skip), so a
    machine that cannot check the readers against independent encoders is noticed.
    """
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.fail(
            "Node.js and npm are required for the SPZ/.splat peer tests (independent "
            "encoders from npm, see tests/peers/package.json). Install Node.js 20 or "
            "newer; the tests run `npm ci` in tests/peers themselves."
        )
    with _install_lock():  # two test runs at once must not both run npm ci
        if not _installed():
            proc = subprocess.run(
                [npm, *NPM_CI[1:]], cwd=PEERS, capture_output=True, text=True, timeout=600
            )
            if proc.returncode or not _installed():
                pytest.fail(
                    f"`{' '.join(NPM_CI)}` in {PEERS} failed (exit {proc.returncode}); the "
                    f"peer encoders could not be installed:\n{proc.stderr[-3000:]}"
                )
    return PEERS / "node_modules"


def _installed() -> bool:
    """npm ci has run since package.json or package-lock.json last changed.

    npm records what it installed in node_modules/.package-lock.json; being newer
    than both manifests means it is current (so `npm ci` run by make is reused).
    """
    record = PEERS / "node_modules" / ".package-lock.json"
    if not record.is_file():
        return False
    newest = max((PEERS / name).stat().st_mtime for name in ("package.json", "package-lock.json"))
    entry_points = [PEERS / "node_modules" / cli for cli in SPLAT_TRANSFORM.values()]
    return record.stat().st_mtime >= newest and all(p.is_file() for p in entry_points)


@contextlib.contextmanager
def _install_lock() -> Iterator[None]:
    """An exclusive lock outside node_modules (which npm ci deletes), where fcntl exists."""
    try:
        import fcntl
    except ImportError:  # Windows: runs are rarely concurrent there
        yield
        return
    key = hashlib.sha256(str(PEERS).encode()).hexdigest()[:16]
    with open(Path(tempfile.gettempdir()) / f"gen404-peers-{key}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


SPLAT_TRANSFORM = {
    "3.7.0": "@playcanvas/splat-transform/bin/cli.mjs",
    "2.7.1": "splat-transform-2/bin/cli.mjs",
}
"""splat-transform versions pinned in tests/peers (2.7.1 under the alias splat-transform-2)."""


def splat_transform(version: str, *args: str | Path) -> list[str]:
    """Command line for one splat-transform run (``-q -w`` added)."""
    cli = node_modules() / SPLAT_TRANSFORM[version]
    return [shutil.which("node") or "node", str(cli), "-q", "-w", *map(str, args)]


def peer_jobs(jobs: list[dict[str, object]], folder: Path) -> list[str]:
    """Command line running tests/peers/encode.mjs on ``jobs`` (written to a file)."""
    spec = folder / f"jobs-{len(list(folder.glob('jobs-*.json')))}.json"
    spec.write_text(json.dumps(jobs, default=str))
    node_modules()
    return [shutil.which("node") or "node", str(PEERS / "encode.mjs"), str(spec)]


@dataclass
class PeerFiles:
    """A folder of files the peer tools wrote for a test session, by name."""

    folder: Path

    def __getitem__(self, name: str) -> Path:
        return self.folder / name


def run_parallel(commands: list[list[str]], timeout: float = 120) -> None:
    """Run peer commands side by side (each is a separate Node process)."""
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for cmd in commands
    ]
    failures = []
    for cmd, proc in zip(commands, procs, strict=True):
        out, err = proc.communicate(timeout=timeout)
        if proc.returncode:
            failures.append(
                f"$ {' '.join(cmd)}\n(exit {proc.returncode})\n{err[-2000:]}{out[-500:]}"
            )
    if failures:
        pytest.fail("peer tool failed:\n" + "\n\n".join(failures))


# --- decode speed (not a test: `python -m tests.unit.spzfiles`) -----------------------------


def bench_decode(count: int = 1_000_000, repeats: int = 5) -> None:
    """Print read_spz's rate on generated files: 404's zstd v2 degree 0, upstream v3/v4
    degree 3. Random values compress worse than real scenes; decoding cost follows the
    decompressed size, which is the same."""
    import importlib
    import time

    importlib.import_module("tests.conftest")  # makes the repository importable as gen404
    read_spz = importlib.import_module("gen404.splats.spz").read_spz

    cases = [
        ("404 zstd v2, SH degree 0", 0, SpzOptions(version=2)),
        ("upstream gzip v3, SH degree 3", 3, SpzOptions(version=3, wrapper="gzip", frame="RUB")),
        ("upstream v4 (zstd streams), SH degree 3", 3, SpzOptions(version=4, frame="RUB")),
    ]
    for label, degree, opts in cases:
        data = encode_spz(realistic_splats(count, degree, seed=1), opts)
        best = float("inf")
        for _ in range(repeats):
            started = time.perf_counter()
            read_spz(data)
            best = min(best, time.perf_counter() - started)
        print(
            f"{label}: {count:,} splats, {len(data) / 1e6:.1f} MB file, best of {repeats} "
            f"{best * 1000:.0f} ms = {count / best / 1e6:.2f} M splats/s"
        )


if __name__ == "__main__":
    bench_decode()
