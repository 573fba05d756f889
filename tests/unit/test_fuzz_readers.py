"""Fuzz the PLY and SPZ readers with mutated valid files (hypothesis, bounded).

Whatever the bytes, a reader must return a SplatCloud or raise SplatFormatError:
never another exception, never hang, never allocate much more than the input can
justify. Seeds are small valid files written independently of the readers
(plyfiles.py for PLY; a minimal SPZ encoder here). Mutations act on the final
bytes, or, for compressed SPZ, on the payload before compression, so that the
decoder behind the decompressor gets fuzzed too.

The bounded run here is part of ``make test``; ``python tools/fuzz.py --seconds 300``
runs the same oracle and mutations for longer and reports executions and findings.
"""

from __future__ import annotations

import gzip
import os
import random
import struct
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import zstandard
from gen404.scene.prepare import attribute_plan, fill
from gen404.splats.cloud import SplatCloud, SplatFormatError
from gen404.splats.ply import read_ply
from gen404.splats.ply_rows import open_ply_rows
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.plyfiles import face_element, make_ply, scalar_element, splat_columns

try:  # the SPZ reader is being written alongside; fuzz it as soon as it exists
    from gen404.splats.spz import read_spz
except ImportError:  # pragma: no cover
    read_spz = None

EXAMPLES = 300
"""Per reader in the bounded run (well under 30 s together)."""
MAX_SECONDS = 2.0
"""One input taking longer than this counts as a hang."""
PLY_EXPANSION = 64
"""Peak bytes allocated per input byte a PLY read may use (float32 output from 1-byte
properties or ASCII digits, plus numpy temporaries), plus SLACK."""
SLACK = 4 * 1024 * 1024
SPZ_RATIO = {"zstd": 32768, "gzip": 1032, "plain": 1}
"""What one compressed byte can at most expand to (splats/inflate.py MAX_RATIO): the
SPZ reader sizes its buffers from header counts checked against this."""
SPZ_DECODE = 16
"""Peak bytes per decompressed byte while decoding (float32 output and temporaries)."""

INTERESTING = [0, 1, 2, 3, 7, 8, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF]
INTERESTING += [10**6, 10**9, 2**31 + 1]
TOKENS = [
    "0",
    "1",
    "-1",
    "4294967295",
    "99999999999999999999",
    "1000000000",
    "nan",
    "float",
    "double",
    "uchar",
    "int",
    "list",
    "vertex",
    "face",
    "element",
    "property",
    "ascii",
    "binary_big_endian",
    "binary_little_endian",
    "end_header",
    "",
    "x",
    "\x00",
    "é",
]


# -- seeds ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Seed:
    """A valid file: ``payload`` wrapped by ``wrap`` (compression) gives the bytes."""

    name: str
    reader: str
    payload: bytes
    wrap: str = "plain"

    def bytes(self, payload: bytes | None = None) -> bytes:
        return WRAPS[self.wrap](self.payload if payload is None else payload)


WRAPS: dict[str, Callable[[bytes], bytes]] = {
    "plain": lambda b: b,
    "zstd": lambda b: zstandard.ZstdCompressor(level=3).compress(b),
    "gzip": lambda b: gzip.compress(b, mtime=0),
}


def ply_seeds() -> list[Seed]:
    small = splat_columns(12, degree=0, seed=1)
    sh1 = splat_columns(6, degree=1, normals=True, seed=2)
    points = {k: v for k, v in splat_columns(5, seed=3).items() if k in "xyz"}
    uchar = {**small, "red": np.arange(12) % 256}
    return [
        Seed("ply-le", "ply", make_ply(small)),
        Seed("ply-be-sh1", "ply", make_ply(sh1, fmt="binary_big_endian")),
        Seed("ply-ascii", "ply", make_ply(splat_columns(4, seed=4), fmt="ascii")),
        Seed("ply-crlf", "ply", make_ply(splat_columns(3, seed=5), newline="\r\n")),
        Seed(
            "ply-elements",
            "ply",
            make_ply(small, before=[scalar_element("camera", 2)], after=[face_element()]),
        ),
        Seed(
            "ply-types",
            "ply",
            make_ply(uchar, types={"red": "uchar", "x": "double", "opacity": "short"}),
        ),
        Seed("ply-points", "ply", make_ply(points, comments=["points only"])),
    ]


def spz_payload(version: int, n: int, degree: int, seed: int, flags: int = 0) -> bytes:
    """A version 1-3 SPZ payload (header + arrays) with random but valid values."""
    rng = np.random.default_rng(seed)
    rest = {0: 0, 1: 3, 2: 8, 3: 15}[degree]
    head = struct.pack("<4sIIBBBB", b"NGSP", version, n, degree, 12, flags, 0)
    sizes = [n * (6 if version == 1 else 9), n, 3 * n, 3 * n, n * (3 if version < 3 else 4)]
    sizes.append(n * rest * 3)
    body = rng.integers(0, 256, sum(sizes), dtype=np.uint8)
    if version == 1:  # half floats: keep them finite
        body[: n * 6] = np.frombuffer(
            rng.normal(size=n * 3).astype("<f2").tobytes(), dtype=np.uint8
        )
    return head + body.tobytes()


def spz_v4(n: int, degree: int, seed: int, extension: bytes = b"") -> bytes:
    """A version 4 SPZ: plain header, optional extensions, TOC, one zstd stream each."""
    payload = spz_payload(3, n, degree, seed)[16:]
    rest = {0: 0, 1: 3, 2: 8, 3: 15}[degree]
    sizes = [9 * n, n, 3 * n, 3 * n, 4 * n, n * rest * 3]
    streams, offset = [], 0
    for size in sizes:
        streams.append(payload[offset : offset + size])
        offset += size
    packed = [zstandard.ZstdCompressor().compress(s) for s in streams]
    toc_at = 32 + len(extension)
    flags = 2 if extension else 0
    head = struct.pack("<4sIIBBBBI12s", b"NGSP", 4, n, degree, 12, flags, len(sizes), toc_at, b"")
    toc = b"".join(struct.pack("<QQ", len(p), len(s)) for p, s in zip(packed, streams, strict=True))
    return head + extension + toc + b"".join(packed)


def spz_seeds() -> list[Seed]:
    rub = struct.pack("<II", 0xADBE0003, 4) + struct.pack("<I", 2)
    with_extension = spz_payload(3, 5, 0, 9, flags=2)
    with_extension = with_extension[:16] + rub + with_extension[16:]
    return [
        Seed("spz-404-v2", "spz", spz_payload(2, 10, 0, 1), "zstd"),
        Seed("spz-404-v2-sh1", "spz", spz_payload(2, 6, 1, 2), "zstd"),
        Seed("spz-gzip-v1", "spz", spz_payload(1, 5, 0, 3), "gzip"),
        Seed("spz-gzip-v3-sh2", "spz", spz_payload(3, 4, 2, 4), "gzip"),
        Seed("spz-gzip-ext", "spz", with_extension, "gzip"),
        Seed("spz-plain-v2", "spz", spz_payload(2, 6, 0, 5)),
        Seed("spz-v4", "spz", spz_v4(6, 1, 6)),
        Seed("spz-v4-ext", "spz", spz_v4(4, 0, 7, extension=rub)),
    ]


def read_ply_streamed(data: bytes) -> object:
    """The script import's path: the file streamed block by block into attribute arrays.

    It must agree with the whole-file reader (the UI's path): refuse the same
    files, and make exactly the values it reads from the others.
    """
    try:
        whole: SplatCloud | SplatFormatError = read_ply(data)
    except SplatFormatError as exc:
        whole = exc
    try:
        out = _stream(data)
    except SplatFormatError:
        if isinstance(whole, SplatCloud):
            raise Finding("ply_streamed: refused a file read_ply reads") from None
        raise
    if out is None:  # ASCII or a point cloud: the import reads those whole, by read_ply
        if isinstance(whole, SplatFormatError):
            raise whole
        return whole
    if isinstance(whole, SplatFormatError):
        raise Finding(f"ply_streamed: read a file read_ply refuses ({whole})")
    same = {
        "position": whole.positions,
        "file_rotation": whole.rotations,
        "log_scale": whole.log_scales,
        "opacity_logit": whole.opacity_logit[:, None],
        "sh_dc": whole.sh_dc,
    }
    for name, values in same.items():
        if not np.array_equal(out[name], values, equal_nan=True):
            raise Finding(f"ply_streamed: {name} differs from read_ply")
    return out


def _stream(data: bytes) -> dict[str, np.ndarray] | None:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "fuzz.ply")
        with open(path, "wb") as f:
            f.write(data)
        source = open_ply_rows(path)
        if source is None:
            return None
        try:
            source.block_rows = 7  # many blocks, a short last one
            plan, extras, _ = attribute_plan(source)
            out = {a.name: np.zeros((source.count, a.width), np.float32) for a in plan}
            fill(source, out, "Z", extras)
        finally:
            source.close()
    return out


READERS: dict[str, Callable[[bytes], object]] = {"ply": read_ply, "ply_streamed": read_ply_streamed}
if read_spz is not None:
    READERS["spz"] = read_spz


def all_seeds() -> list[Seed]:
    return ply_seeds() + (spz_seeds() if "spz" in READERS else [])


SEEDS_OF = {"ply_streamed": "ply"}
"""Readers that take another reader's inputs."""


# -- mutations --------------------------------------------------------------------------
Op = tuple


def apply(data: bytes, ops: list[Op]) -> bytes:
    """``data`` changed by each op in turn; positions wrap around the current length."""
    buf = bytearray(data)
    for op in ops:
        kind, at = op[0], op[1] % (len(buf) + 1)
        if kind == "flip" and buf:
            buf[at % len(buf)] ^= op[2] or 1
        elif kind == "set":
            buf[at : at + len(op[2])] = op[2]
        elif kind == "int":
            width, value = op[2], op[3]
            buf[at : at + width] = (value % 256**width).to_bytes(width, "little")
        elif kind == "cut":
            del buf[at:]
        elif kind == "delete":
            del buf[at : at + op[2]]
        elif kind == "insert":
            buf[at:at] = op[2]
        elif kind == "dup":
            buf[at:at] = buf[at : at + op[2]]
        elif kind == "token":
            buf = bytearray(_replace_token(bytes(buf), op[1], op[2]))
    return bytes(buf)


def _replace_token(data: bytes, index: int, token: str) -> bytes:
    """Replace one whitespace-separated word of a PLY header (the text up to end_header)."""
    end = data.find(b"end_header")
    if end < 0:
        return data
    words = data[:end].split(b" ")
    i = index % len(words)
    lines = words[i].split(b"\n")
    lines[-1] = token.encode("utf-8")
    words[i] = b"\n".join(lines)
    return b" ".join(words) + data[end:]


def random_ops(rng: random.Random, size: int) -> list[Op]:
    """Mutations drawn with plain ``random`` (tools/fuzz.py), like ``op_lists`` below."""
    ops: list[Op] = []
    for _ in range(rng.choice((1, 1, 2, 3, 5))):
        at = rng.randrange(size + 1) if rng.random() < 0.7 else rng.randrange(min(size, 64) + 1)
        kind = rng.choice(("flip", "set", "int", "cut", "delete", "insert", "dup", "token"))
        if kind == "flip":
            ops.append(("flip", at, rng.randrange(1, 256)))
        elif kind == "set":
            ops.append(("set", at, rng.randbytes(rng.randrange(1, 9))))
        elif kind == "int":
            ops.append(("int", at, rng.choice((1, 2, 4, 8)), rng.choice(INTERESTING)))
        elif kind == "cut":
            ops.append(("cut", at))
        elif kind in ("delete", "dup"):
            ops.append((kind, at, rng.randrange(1, 65)))
        elif kind == "insert":
            ops.append(("insert", at, rng.randbytes(rng.randrange(1, 17))))
        else:
            ops.append(("token", rng.randrange(200), rng.choice(TOKENS)))
    return ops


_pos = st.integers(min_value=0, max_value=1 << 20)
op_lists = st.lists(
    st.one_of(
        st.tuples(st.just("flip"), _pos, st.integers(1, 255)),
        st.tuples(st.just("set"), _pos, st.binary(min_size=1, max_size=8)),
        st.tuples(
            st.just("int"), _pos, st.sampled_from((1, 2, 4, 8)), st.sampled_from(INTERESTING)
        ),
        st.tuples(st.just("cut"), _pos),
        st.tuples(st.just("delete"), _pos, st.integers(1, 64)),
        st.tuples(st.just("insert"), _pos, st.binary(min_size=1, max_size=16)),
        st.tuples(st.just("dup"), _pos, st.integers(1, 64)),
        st.tuples(st.just("token"), st.integers(0, 200), st.sampled_from(TOKENS)),
    ),
    min_size=1,
    max_size=5,
)


def mutated(seed: Seed, ops: list[Op], inner: bool) -> bytes:
    """The seed's bytes after ``ops``: on the payload before compression when ``inner``."""
    if inner and seed.wrap != "plain":
        return seed.bytes(apply(seed.payload, ops))
    return apply(seed.bytes(), ops)


# -- the oracle ---------------------------------------------------------------------------
class Finding(AssertionError):
    """A reader broke its contract on some input."""


def allowed_bytes(reader: str, data: bytes) -> int:
    """The most memory a read of ``data`` may justify."""
    if reader in ("ply", "ply_streamed"):
        return PLY_EXPANSION * len(data) + SLACK
    kind = "zstd" if data[:4] == b"\x28\xb5\x2f\xfd" else "gzip" if data[:2] == b"\x1f\x8b" else ""
    if not kind and data[:4] == b"NGSP" and len(data) >= 8 and data[4] >= 4:
        kind = "zstd"  # version 4: zstd streams inside a plain container
    ratio = SPZ_RATIO[kind or "plain"]
    return SPZ_DECODE * ratio * len(data) + SLACK


@dataclass(frozen=True)
class Outcome:
    result: str
    """``ok`` (read) or ``refused`` (SplatFormatError)."""
    peak: int
    seconds: float


def measure(reader: str, data: bytes) -> Outcome:
    """Read ``data`` under tracemalloc; raises Finding when the reader breaks its contract."""
    read = READERS[reader]
    tracemalloc.start()
    tracemalloc.reset_peak()
    started = time.perf_counter()
    try:
        read(data)
        result = "ok"
    except SplatFormatError as exc:
        if not str(exc).strip():
            raise Finding(f"{reader}: SplatFormatError without a message") from exc
        result = "refused"
    except Exception as exc:
        raise Finding(f"{reader}: {type(exc).__name__}: {exc}") from exc
    finally:
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    if elapsed > MAX_SECONDS:
        raise Finding(f"{reader}: {elapsed:.1f} s for a {len(data):,}-byte input")
    limit = allowed_bytes(reader, data)
    if peak > limit:
        raise Finding(f"{reader}: peak {peak:,} bytes for a {len(data):,}-byte input (> {limit:,})")
    return Outcome(result, peak, elapsed)


def check(reader: str, data: bytes) -> str:
    return measure(reader, data).result


# -- the tests ----------------------------------------------------------------------------
def test_every_seed_is_valid() -> None:
    """Mutating broken seeds would fuzz nothing but the first check."""
    for seed in all_seeds():
        assert check(seed.reader, seed.bytes()) == "ok", seed.name


def _fuzz(reader: str) -> None:
    seeds = [s for s in all_seeds() if s.reader == SEEDS_OF.get(reader, reader)]

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(seed=st.sampled_from(seeds), ops=op_lists, inner=st.booleans())
    def run(seed: Seed, ops: list[Op], inner: bool) -> None:
        with warnings.catch_warnings():  # numpy's overflow notes: tools/fuzz.py counts them
            warnings.simplefilter("ignore", RuntimeWarning)
            check(reader, mutated(seed, ops, inner))

    run()


def test_fuzz_ply() -> None:
    _fuzz("ply")


def test_fuzz_ply_streamed() -> None:
    _fuzz("ply_streamed")


def test_fuzz_spz() -> None:
    assert "spz" in READERS, "gen404.splats.spz.read_spz is gone"
    _fuzz("spz")


def test_spz_small_file_claiming_many_splats_is_refused() -> None:
    """A 1 KB zstd SPZ whose header claims a million splats is refused without first
    allocating what the claim would need (19 MB): the zstd stream is read in bounded
    chunks (splats/inflate.py), so the peak stays at about one chunk.
    """
    head = struct.pack("<4sIIBBBB", b"NGSP", 2, 1_000_000, 0, 12, 0, 0)
    data = WRAPS["zstd"](head + random.Random(7).randbytes(1000))
    assert len(data) < 1100
    outcome = measure("spz", data)
    assert outcome.result == "refused"
    assert outcome.peak <= allowed_bytes("spz", data)
    assert outcome.peak < 4 << 20, outcome.peak
