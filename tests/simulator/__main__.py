"""Run the gateway simulator in the foreground until SIGTERM or SIGINT.

    python -m tests.simulator --port 8443 --ca-file demo/sim-ca.pem
    python -m tests.simulator --ca-file demo/sim-ca.pem --result-file tests/data/real/hamburger.ply

Prints the base URL, API key and CA path once it is serving. Point a client at
it with SSL_CERT_FILE=<ca-file>; control it through the /_sim/ endpoints. Every
task returns the synthetic test figure, or the PLY named by --result-file (or
the GEN404_SIM_RESULT environment variable): a binary PLY in 404's 14-float layout,
such as the real 404 result tests/data/real/hamburger.ply.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from pathlib import Path

from .server import GatewaySimulator
from .state import SIM_API_KEY

RESULT_ENV = "GEN404_SIM_RESULT"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.simulator",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8443, help="0 picks a free port")
    parser.add_argument("--ca-file", required=True, help="where to write the CA certificate")
    parser.add_argument("--stage-seconds", type=float, default=0.25)
    parser.add_argument("--result-ttl", type=float, default=300.0)
    parser.add_argument("--api-key", action="append", help="accepted key (repeatable)")
    parser.add_argument("--http1-only", action="store_true", help="no HTTP/2 in ALPN")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument(
        "--result-file",
        default=os.environ.get(RESULT_ENV) or None,
        help=f"a PLY in 404's layout every task returns (default: ${RESULT_ENV}, else the figure)",
    )
    args = parser.parse_args(argv)
    result = Path(args.result_file).read_bytes() if args.result_file else None

    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    sim = GatewaySimulator(
        host=args.host,
        port=args.port,
        api_keys=args.api_key or [SIM_API_KEY],
        stage_seconds=args.stage_seconds,
        result_ttl_s=args.result_ttl,
        http2=not args.http1_only,
        ca_pem_path=args.ca_file,
        log_level=logging.INFO if args.verbose else logging.WARNING,
        result_ply=result,
    )
    with sim:
        print(f"Gateway simulator ready at {sim.url}", flush=True)
        print(f"API key: {sim.api_key}", flush=True)
        print(f"CA certificate: {sim.ca_pem_path}", flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
