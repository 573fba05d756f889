"""A local HTTPS stand-in for the 404.xyz gateway, for tests and ``make demo``.

In-process: ``with GatewaySimulator() as sim: ...`` (see server.py). As a process:
``python -m tests.simulator --port 8443 --ca-file PATH``.
"""

from .figure import PARTS, FigurePart, figure_ply_bytes, make_figure
from .handlers import Limits
from .server import GatewaySimulator
from .state import SIM_API_KEY, Fault, SimState, Stats

__all__ = [
    "PARTS",
    "SIM_API_KEY",
    "Fault",
    "FigurePart",
    "GatewaySimulator",
    "Limits",
    "SimState",
    "Stats",
    "figure_ply_bytes",
    "make_figure",
]
