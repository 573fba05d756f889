"""The gateway's three endpoints, as functions from a Request to a Response.

Status codes, texts and checks follow docs/gateway-api.md and gateway-rs: text
bodies for most errors (``Bad request: ...``), JSON for the rest.
"""

from __future__ import annotations

import io
import json
import re
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field

from .figure import result_spz_bytes
from .images import ImageError, check_image
from .multipart import MultipartError, header_params, parse_multipart
from .results import seeded_glb, seeded_ply, variant_glb, variant_ply, variant_spz
from .state import SimState, Task

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    max_request_bytes: int = 2 * MIB
    max_image_bytes: int = 2 * MIB
    max_image_side: int = 1024
    prompt_min: int = 3
    prompt_max: int = 384
    prompt_pattern: str = r"^[A-Za-z0-9 .,'():;/?!+%-]+$"
    models: tuple[str, ...] = ("404-3dgs", "404-mesh", "404-mesh-v2")
    image_only_models: tuple[str, ...] = ("404-mesh", "404-mesh-v2")
    max_model_params_bytes: int = 1024


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    """Lower-case names; the last value of a repeated header wins."""
    body: bytes
    http_version: str
    body_too_large: bool = False

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)


def text(status: int, message: str) -> Response:
    return Response(status, message.encode())


def json_response(status: int, payload: object) -> Response:
    return Response(status, json.dumps(payload, separators=(",", ":")).encode(), "application/json")


def bad_request(message: str) -> Response:
    return text(400, f"Bad request: {message}")


class Rejected(Exception):
    """Raised inside a handler to answer with ``response``."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def _is_uuid(value: str) -> bool:
    try:
        return len(value) == 36 and str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def check_api_key(req: Request, state: SimState) -> None:
    key = req.headers.get("x-api-key", "")
    if not key:
        raise Rejected(text(401, "Unauthorized request: Missing API key"))
    if not _is_uuid(key):
        raise Rejected(text(400, "Invalid API key format"))
    if not state.key_accepted(key):
        raise Rejected(text(401, "Unauthorized request: Invalid API key"))


def _task_id(req: Request) -> str:
    raw = req.param("id")
    if raw is None:
        raise Rejected(bad_request("missing field `id`"))
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise Rejected(bad_request(f"UUID parsing failed: invalid task id {raw[:64]!r}")) from None


def _seed(raw: object) -> int:
    if isinstance(raw, str):
        try:
            raw = int(raw.strip())
        except ValueError:
            raise Rejected(
                bad_request("Invalid seed value: invalid digit found in string")
            ) from None
    if isinstance(raw, bool) or not isinstance(raw, int) or not -(2**31) <= raw < 2**32:
        raise Rejected(bad_request("Invalid seed value: expected an int32"))
    return raw - 2**32 if raw >= 2**31 else raw


@dataclass
class _AddTask:
    prompt: str | None = None
    image: bytes | None = None
    seed: int | None = None
    model: str | None = None
    model_params: str | None = None
    """Compact JSON of the object sent."""


def _model_params(raw: object) -> str:
    """``model_params`` as compact JSON: an object (in multipart, a JSON string of one)."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise Rejected(bad_request("Invalid model_params: not JSON")) from None
    if not isinstance(raw, dict):
        raise Rejected(bad_request("Invalid model_params: expected a JSON object"))
    return json.dumps(raw, separators=(",", ":"), sort_keys=True)


def _parse_add_task(req: Request) -> _AddTask:
    content_type = req.headers.get("content-type")
    if not content_type:
        raise Rejected(bad_request("Missing content-type"))
    if header_params(content_type)[0] == "multipart/form-data":
        try:
            parts = parse_multipart(req.body, content_type)
        except MultipartError as exc:
            raise Rejected(bad_request(f"Field error: {exc}")) from None
        out = _AddTask()
        for part in parts:
            if part.name == "image":
                out.image = part.data
            elif part.name in ("prompt", "model", "seed", "model_params"):
                value = part.data.decode("utf-8", "replace")
                if part.name == "seed":
                    out.seed = _seed(value)
                elif part.name == "model_params":
                    out.model_params = _model_params(value)
                else:
                    setattr(out, part.name, value)
        return out
    try:
        payload = json.loads(req.body)
    except ValueError as exc:
        raise Rejected(bad_request(f"EOF while parsing a value: {exc}")) from None
    if not isinstance(payload, dict):
        raise Rejected(bad_request("invalid type: expected struct AddTaskRequest"))
    texts: dict[str, str | None] = {}
    for name in ("prompt", "model"):
        raw = payload.get(name)
        if raw is not None and not isinstance(raw, str):
            raise Rejected(bad_request(f"invalid type for `{name}`: expected a string"))
        texts[name] = raw
    seed = payload.get("seed")
    params = payload.get("model_params")
    return _AddTask(
        prompt=texts["prompt"],
        model=texts["model"],
        seed=None if seed is None else _seed(seed),
        model_params=None if params is None else _model_params(params),
    )


def _check_prompt(prompt: str, limits: Limits) -> None:
    n = len(prompt)
    if n < limits.prompt_min:
        raise Rejected(
            bad_request(
                f"Prompt is too short: minimum length is {limits.prompt_min} characters (got {n})"
            )
        )
    if n > limits.prompt_max:
        raise Rejected(
            bad_request(
                f"Prompt is too long: maximum length is {limits.prompt_max} characters (got {n})"
            )
        )
    if not re.fullmatch(limits.prompt_pattern, prompt):
        raise Rejected(
            bad_request(
                f"Prompt contains invalid characters; allowed pattern: {limits.prompt_pattern}"
            )
        )


def add_task(req: Request, state: SimState, limits: Limits, result: bytes) -> Response:
    check_api_key(req, state)
    if req.body_too_large:
        return text(413, f"Payload Too Large: the request exceeds {limits.max_request_bytes} bytes")
    task = _parse_add_task(req)
    has_prompt, has_image = bool(task.prompt), bool(task.image)
    if has_prompt and has_image:
        return bad_request("Cannot provide both prompt and image. Choose one.")
    if not has_prompt and not has_image:
        return bad_request("Must provide either prompt or image")
    if task.prompt:
        _check_prompt(task.prompt, limits)
    model = task.model or limits.models[0]
    if model not in limits.models:
        return json_response(
            400,
            {
                "error": "invalid_model",
                "message": f"Unknown model '{model}'. Available models: {list(limits.models)}",
            },
        )
    if has_prompt and model in limits.image_only_models:
        return bad_request(f"Model {model} requires an image; text prompts are not supported")
    if task.model_params and len(task.model_params) > limits.max_model_params_bytes:
        return bad_request(f"model_params too large: at most {limits.max_model_params_bytes} bytes")
    if task.image:
        try:
            check_image(
                task.image, max_bytes=limits.max_image_bytes, max_side=limits.max_image_side
            )
        except ImageError as exc:
            return bad_request(str(exc))
    created = state.create_task(
        kind="image" if has_image else "text",
        prompt=task.prompt or None,
        image_bytes=len(task.image or b""),
        seed=task.seed,
        model=model,
        http_version=req.http_version,
        model_params=task.model_params,
        origin=req.headers.get("x-client-origin"),
    )
    if created is None:
        return json_response(
            429,
            {
                "error": "concurrent_limit",
                "message": "Too many concurrent tasks for this account: wait for one to finish",
            },
        )
    return json_response(200, {"id": created.id})


def get_status(req: Request, state: SimState, limits: Limits, result: bytes) -> Response:
    task = state.find_task(_task_id(req))
    if task is None:
        return json_response(200, {"status": "NoResult"})
    return json_response(200, task.status(state.now()))


def _flag(raw: str | None) -> bool | None:
    if raw is None:
        return None
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise Rejected(bad_request("Invalid compress value. Use 1/0/true/false."))


def get_result(req: Request, state: SimState, limits: Limits, result: bytes) -> Response:
    check_api_key(req, state)
    task_id = _task_id(req)
    task = state.find_task(task_id)
    if task is None:
        return text(404, f"Task ID {task_id} not found")
    fmt = (req.param("format") or "").lower()
    compress = _flag(req.param("compress"))
    wants_ply = fmt == "ply" or (fmt != "spz" and compress is False)
    now = state.now()
    if task.successes(now) == 0:
        if task.stage(now) < 2:
            return text(404, f"No results found for task ID {task_id}")
        return text(
            404,
            f"No successful results found for task ID {task_id}. "
            f"Failure reason: {task.failure_reason}",
        )
    if (req.param("all") or "").lower() == "true":  # every success so far, in a ZIP
        return _all_results(task, limits, state, result, wants_ply, task.successes(now))
    if task.model in limits.image_only_models:  # a mesh: its GLB, whatever was asked
        disposition = 'attachment; filename="result.glb"'
        glb = seeded_glb(state.result_glb, task.seed)
        return Response(200, glb, "model/gltf-binary", [("content-disposition", disposition)])
    if not wants_ply:
        # The default: 404's zstd SPZ of the same result.
        disposition = 'attachment; filename="result.spz"'
        spz = result_spz_bytes(result)
        return Response(
            200, spz, "application/octet-stream", [("content-disposition", disposition)]
        )
    result = seeded_ply(result, task.seed)  # same seed, same bytes; other seeds differ
    disposition = 'attachment; filename="result.ply"'
    return Response(200, result, "application/octet-stream", [("content-disposition", disposition)])


def _all_results(
    task: Task, limits: Limits, state: SimState, result: bytes, wants_ply: bool, count: int
) -> Response:
    """``all=true``: a ZIP of every successful worker's result, ``1.spz``, ``2.spz``...
    (``.ply``; ``.glb`` for the mesh models), each a variant of its own (results.py)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for number in range(1, count + 1):
            if task.model in limits.image_only_models:
                name, data = f"{number}.glb", variant_glb(state.result_glb, task.seed, number)
            elif wants_ply:
                name, data = f"{number}.ply", variant_ply(result, task.seed, number)
            else:
                name, data = f"{number}.spz", variant_spz(result, number)
            archive.writestr(name, data)
    disposition = 'attachment; filename="results.zip"'
    return Response(
        200, buffer.getvalue(), "application/zip", [("content-disposition", disposition)]
    )


Handler = Callable[[Request, SimState, Limits, bytes], Response]
ROUTES: dict[str, tuple[str, Handler]] = {
    "/add_task": ("POST", add_task),
    "/get_status": ("GET", get_status),
    "/get_result": ("GET", get_result),
}


def handle(req: Request, state: SimState, limits: Limits, result: bytes) -> Response:
    """Route one gateway request; ``result`` is the PLY every successful task returns."""
    route = ROUTES.get(req.path)
    if route is None:
        return text(404, "Not Found")
    method, handler = route
    if req.method != method:
        return Response(405, b"Method Not Allowed", headers=[("allow", method)])
    try:
        return handler(req, state, limits, result)
    except Rejected as rejected:
        return rejected.response
