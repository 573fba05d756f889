"""``/_sim/...``: control endpoints for a simulator running in another process.

They mirror the in-process methods of SimState (and exist only on the simulator,
never on a real gateway). All take and return JSON; none checks the API key.
"""

from __future__ import annotations

import json

from .faults import recipe
from .handlers import Request, Response, json_response, text
from .state import Fault, SimState


def _fault(body: dict) -> Fault:
    raw_body = body.get("body", "")
    return Fault(
        kind=str(body.get("kind", "respond")),
        status=int(body.get("status", 500)),
        body=raw_body.encode() if isinstance(raw_body, str) else bytes(raw_body),
        headers=tuple((str(k), str(v)) for k, v in dict(body.get("headers", {})).items()),
        delay_s=float(body.get("delay_s", 0.0)),
        cut_at=int(body.get("cut_at", -1)),
    )


def handle_admin(req: Request, state: SimState) -> Response:
    """GET /_sim/stats; POST /_sim/{reset,config,advance,fail_next,fault,drop_connections}.

    ``fault`` takes ``path``, ``count`` and the Fault fields (``kind``, ``status``,
    ``body``, ``headers``, ``delay_s``, ``cut_at``), or ``name`` (plus that recipe's
    arguments) for one of the recipes in faults.py.
    """
    action = req.path.removeprefix("/_sim/")
    if action == "stats" and req.method == "GET":
        return json_response(200, state.stats().as_json())
    if req.method != "POST":
        return text(405 if action == "stats" else 404, f"no admin action {req.method} {req.path}")
    try:
        body = json.loads(req.body or b"{}")
        if action == "reset":
            state.reset()
        elif action == "config":
            state.configure(
                stage_seconds=body.get("stage_seconds"),
                result_ttl_s=body.get("result_ttl_s"),
                api_keys=body.get("api_keys"),
                max_concurrent=body.get("max_concurrent"),
                successes=body.get("successes"),
            )
        elif action == "advance":
            state.advance(float(body["seconds"]))
        elif action == "fail_next":
            state.fail_next(str(body.get("reason", "Task timed out")), int(body.get("count", 1)))
        elif action == "fault":
            fault = recipe(body) if "name" in body else _fault(body)
            state.add_fault(str(body["path"]), fault, int(body.get("count", 1)))
        elif action == "drop_connections":
            state.drop_connections(int(body.get("count", 1)))
        else:
            return text(404, f"no admin action {req.path}")
    except (ValueError, KeyError, TypeError) as exc:
        return text(400, f"bad admin request: {exc!r}")
    return json_response(200, {"ok": True})
