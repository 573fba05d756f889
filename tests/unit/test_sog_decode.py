"""SOG decoding: the table maths against the format's formulas, and the decode pipeline.

``test_sog.py`` checks whole files against splat-transform's own decode; here the
whole-array tricks of ``sog_tables.py`` (byte arithmetic choosing quaternion slots,
16-bit codes from two images) are checked texel by texel against the formulas
written plainly, for every byte value, and ``read_sog`` is checked to overlap:
each image's splat values are computed on another thread while the next image
is decoded on the calling thread (where Blender's loader must run).
"""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
from gen404.splats import sog_decode, sog_tables
from gen404.splats.sog import open_sog_zip

from tests.unit.sogfiles import pillow_webp, sog_v1_files, zip_bytes
from tests.unit.spzfiles import realistic_splats


def rotation_by_formula(texel: np.ndarray) -> list[float]:
    """splat-transform's readSog for one quats texel, in float64, then float32."""
    a, b, c, tag = (int(v) for v in texel)
    if tag < 252:
        return [1.0, 0.0, 0.0, 0.0]
    stored = [(v / 255 * 2 - 1) / math.sqrt(2) for v in (a, b, c)]
    largest = math.sqrt(max(0.0, 1 - (stored[0] ** 2 + stored[1] ** 2 + stored[2] ** 2)))
    q = [*stored[: tag - 252], largest, *stored[tag - 252 :]]
    return [float(np.float32(v)) for v in q]


def test_rotations_of_every_tag_and_byte_are_the_formulas() -> None:
    rng = np.random.default_rng(4)
    texels = rng.integers(0, 256, (4096, 4), dtype=np.uint8)
    texels[:256, 3] = np.arange(256)  # every tag, valid or not
    texels[256:512, :3] = np.arange(256)[:, None]  # every byte in each stored slot
    texels[256:512, 3] = 252 + np.arange(256) % 4
    want = np.array([rotation_by_formula(t) for t in texels], np.float32)
    got = np.empty((len(texels), 4), np.float32)
    sog_tables.rotations(texels, got)
    assert got.tobytes() == want.tobytes()


def test_positions_take_16_bit_codes_from_the_two_images() -> None:
    rng = np.random.default_rng(5)
    low = rng.integers(0, 256, (5000, 4), dtype=np.uint8)
    high = rng.integers(0, 256, (5000, 4), dtype=np.uint8)
    mins, maxs = np.array([-3.0, -0.25, 2.0]), np.array([2.5, 4.0, 2.0])  # z: an empty span
    got = np.empty((len(low), 3), np.float32)
    sog_tables.positions(low, high, sog_tables.position_tables(mins, maxs), got)
    for axis in range(3):
        code = low[:, axis].astype(np.int64) + 256 * high[:, axis]
        v = mins[axis] + ((maxs[axis] - mins[axis]) or 1.0) * (code / 65535)
        want = (np.sign(v) * np.expm1(np.abs(v))).astype(np.float32)
        np.testing.assert_array_equal(got[:, axis], want)


def test_images_are_decoded_on_the_calling_thread_while_another_computes_the_splats(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    package = open_sog_zip(zip_bytes(sog_v1_files(realistic_splats(50, 3, seed=2))), "x.sog")
    caller = threading.get_ident()
    decoded: list[int] = []
    step_threads: dict[int, int] = {}
    palette_step_started = threading.Event()
    add = sog_decode.SogSplats.add

    def recording_add(self: sog_decode.SogSplats, role: int, pixels: np.ndarray) -> None:
        step_threads[role] = threading.get_ident()
        if role == sog_decode.CENTROIDS:
            palette_step_started.set()
        add(self, role, pixels)

    def decoder(blob: bytes) -> np.ndarray:
        decoded.append(threading.get_ident())
        if len(decoded) == 2:  # the first image's step runs while this one decodes
            assert palette_step_started.wait(10), "the palette's step did not start"
        return pillow_webp(blob)

    monkeypatch.setattr(sog_decode.SogSplats, "add", recording_add)
    cloud = sog_decode.read_sog(package, decoder)
    assert decoded == [caller] * 7
    assert sorted(step_threads) == list(range(7))  # every image's step, once
    assert step_threads[sog_decode.CENTROIDS] != caller  # the helper's, beside the decoding
    reference = sog_decode.SogSplats(package)
    for role in sog_decode.DECODE_ORDER:
        add(reference, role, pillow_webp(package.images[reference.names[role]]))
    for name, value in vars(reference.cloud()).items():
        if isinstance(value, np.ndarray):
            assert value.tobytes() == getattr(cloud, name).tobytes(), name


def test_a_late_first_touch_of_the_sh_array_never_overwrites_the_splats(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The helper writes the SH array once before the splats go in; when it is that late
    (a busy machine), the calling thread must wait for it before taking steps itself."""
    package = open_sog_zip(zip_bytes(sog_v1_files(realistic_splats(50, 3, seed=4))), "x.sog")
    sh_written = threading.Event()
    touch, add = sog_decode.SogSplats.touch, sog_decode.SogSplats.add

    def late_touch(self: sog_decode.SogSplats) -> None:
        # As late as can be: after the SH went in, if anything lets the splats go in first
        # (read_sog must not: then this waits in vain for a moment, and writes first).
        sh_written.wait(0.5)
        touch(self)

    def recording_add(self: sog_decode.SogSplats, role: int, pixels: np.ndarray) -> None:
        add(self, role, pixels)
        if "sh_rest" in self.values:
            sh_written.set()

    monkeypatch.setattr(sog_decode.SogSplats, "touch", late_touch)
    monkeypatch.setattr(sog_decode.SogSplats, "add", recording_add)
    cloud = sog_decode.read_sog(package, pillow_webp)
    reference = sog_decode.SogSplats(package)
    for role in sog_decode.DECODE_ORDER:
        add(reference, role, pillow_webp(package.images[reference.names[role]]))
    assert np.any(cloud.sh_rest != 0)
    assert cloud.sh_rest.tobytes() == reference.cloud().sh_rest.tobytes()
