"""Real splat files, and what splat-transform 3.7.0 makes of them, read value by value.

The corpus: the four real files in tests/data/real (a 404 result, a DreamGaussian
model, a Mip-Splatting capture, an early SuperSplat compressed PLY) and the
degree-3 capture tests/data/capture_sh3.src.ply (for SH through compressed PLY and
SPZ). At test time, in a temporary folder (nothing is committed), splat-transform
converts each into every format it writes that gen404 reads: .ply, .compressed.ply
(its 18-float chunks with colour bounds), .spz and .splat.

The reference for every converted file is splat-transform's own decode of it: the
file converted back to a plain .ply by splat-transform, read by our PLY reader.
Ours must match it within float32 rounding (far inside each format's quantisation
step), with these known, deliberate differences, each pinned down here:

- compressed PLY: alpha bytes 0 and 255 decode to infinite logits in
  splat-transform; ours clamps them (logit ±13.8), like every reader here.
- .splat: splat-transform decodes rotation bytes as ``b / 255 * 2 - 1`` and
  normalises; ours keeps ``(b - 128) / 128`` (antimatter15's viewer). Normalised,
  they agree within two byte steps.
- SPZ: splat-transform 3.x writes the PLY's values into SPZ unconverted and reads
  them back the same way; ours reads SPZ as RUB (the format's documented frame),
  so its cloud is the reference turned 180 degrees about x (y and z negated,
  rotations and SH with them).

The same facts, put as orientation: per-axis position distributions of our read of
each conversion against our read of its source show .ply, .compressed.ply and
.splat land in the source's frame, and .spz from splat-transform 3.x lands turned
180 degrees about x.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from gen404.splats.cloud import SplatCloud
from gen404.splats.frames import to_ply_frame
from gen404.splats.ply import read_ply_file
from gen404.splats.reader import read_splat_file

from tests.unit.spzfiles import run_parallel, splat_transform

DATA = Path(__file__).resolve().parents[1] / "data"
REAL = DATA / "real"

SOURCES = {
    "hamburger": REAL / "hamburger.ply",
    "tmp_model": REAL / "tmp_model.ply",
    "donut_fused": REAL / "donut_fused.ply",
    "angel": REAL / "angel.compressed.ply",
    "capture_sh3": DATA / "capture_sh3.src.ply",
}
COUNTS = {"hamburger": 52_709, "tmp_model": 49_744, "donut_fused": 45_624, "angel": 71_377}
FORMATS = ("ply", "compressed.ply", "spz", "splat")
CONVERSIONS = [(name, fmt) for name in COUNTS for fmt in FORMATS] + [
    ("capture_sh3", "ply"),
    ("capture_sh3", "compressed.ply"),
    ("capture_sh3", "spz"),
]
ST = "3.7.0"
PARALLEL = 4
"""Node processes at once (each holds ~100 MB; the test machines have two cores)."""


@dataclass
class Corpus:
    folder: Path

    def converted(self, name: str, fmt: str) -> Path:
        return self.folder / f"{name}.{fmt}"

    def reference(self, name: str, fmt: str) -> Path:
        """splat-transform's decode: the conversion as plain PLY (for .ply, itself)."""
        if fmt == "ply":
            return self.converted(name, fmt)
        return self.folder / f"{name}.{fmt}.back.ply"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """Every conversion and every decode back, made once (about 10 s on two cores)."""
    out = Corpus(tmp_path_factory.mktemp("real-corpus"))
    forward = [
        splat_transform(ST, SOURCES[name], out.converted(name, fmt)) for name, fmt in CONVERSIONS
    ]
    back = [
        splat_transform(ST, out.converted(name, fmt), out.reference(name, fmt))
        for name, fmt in CONVERSIONS
        if fmt != "ply"
    ]
    for commands in (forward, back):
        for i in range(0, len(commands), PARALLEL):
            run_parallel(commands[i : i + PARALLEL])
    return out


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x.astype(np.float64)))


def unit(q: np.ndarray) -> np.ndarray:
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def close(got: np.ndarray, want: np.ndarray, what: str, steps: float = 8) -> None:
    """Equal within ``steps`` float32 rounding steps of the array's largest magnitude."""
    assert got.shape == want.shape, what
    scale = max(1.0, float(np.abs(want).max())) if want.size else 1.0
    np.testing.assert_allclose(got, want, rtol=0, atol=steps * 2**-24 * scale, err_msg=what)


def assert_matches_reference(ours: SplatCloud, ref: SplatCloud, fmt: str) -> None:
    """Our read of a file against splat-transform's decode of it (see the module doc)."""
    assert ours.count == ref.count and ours.sh_degree == ref.sh_degree
    if fmt == "spz":  # ours reads SPZ as RUB; splat-transform 3.x as the PLY frame
        ref = SplatCloud(
            ref.positions.copy(), ref.log_scales, ref.rotations.copy(), ref.opacity_logit,
            ref.sh_dc, ref.sh_rest.copy(),
        )  # fmt: skip
        to_ply_frame(ref.positions, ref.rotations, ref.sh_rest, "RUB")
    close(ours.positions, ref.positions, "positions")
    close(ours.log_scales, ref.log_scales, "log_scales")
    close(ours.sh_dc, ref.sh_dc, "sh_dc")
    close(ours.sh_rest, ref.sh_rest, "sh_rest")
    if fmt == "splat":  # different byte conventions, equal once normalised (module doc)
        dots = np.abs(np.sum(unit(ours.rotations) * unit(ref.rotations), axis=1))
        assert dots.min() > 1 - 2e-4
        # Within two byte steps once normalised (normalising a short quaternion stretches one).
        np.testing.assert_allclose(unit(ours.rotations), unit(ref.rotations), atol=2 / 127.5)
    else:
        close(ours.rotations, ref.rotations, "rotations", steps=32)
    finite = np.isfinite(ref.opacity_logit)
    close(ours.opacity_logit[finite], ref.opacity_logit[finite], "opacity_logit")
    # splat-transform's infinite logits (alpha byte 0 or 255): ours are clamped, same side.
    ends = ref.opacity_logit[~finite]
    assert fmt in ("compressed.ply", "ply") or ends.size == 0
    assert np.array_equal(np.sign(ours.opacity_logit[~finite]), np.sign(ends))
    assert np.all(np.abs(ours.opacity_logit[~finite]) > 13)
    np.testing.assert_allclose(sigmoid(ours.opacity_logit), sigmoid(ref.opacity_logit), atol=2e-6)


@pytest.mark.parametrize(("name", "fmt"), CONVERSIONS, ids=[f"{n}-{f}" for n, f in CONVERSIONS])
def test_conversion_reads_as_splat_transform_decodes_it(
    corpus: Corpus, name: str, fmt: str
) -> None:
    """Each conversion (for .ply: each source itself) against splat-transform's decode."""
    reference = read_ply_file(corpus.reference(name, fmt))
    if fmt == "ply":  # the .ply conversion is splat-transform's decode of the source
        ours = read_splat_file(SOURCES[name])
        if SOURCES[name].name.endswith(".compressed.ply"):
            fmt = "compressed.ply"
    else:
        ours = read_splat_file(corpus.converted(name, fmt))
    assert ours.count == COUNTS.get(name, 2000)
    assert_matches_reference(ours, reference, fmt)


FRAME = {"ply": "same", "compressed.ply": "same", "splat": "same", "spz": "turned about x"}
"""Where each splat-transform 3.7.0 conversion lands under our import, against its source."""


@pytest.mark.parametrize(("name", "fmt"), CONVERSIONS, ids=[f"{n}-{f}" for n, f in CONVERSIONS])
def test_orientation_of_each_conversion(corpus: Corpus, name: str, fmt: str) -> None:
    """Order-independent: each axis's sorted positions, ours of the file against the source."""
    source = read_splat_file(SOURCES[name]).positions.astype(np.float64)
    ours = np.sort(read_splat_file(corpus.converted(name, fmt)).positions, axis=0)
    span = source.max(0) - source.min(0)
    # Within the format's position step: compressed PLY's 10-bit axis over the whole
    # scene bounds it (each chunk's range is smaller); SPZ's 12 fractional bits.
    step = {"compressed.ply": span / 1023, "spz": np.full(3, 2.0**-12)}.get(fmt, span * 1e-6)
    same = np.abs(np.sort(source, axis=0) - ours).max(axis=0)
    turned = np.abs(np.sort(source * [1, -1, -1], axis=0) - ours).max(axis=0)
    if FRAME[fmt] == "same":
        assert np.all(same <= step) and turned.max() > 10 * step.max()
    else:
        assert np.all(turned <= step) and same.max() > 10 * step.max()
