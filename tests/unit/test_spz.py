"""The SPZ reader against hand-written files of every variant, 404's own files, and junk.

Files come from tests/unit/spzfiles.py (an encoder written from the format notes,
not from splats/spz.py); test_spz_peers.py checks the same reader against
independent encoders from npm.
"""

from __future__ import annotations

import contextlib
import gzip
import struct
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import zstandard
from gen404.splats.cloud import SplatFormatError
from gen404.splats.ply import read_ply_file
from gen404.splats.spz import MAX_SPLATS, read_spz

from tests.unit.spzfiles import (
    Splats,
    SpzOptions,
    assert_close_to_source,
    coordinate_system_extension,
    encode_spz,
    extension_record,
    quantised_arrays,
    realistic_splats,
    zstd_without_size,
)

DATA = Path(__file__).resolve().parent.parent / "data"


# --- every variant ---------------------------------------------------------------------

VARIANTS = [
    ("zstd", 1, "RDF"),
    ("zstd", 2, "RDF"),
    ("gzip", 1, "RUB"),
    ("gzip", 2, "RUB"),
    ("gzip", 3, "RUB"),
    ("plain", 3, "RUB"),
    ("v4", 4, "RUB"),
]


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
@pytest.mark.parametrize(("wrapper", "version", "frame"), VARIANTS)
def test_variants_read_back_the_source(wrapper: str, version: int, frame: str, degree: int) -> None:
    """404's zstd SPZ shares the PLY frame; upstream SPZ is RUB and comes back in RDF."""
    src = realistic_splats(300, degree, seed=version * 10 + degree)
    data = encode_spz(src, SpzOptions(version=version, wrapper=wrapper, frame=frame))
    cloud = read_spz(data)
    assert cloud.sh_degree == degree
    assert cloud.warnings == []
    assert_close_to_source(cloud, src, version)


def test_degree_4_keeps_degree_3_and_says_so() -> None:
    src = realistic_splats(50, 4, seed=4)
    cloud = read_spz(encode_spz(src, SpzOptions(version=4, frame="RUB")))
    assert cloud.sh_degree == 3
    assert_close_to_source(cloud, src, 4)
    assert len(cloud.warnings) == 1
    assert "SH degree 4" in cloud.warnings[0] and "degree 3" in cloud.warnings[0]


@pytest.mark.parametrize("bits", [8, 12, 16])
def test_fractional_bits(bits: int) -> None:
    src = realistic_splats(40, seed=bits)
    src.positions /= 8  # 16 bits leave 7 for the integer part
    cloud = read_spz(encode_spz(src, SpzOptions(version=2, fractional_bits=bits)))
    assert_close_to_source(cloud, src, 2, fractional_bits=bits)


def test_zero_splats() -> None:
    cloud = read_spz(encode_spz(realistic_splats(0, 2), SpzOptions(version=4)))
    assert cloud.count == 0 and cloud.sh_rest.shape == (0, 8, 3)


def test_zstd_frame_without_content_size() -> None:
    """Streaming zstd writers leave the size out of the frame header."""
    src = realistic_splats(100, 1)
    cloud = read_spz(encode_spz(src, SpzOptions(version=2, zstd_content_size=False)))
    assert_close_to_source(cloud, src, 2)


def test_gzip_members_concatenated_and_trailing_padding() -> None:
    src = realistic_splats(80, 1)
    opts = SpzOptions(version=3, wrapper="gzip", frame="RUB")
    payload = gzip.decompress(encode_spz(src, opts))
    split = 16 + 37
    data = gzip.compress(payload[:split]) + gzip.compress(payload[split:]) + bytes(64)
    assert_close_to_source(read_spz(data), src, 3)


# --- exact decoding of known bytes ---------------------------------------------------------


def one_splat(version: int, arrays: list[bytes], degree: int = 0, bits: int = 12) -> bytes:
    header = struct.pack("<4sIIBBBB", b"NGSP", version, 1, degree, bits, 0, 0)
    return zstandard.ZstdCompressor().compress(header + b"".join(arrays))


def test_known_bytes_decode_exactly() -> None:
    """Hand-computed values straight from the format notes (404 zstd, version 2)."""
    positions = bytes([0x00, 0xE8, 0xFF, 0x00, 0x10, 0x00, 0xFF, 0xFF, 0x7F])  # -1.5, 1, max
    sh = bytes([0, 128, 255, 64, 192, 1, 127, 129, 200])
    colours, scales, rotation = bytes([0, 128, 255]), bytes([0, 160, 255]), bytes([255, 127, 0])
    cloud = read_spz(one_splat(2, [positions, b"\xff", colours, scales, rotation, sh], degree=1))
    np.testing.assert_array_equal(cloud.positions[0], [-1.5, 1.0, (2**23 - 1) / 4096])
    assert cloud.opacity_logit[0] == pytest.approx(np.log((1 - 1e-6) / 1e-6), rel=1e-6)
    np.testing.assert_allclose(
        cloud.sh_dc[0], [-0.5 / 0.15, (128 / 255 - 0.5) / 0.15, 0.5 / 0.15], rtol=1e-6
    )
    np.testing.assert_array_equal(cloud.log_scales[0], [-10.0, 0.0, 255 / 16 - 10])
    # x = 255/127.5 - 1 = 1, y = 127/127.5 - 1, z = -1: |xyz| > 1 so w = 0.
    np.testing.assert_allclose(cloud.rotations[0], [0, 1, 127 / 127.5 - 1, -1], atol=1e-7)
    expected_sh = (np.frombuffer(sh, np.uint8).astype(np.float32) - 128) / 128
    np.testing.assert_array_equal(cloud.sh_rest[0], expected_sh.reshape(3, 3))


def test_alpha_zero_and_full_are_finite() -> None:
    cloud = read_spz(one_splat(2, [bytes(9), b"\x00", bytes(3), bytes(3), bytes(3)]))
    assert cloud.opacity_logit[0] == pytest.approx(-np.log((1 - 1e-6) / 1e-6), rel=1e-6)
    assert np.isfinite(cloud.opacity_logit).all()


def smallest_three(largest: int, fields: list[tuple[int, int]]) -> bytes:
    """u32: bits 30-31 the largest's index; then (sign, magnitude) from the high field down."""
    comp = largest
    for sign, mag in fields:
        comp = (comp << 10) | (sign << 9) | mag
    return struct.pack("<I", comp)


@pytest.mark.parametrize(
    ("largest", "fields", "xyzw"),
    [
        # w largest; the fields fill x, y, z in that order (the first in the highest bits).
        (3, [(0, 434), (0, 0), (0, 0)], (434 / 511 * np.sqrt(0.5), 0, 0, None)),
        (3, [(0, 0), (1, 100), (0, 511)], (0, -100 / 511 * np.sqrt(0.5), np.sqrt(0.5), None)),
        # x largest: y, z, w follow.
        (
            0,
            [(1, 200), (0, 50), (0, 300)],
            (None, -200 / 511 * np.sqrt(0.5), 50 / 511 * np.sqrt(0.5), 300 / 511 * np.sqrt(0.5)),
        ),
        (
            2,
            [(0, 1), (1, 2), (0, 3)],
            (1 / 511 * np.sqrt(0.5), -2 / 511 * np.sqrt(0.5), None, 3 / 511 * np.sqrt(0.5)),
        ),
    ],
)
def test_smallest_three_bit_layout(largest: int, fields: list, xyzw: tuple) -> None:
    """Version 3+ rotations, decoded from bits laid out by hand (404 frame: no turning)."""
    header = struct.pack("<4sIIBBBB", b"NGSP", 3, 1, 0, 12, 0, 0)
    rot = smallest_three(largest, fields)
    payload = header + bytes(9) + b"\x80" + bytes(6) + rot
    cloud = read_spz(b"NGSP" + payload[4:])  # plain (uncompressed) version 3: RUB frame
    known = [v for v in xyzw if v is not None]
    xyzw = [np.sqrt(1 - sum(v * v for v in known)) if v is None else v for v in xyzw]
    rub_to_rdf = np.array([1, -1, -1, 1])
    expected = np.array(xyzw) * rub_to_rdf
    w_first = np.r_[expected[3], expected[:3]]
    np.testing.assert_allclose(cloud.rotations[0], w_first, atol=1e-6)


# --- frames ---------------------------------------------------------------------------------


def test_frames_404_untouched_upstream_turned() -> None:
    """One splat at (1, 2, 3) rotated about +y: 404 keeps it, upstream (RUB) negates y, z."""
    s = Splats(
        positions=np.array([[1, 2, 3]], np.float32),
        log_scales=np.full((1, 3), -2, np.float32),
        rotations=np.array([[0.8, 0.0, 0.6, 0.0]], np.float32),
        opacity=np.zeros(1, np.float32),
        f_dc=np.zeros((1, 3), np.float32),
        sh=np.full((1, 3, 3), 0.5, np.float32),
    )
    ours = read_spz(encode_spz(s, SpzOptions(version=2, wrapper="zstd", frame="RDF")))
    upstream = read_spz(encode_spz(s, SpzOptions(version=2, wrapper="gzip", frame="RDF")))
    np.testing.assert_allclose(ours.positions[0], [1, 2, 3], atol=1e-3)
    np.testing.assert_allclose(upstream.positions[0], [1, -2, -3], atol=1e-3)
    np.testing.assert_allclose(ours.rotations[0], [0.8, 0, 0.6, 0], atol=0.01)
    np.testing.assert_allclose(upstream.rotations[0], [0.8, 0, -0.6, 0], atol=0.01)
    # Degree 1 basis -y, z, -x: under y, z -> -y, -z the first two flip.
    np.testing.assert_allclose(ours.sh_rest[0, :, 0], [0.5, 0.5, 0.5], atol=0.01)
    np.testing.assert_allclose(upstream.sh_rest[0, :, 0], [-0.5, -0.5, 0.5], atol=0.01)


@pytest.mark.parametrize(("code", "flip"), [(4, True), (6, False), (0, True)])
def test_v4_coordinate_system_extension(code: int, flip: bool) -> None:
    """RUB (4) is the default, RDF (6) is read as is, UNSPECIFIED (0) falls back to RUB."""
    src = realistic_splats(60, 3, seed=code)
    opts = SpzOptions(version=4, flags=2, extensions=coordinate_system_extension(code))
    cloud = read_spz(encode_spz(src, opts))  # values written unconverted (the PLY's)
    assert cloud.warnings == []
    assert_close_to_source(cloud, src.in_rub() if flip else src, 4)


def test_v4_unknown_extensions_are_skipped() -> None:
    src = realistic_splats(20, 1)
    zone = extension_record(0xADBE0002, struct.pack("<3f", 0.1, 0.2, 1.0))
    zone += extension_record(0x12340001, b"vendor data") + coordinate_system_extension(6)
    cloud = read_spz(encode_spz(src, SpzOptions(version=4, flags=2, extensions=zone)))
    assert_close_to_source(cloud, src, 4)


def test_v4_unknown_coordinate_system_warns() -> None:
    src = realistic_splats(10, 1)
    opts = SpzOptions(version=4, flags=2, frame="RUB", extensions=coordinate_system_extension(77))
    cloud = read_spz(encode_spz(src, opts))
    assert_close_to_source(cloud, src, 4)
    assert "coordinate system 77" in cloud.warnings[0]


def test_v4_broken_extension_zone_warns_and_reads_the_data() -> None:
    src = realistic_splats(10)
    opts = SpzOptions(version=4, flags=2, frame="RUB", extensions=struct.pack("<II", 5, 999))
    cloud = read_spz(encode_spz(src, opts))
    assert_close_to_source(cloud, src, 4)
    assert "could not be parsed" in cloud.warnings[0]


def test_gzip_extension_records_before_the_data() -> None:
    """Upstream puts extension records between header and arrays in versions 1-3 too."""
    src = realistic_splats(30, 2)
    opts = SpzOptions(version=3, wrapper="gzip", flags=2, extensions=coordinate_system_extension(6))
    assert_close_to_source(read_spz(encode_spz(src, opts)), src, 3)


def rotation_matrix(q: np.ndarray) -> np.ndarray:
    w, x, y, z = q / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def covariance(q: np.ndarray, log_scale: np.ndarray) -> np.ndarray:
    r = rotation_matrix(q.astype(np.float64)) * np.exp(log_scale.astype(np.float64))
    return r @ r.T


def test_v4_rotated_family_right_forward_up() -> None:
    """RFU: x right, y forward, z up: a quarter turn from RDF, SH rotated with it."""
    src = realistic_splats(40, 1, seed=9)
    # RDF (x, y, z) is RFU (x, z, -y); the same turn for rotations (-90 deg about x).
    a = np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], np.float64)
    turn = np.array([np.sqrt(0.5), -np.sqrt(0.5), 0, 0])
    w1, x1, y1, z1 = turn
    w2, x2, y2, z2 = src.rotations.astype(np.float64).T
    turned = np.stack(
        [
            w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
            w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
            w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
            w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
        ],
        axis=1,
    )
    # Degree 1 basis is C1 (-y, z, -x) = C1 P d, so coefficients turn as P A Pᵀ.
    p = np.array([[0, -1, 0], [0, 0, 1], [-1, 0, 0]], np.float64)
    sh = np.einsum("kj,njc->nkc", p @ a @ p.T, src.sh.astype(np.float64))
    rfu = Splats(
        positions=(src.positions @ a.T).astype(np.float32),
        log_scales=src.log_scales,
        rotations=turned.astype(np.float32),
        opacity=src.opacity,
        f_dc=src.f_dc,
        sh=sh.astype(np.float32),
    )
    opts = SpzOptions(version=4, flags=2, extensions=coordinate_system_extension(12))
    cloud = read_spz(encode_spz(rfu, opts))
    np.testing.assert_allclose(cloud.positions, src.positions, atol=2**-12)
    np.testing.assert_allclose(cloud.sh_rest, src.sh, atol=1 / 256 + 1e-6)
    for i in range(src.count):
        np.testing.assert_allclose(
            covariance(cloud.rotations[i], cloud.log_scales[i]),
            covariance(src.rotations[i], cloud.log_scales[i]),
            atol=2e-3 * np.exp(2 * cloud.log_scales[i].max()),
        )


# --- 404's own files ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["gen404_sh0", "capture_sh3"])
def test_404_fixture_matches_404s_decoder(name: str) -> None:
    """X.spz read by us equals X.decoded.ply (404's tool), field by field."""
    cloud = read_spz((DATA / f"{name}.spz").read_bytes())
    decoded = read_ply_file(DATA / f"{name}.decoded.ply")
    assert cloud.count == decoded.count and cloud.sh_degree == decoded.sh_degree
    np.testing.assert_array_equal(cloud.positions, decoded.positions)
    np.testing.assert_array_equal(cloud.log_scales, decoded.log_scales)
    np.testing.assert_array_equal(cloud.rotations, decoded.rotations)
    np.testing.assert_array_equal(cloud.sh_rest, decoded.sh_rest)
    # 404's tool computes these in float32; ours in float64 then rounds: one ulp apart.
    np.testing.assert_allclose(cloud.opacity_logit, decoded.opacity_logit, rtol=0, atol=1e-6)
    np.testing.assert_allclose(cloud.sh_dc, decoded.sh_dc, rtol=0, atol=1e-6)
    assert cloud.warnings == []


@pytest.mark.parametrize("name", ["gen404_sh0", "capture_sh3"])
def test_404_fixture_close_to_its_source(name: str) -> None:
    """And within quantisation of the PLY it was made from: same frame, no turning.

    404's tool rounds higher SH to buckets (5 bits for degree 1, 4 for the rest, as
    upstream's default): errors up to half a bucket, 1/16 of a unit, plus a rounding step.
    """
    cloud = read_spz((DATA / f"{name}.spz").read_bytes())
    src = read_ply_file(DATA / f"{name}.src.ply")
    s = Splats(
        src.positions, src.log_scales, src.rotations, src.opacity_logit, src.sh_dc, src.sh_rest
    )
    assert_close_to_source(cloud, s, 2, sh_atol=1 / 16 + 1 / 256)


# --- refused ----------------------------------------------------------------------------------


def payload_of(src: Splats, version: int = 2, **header: int) -> bytes:
    fields = {"count": src.count, "degree": src.sh.shape[1] and 1, "bits": 12, "flags": 0}
    fields.update(header)
    head = struct.pack(
        "<4sIIBBBB",
        b"NGSP",
        version,
        fields["count"],
        fields["degree"],
        fields["bits"],
        fields["flags"],
        0,
    )
    return head + b"".join(quantised_arrays(src, SpzOptions(version=version)))


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"PK\x03\x04" + bytes(60), "Not an SPZ file: it starts with 50 4b 03 04"),
        (zstandard.ZstdCompressor().compress(b"hello world, not a splat"), "not the 'NGSP'"),
        (zstandard.ZstdCompressor().compress(b"ply\nformat ascii 1.0\n"), "holds a PLY"),
        (gzip.compress(b"GIF89a" + bytes(30)), "not the 'NGSP'"),
        (zstandard.ZstdCompressor().compress(b"NGSP\x02"), "before the 16-byte SPZ header"),
        (b"\x28\xb5\x2f\xfd" + bytes(40), "zstd-compressed data"),
        (b"\x1f\x8b\x08\x00" + bytes(40), "gzip-compressed data is corrupt"),
        (b"NGSP\x04\x00\x00\x00", "inside its 32-byte header"),
    ],
)
def test_not_spz(data: bytes, words: str) -> None:
    with pytest.raises(SplatFormatError) as err:
        read_spz(data)
    assert words in str(err.value)


@pytest.mark.parametrize(
    ("wrapper", "version", "words"),
    [
        ("zstd", 3, "SPZ version 3 is not valid for 404's zstd-wrapped SPZ (versions 1, 2)"),
        ("zstd", 0, "SPZ version 0 is not valid"),
        ("gzip", 4, "SPZ version 4 is not valid for gzip-compressed SPZ (versions 1, 2, 3)"),
        ("gzip", 9, "SPZ version 9"),
    ],
)
def test_bad_versions(wrapper: str, version: int, words: str) -> None:
    data = encode_spz(realistic_splats(3), SpzOptions(version=2, wrapper=wrapper))
    payload = (
        zstandard.ZstdDecompressor().decompress(data)
        if wrapper == "zstd"
        else gzip.decompress(data)
    )
    payload = payload[:4] + struct.pack("<I", version) + payload[8:]
    wrapped = (
        zstandard.ZstdCompressor().compress(payload)
        if wrapper == "zstd"
        else gzip.compress(payload)
    )
    with pytest.raises(SplatFormatError, match=words.replace("(", r"\(").replace(")", r"\)")):
        read_spz(wrapped)


def test_v4_newer_version_is_refused() -> None:
    data = bytearray(encode_spz(realistic_splats(3), SpzOptions(version=4)))
    data[4:8] = struct.pack("<I", 5)
    with pytest.raises(SplatFormatError, match="version 5 is newer than this add-on can read"):
        read_spz(bytes(data))


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"degree": 7}, "SH degree 7; SPZ has degrees 0-4"),
        ({"bits": 40}, "40 fractional bits"),
        ({"count": MAX_SPLATS + 1}, "more than 100,000,000"),
    ],
)
def test_bad_header_fields(change: dict[str, int], words: str) -> None:
    payload = payload_of(realistic_splats(4), **change)
    with pytest.raises(SplatFormatError, match=words):
        read_spz(zstandard.ZstdCompressor().compress(payload))


@pytest.mark.parametrize("wrapper", ["zstd", "gzip", "v4"])
@pytest.mark.parametrize("count", [10**9, 50_000_000])
def test_absurd_counts_are_refused_before_allocating(wrapper: str, count: int) -> None:
    """A ~1 KB file claiming millions of splats stops at the header, allocating nothing."""
    src = realistic_splats(20, 1)
    version = 4 if wrapper == "v4" else 2
    opts = SpzOptions(version=version, wrapper=wrapper if wrapper != "v4" else "zstd", count=count)
    if wrapper == "v4":
        per = [9, 1, 3, 3, 4, 9]
        opts.toc_sizes = [count * p for p in per]
    data = encode_spz(src, opts)
    assert len(data) < 2048
    tracemalloc.start()
    try:
        with pytest.raises(SplatFormatError) as err:
            read_spz(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000
    message = str(err.value)
    assert f"{count:,}" in message
    assert any(w in message for w in ("more than", "cannot hold that much", "real SPZ files"))


def bomb(kind: str, payload_head: bytes, zeros: int) -> bytes:
    """A small compressed file whose data part expands to ``zeros`` bytes of zeros."""
    if kind == "gzip":
        z = gzip.compress(payload_head + bytes(zeros), compresslevel=9)
    else:
        z = zstandard.ZstdCompressor(level=19).compress(payload_head + bytes(zeros))
    return z


@pytest.mark.parametrize("kind", ["zstd", "gzip"])
def test_decompression_bomb_is_not_expanded(kind: str) -> None:
    """Header says 1,000 splats, the stream holds 64 MB: only what 1,000 need is inflated."""
    head = struct.pack("<4sIIBBBB", b"NGSP", 2, 1000, 0, 12, 0, 0)
    data = bomb(kind, head, 64 << 20)
    assert len(data) < 200_000
    tracemalloc.start()
    started = time.perf_counter()
    try:
        cloud = read_spz(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert cloud.count == 1000
    assert peak < 4_000_000
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize("kind", ["zstd", "gzip", "v4"])
def test_a_few_kilobytes_claiming_millions_of_splats_are_not_decoded(kind: str) -> None:
    """The review's bomb: ~12 KB of zstd claiming 20M splats of zeros passed the format's
    own ratio limit and decoded to a 1.6 GiB peak in ~5 s. No real SPZ is that small."""
    count = 20_000_000
    if kind == "v4":
        src = realistic_splats(20, 0)
        per = [9, 1, 3, 3, 4]
        zero = zstandard.ZstdCompressor(level=19).compress(bytes(count * 9))
        data = encode_spz(
            src, SpzOptions(version=4, count=count, toc_sizes=[count * p for p in per])
        )
        data = _replace_v4_stream(data, 0, zero)
    else:
        head = struct.pack("<4sIIBBBB", b"NGSP", 2, count, 0, 12, 0, 0)
        data = bomb(kind, head, count * 19)
    assert len(data) < 400_000  # gzip's best is ~1000:1; zstd's far better
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(SplatFormatError, match=r"20,000,000 splats.*real SPZ files stay under"):
            read_spz(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000
    assert time.perf_counter() - started < 1  # refused at the header, nothing inflated


def test_genuine_files_are_far_from_the_bound() -> None:
    """The bound leaves room: real SPZ compresses 1-4 times; the 404 fixtures measure that."""
    for name in ("gen404_sh0.spz", "capture_sh3.spz"):
        data = (DATA / name).read_bytes()
        cloud = read_spz(data)
        rest = cloud.sh_rest.shape[1] * 3
        decoded = 16 + cloud.count * (9 + 1 + 3 + 3 + 3 + rest)
        assert decoded / len(data) < 8, name


def test_v4_stream_bomb_is_refused() -> None:
    """A stream whose frame declares (or expands to) more than its TOC entry: refused."""
    src = realistic_splats(5)
    good = encode_spz(src, SpzOptions(version=4))
    big = zstandard.ZstdCompressor().compress(bytes(32 << 20))
    for blob in [big, zstd_without_size(bytes(32 << 20))]:
        data = _replace_v4_stream(good, 1, blob)
        tracemalloc.start()
        try:
            with pytest.raises(SplatFormatError, match="'alphas' stream"):
                read_spz(data)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 2_000_000


def _replace_v4_stream(data: bytes, index: int, blob: bytes) -> bytes:
    streams = data[15]
    toc = struct.unpack_from("<I", data, 16)[0]
    entries = [struct.unpack_from("<QQ", data, toc + 16 * i) for i in range(streams)]
    start = toc + 16 * streams
    blobs = []
    for compressed, _ in entries:
        blobs.append(data[start : start + compressed])
        start += compressed
    blobs[index] = blob
    table = b"".join(
        struct.pack("<QQ", len(b), size) for b, (_, size) in zip(blobs, entries, strict=True)
    )
    return data[:toc] + table + b"".join(blobs)


@pytest.mark.parametrize("wrapper", ["zstd", "gzip", "plain"])
def test_truncated(wrapper: str) -> None:
    src = realistic_splats(500, 1)
    version = 3 if wrapper == "plain" else 2
    data = encode_spz(src, SpzOptions(version=version, wrapper=wrapper))
    cut = data[: int(len(data) * 0.7)]
    with pytest.raises(SplatFormatError) as err:
        read_spz(cut)
    message = str(err.value)
    assert "truncated" in message or "cut off" in message


def test_truncated_message_counts() -> None:
    src = realistic_splats(100)
    data = encode_spz(src, SpzOptions(version=3, wrapper="plain"))
    with pytest.raises(SplatFormatError) as err:
        read_spz(data[:-50])
    message = str(err.value)
    assert "SPZ data is truncated: 100 splats of SH degree 0 need 2,000 bytes" in message
    assert "only 1,950 are present" in message


@pytest.mark.parametrize(
    ("cut", "words"),
    [(40, "table of contents at byte 32"), (-10, "runs past the end")],
)
def test_v4_truncated(cut: int, words: str) -> None:
    data = encode_spz(realistic_splats(200, 2), SpzOptions(version=4))
    with pytest.raises(SplatFormatError, match=words):
        read_spz(data[:cut])


def test_v4_inconsistent_table_of_contents() -> None:
    src = realistic_splats(10, 1)
    with pytest.raises(SplatFormatError, match="stream 'colors' holds 31 bytes but"):
        read_spz(encode_spz(src, SpzOptions(version=4, toc_sizes=[90, 10, 31, 30, 40, 90])))
    with pytest.raises(SplatFormatError, match="has 4 data streams; SH degree 1 needs 6"):
        read_spz(encode_spz(src, SpzOptions(version=4, streams=4)))
    with pytest.raises(SplatFormatError, match="table of contents at byte 8"):
        read_spz(encode_spz(src, SpzOptions(version=4, header_extra={"toc_offset": 8})))


def test_v4_stream_that_is_not_zstd() -> None:
    data = encode_spz(realistic_splats(30, 1), SpzOptions(version=4))
    first = 32 + 16 * 6
    broken = data[:first] + b"JUNK" + data[first + 4 :]
    with pytest.raises(SplatFormatError, match="'positions' stream is not zstd data"):
        read_spz(broken)


@pytest.mark.parametrize("wrapper", ["zstd", "gzip", "v4"])
def test_random_corruption_only_raises_splat_format_error(wrapper: str) -> None:
    """Flipped bytes anywhere: either a cloud or a SplatFormatError, nothing else."""
    src = realistic_splats(40, 2, seed=1)
    version = 4 if wrapper == "v4" else 2
    good = encode_spz(src, SpzOptions(version=version, wrapper=wrapper if version < 4 else "zstd"))
    rng = np.random.default_rng(7)
    for _ in range(150):
        data = bytearray(good)
        for pos in rng.integers(0, len(data), rng.integers(1, 4)):
            data[pos] = int(rng.integers(0, 256))
        with contextlib.suppress(SplatFormatError):
            read_spz(bytes(data))
