"""What a hostile gateway costs the client: time, peak memory and how it ends.

    .venv/bin/python tools/bench_hostile.py [case ...]

Each case runs in a fresh Python process against the local simulator (tests/simulator):

- ``zstd-status``: get_status answered with a zstd bomb (about 100 KB on the wire,
  3 GiB unpacked).
- ``zstd-503``: the same bomb as a 503 error page, the process limited to 1.5 GB of
  address space (RLIMIT_AS): the error must stay a GatewayError.
- ``gzip-result``: get_result answered with a gzip bomb (1 GiB unpacked) under a
  64 MiB download limit.
- ``trickle-status``: get_status with a 1 s timeout, the answer one byte every 0.4 s.
- ``cancel-stalled-download``: a job's download stalls (30 s timeout); Cancel is
  pressed 0.5 s into it; time until its worker thread has ended.

Printed per case: seconds, the peak RSS the case added (ru_maxrss after minus the
RSS before), and the outcome (the exception's type and the start of its message).
"""

from __future__ import annotations

import importlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = ("zstd-status", "zstd-503", "gzip-result", "trickle-status", "cancel-stalled-download")
UNKNOWN_ID = "11111111-2222-4333-8444-555555555555"


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _run_case(case: str) -> dict[str, object]:
    sys.path.insert(0, str(ROOT))
    importlib.import_module("tests.conftest")  # the gen404 package alias
    from gen404.client.gateway import GatewayClient
    from gen404.client.jobs import JobRunner
    from gen404.client.models import GenerationRequest, JobSettings, Phase

    from tests.simulator import GatewaySimulator
    from tests.simulator import faults as F

    sim = GatewaySimulator(stage_seconds=0.0).start()
    import os

    os.environ["SSL_CERT_FILE"] = str(sim.ca_pem_path)
    outcome = "returned"
    F.bomb_bytes("zstd", 3 * 2**30)  # made before measuring
    F.bomb_bytes("gzip", 2**30)
    before = _rss_kib()
    start = time.monotonic()
    try:
        if case in ("zstd-status", "zstd-503"):
            status = 503 if case == "zstd-503" else 200
            sim.add_fault("/get_status", F.compressed_bomb("zstd", 3 * 2**30, status=status))
            if case == "zstd-503":
                limit = 1536 * 2**20
                resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            with GatewayClient(sim.url, sim.api_key) as client:
                outcome = repr(client.get_status(UNKNOWN_ID))
        elif case == "gzip-result":
            with GatewayClient(sim.url, sim.api_key) as client:
                task = client.add_text_task("a red chair")
                sim.add_fault("/get_result", F.compressed_bomb("gzip", 2**30))
                with tempfile.TemporaryFile() as out:
                    n = client.stream_result(task, "ply", out, max_bytes=64 * 2**20)
                outcome = f"{n} bytes written"
        elif case == "trickle-status":
            sim.add_fault("/get_status", F.trickle(0.4, status_body="NoResult"))
            with GatewayClient(sim.url, sim.api_key, timeout=1.0) as client:
                outcome = repr(client.get_status(UNKNOWN_ID))
        elif case == "cancel-stalled-download":
            sim.add_fault("/get_result", F.slow_body(30.0, cut_at=1000))
            with tempfile.TemporaryDirectory() as folder:
                runner = JobRunner(parse=len)
                settings = JobSettings(sim.url, sim.api_key, timeout_s=30.0, user_folder=folder)
                job_id = runner.submit(GenerationRequest("a red chair"), settings)
                job = runner._jobs[job_id]
                while job.phase is not Phase.DOWNLOADING:
                    time.sleep(0.01)
                time.sleep(float(os.environ.get("BENCH_CANCEL_AFTER_S", "0.5")))
                start = time.monotonic()
                runner.cancel(job_id)
                assert job.thread is not None
                job.thread.join(60)
                seen = []
                while not runner.events.empty():
                    seen.append(runner.events.get().phase.value)
                ended = "worker ended" if not job.thread.is_alive() else "worker still running"
                outcome = f"{ended}; phases {' > '.join(dict.fromkeys(seen))}"
                runner.shutdown()
    except BaseException as exc:  # what escapes is the finding
        outcome = f"{type(exc).__name__}: {str(exc)[:90]}"
    seconds = time.monotonic() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sim.stop()
    return {
        "case": case,
        "seconds": round(seconds, 2),
        "peak_added_mib": round(max(0, peak - before) / 1024, 1),
        "outcome": outcome,
    }


def main(argv: list[str]) -> None:
    if argv[:1] == ["--one"]:
        print(json.dumps(_run_case(argv[1])))
        return
    for case in argv or CASES:
        done = subprocess.run(
            [sys.executable, __file__, "--one", case],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )
        lines = done.stdout.strip().splitlines()
        if done.returncode or not lines:
            print(f"{case}: process ended {done.returncode}: {done.stderr.strip()[-300:]}")
            continue
        r = json.loads(lines[-1])
        figures = f"{r['seconds']:>7.2f} s  {r['peak_added_mib']:>8.1f} MiB"
        print(f"{r['case']:<24} {figures}  {r['outcome']}")


if __name__ == "__main__":
    main(sys.argv[1:])
