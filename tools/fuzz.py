"""Fuzz the splat readers for a while: ``python tools/fuzz.py --seconds 300``.

The long run behind ``make fuzz``. It uses the seeds, mutations and oracle of
tests/unit/test_fuzz_readers.py (the bounded run in ``make test``): each input
must be read or refused with SplatFormatError, within the time and memory the
input justifies. Prints executions and findings per reader; each finding's input
is saved under --out for a regression test. Exit status 1 when anything was found.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import random
import signal
import sys
import time
import traceback
import warnings
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _load() -> object:
    """The repository as package ``gen404`` (as tests/conftest.py does), then the fuzz test."""
    sys.path.insert(0, str(ROOT))
    if "gen404" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "gen404", ROOT / "__init__.py", submodule_search_locations=[str(ROOT)]
        )
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules["gen404"] = module
        spec.loader.exec_module(module)
    import tests.unit.test_fuzz_readers as fuzz

    return fuzz


class Hang(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise Hang


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="total time budget")
    parser.add_argument("--reader", choices=("all", "ply", "ply_streamed", "spz"), default="all")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: time)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "fuzz-findings")
    parser.add_argument("--hang-seconds", type=int, default=10)
    args = parser.parse_args(argv)

    fuzz = _load()
    readers = [r for r in fuzz.READERS if args.reader in ("all", r)]
    if not readers:
        print(f"reader {args.reader!r} is not available", file=sys.stderr)
        return 2
    seeds = {
        r: [s for s in fuzz.all_seeds() if s.reader == fuzz.SEEDS_OF.get(r, r)] for r in readers
    }
    seed = args.seed if args.seed is not None else int(time.time())
    rng = random.Random(seed)
    use_alarm = hasattr(signal, "SIGALRM")
    if use_alarm:
        signal.signal(signal.SIGALRM, _alarm)

    runs: Counter[str] = Counter()
    outcomes: Counter[tuple[str, str]] = Counter()
    warned: Counter[tuple[str, str]] = Counter()
    findings: dict[tuple[str, str], tuple[int, Path]] = {}
    heaviest: dict[str, tuple[int, int]] = {}
    print(f"fuzzing {', '.join(readers)} for {args.seconds:g} s, seed {seed}", flush=True)
    started = time.monotonic()
    next_report = started + 30
    while time.monotonic() - started < args.seconds:
        reader = rng.choice(readers)
        base = rng.choice(seeds[reader])
        data = fuzz.mutated(base, fuzz.random_ops(rng, len(base.bytes())), rng.random() < 0.5)
        runs[reader] += 1
        try:
            if use_alarm:
                signal.alarm(args.hang_seconds)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                outcome = fuzz.measure(reader, data)
            outcomes[(reader, outcome.result)] += 1
            if outcome.peak > heaviest.get(reader, (0, 0))[0]:
                heaviest[reader] = (outcome.peak, len(data))
            for w in caught:
                where = f"{Path(w.filename).name}:{w.lineno}"
                warned[(reader, f"{w.category.__name__}: {w.message} ({where})")] += 1
        except (fuzz.Finding, Hang) as exc:
            kind = "hang" if isinstance(exc, Hang) else str(exc).split(" for a ")[0][:120]
            key = (reader, kind)
            if key not in findings:
                args.out.mkdir(parents=True, exist_ok=True)
                name = hashlib.sha256(data).hexdigest()[:16]
                path = args.out / f"{reader}-{name}.bin"
                path.write_bytes(data)
                where = "".join(traceback.format_exception(exc)[-3:]).strip()
                print(f"FINDING {reader} from {base.name}: {exc}\n  input: {path}\n  {where}")
                findings[key] = (0, path)
            count, path = findings[key]
            findings[key] = (count + 1, path)
        finally:
            if use_alarm:
                signal.alarm(0)
        if time.monotonic() >= next_report:
            next_report += 30
            print(f"  {sum(runs.values()):,} executions, {len(findings)} finding(s)", flush=True)

    elapsed = time.monotonic() - started
    print(f"\n{sum(runs.values()):,} executions in {elapsed:.0f} s (seed {seed})")
    for reader in readers:
        ok, refused = outcomes[(reader, "ok")], outcomes[(reader, "refused")]
        print(f"  {reader}: {runs[reader]:,} executions, {ok:,} read, {refused:,} refused")
        if reader in heaviest:
            peak, size = heaviest[reader]
            print(f"    largest peak memory: {peak:,} bytes, for a {size:,}-byte input")
    for (reader, text), count in sorted(warned.items()):
        print(f"  warning ({reader}, {count:,}x): {text}")
    if not findings:
        print("no findings")
        return 0
    print(f"{len(findings)} finding(s):")
    for (reader, kind), (count, path) in sorted(findings.items()):
        print(f"  {reader}: {kind} ({count:,}x), e.g. {path}")
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
