"""The gateway simulator itself, exercised with plain httpx (no add-on code)."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.simulator import PARTS, SIM_API_KEY, Fault, GatewaySimulator, make_figure
from tests.simulator.figure import HEAD, NOSE, PLY_PROPERTIES, SH_C0
from tests.simulator.images import image_size, png_bytes
from tests.simulator.results import unpack_glb

ROOT = Path(__file__).resolve().parents[2]
KEY = {"x-api-key": SIM_API_KEY}
OTHER_UUID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def http(sim: GatewaySimulator) -> Iterator[httpx.Client]:
    """Plain httpx trusting the simulator through SSL_CERT_FILE (trust_env)."""
    with httpx.Client(base_url=sim.url, http2=True, timeout=5) as client:
        yield client


def add_text(http: httpx.Client, prompt: str = "a red robot") -> str:
    response = http.post("/add_task", json={"prompt": prompt}, headers=KEY)
    assert response.status_code == 200, response.text
    return response.json()["id"]


def status(http: httpx.Client, task_id: str) -> dict:
    response = http.get("/get_status", params={"id": task_id})
    assert response.status_code == 200, response.text
    return response.json()


def image_file(fmt: str, size: tuple[int, int], **save: object) -> bytes:
    buffer = io.BytesIO()
    mode = "RGBA" if save.pop("alpha", False) else "RGB"
    Image.new(mode, size, (30, 120, 200)).save(buffer, fmt, **save)
    return buffer.getvalue()


# -- authentication -------------------------------------------------------------
@pytest.mark.parametrize("path", ["/add_task", "/get_result"])
@pytest.mark.parametrize(
    ("key", "code", "text"),
    [
        (None, 401, "Unauthorized request: Missing API key"),
        (OTHER_UUID, 401, "Unauthorized request: Invalid API key"),
        ("not-a-uuid", 400, "Invalid API key format"),
    ],
)
def test_key_checks(http: httpx.Client, path: str, key: str | None, code: int, text: str) -> None:
    headers = {"x-api-key": key} if key else {}
    if path == "/add_task":
        response = http.post(path, json={"prompt": "a chair"}, headers=headers)
    else:
        response = http.get(path, params={"id": OTHER_UUID}, headers=headers)
    assert (response.status_code, response.text) == (code, text)
    assert response.headers["content-type"].startswith("text/plain")


def test_get_status_needs_no_key(http: httpx.Client) -> None:
    assert status(http, OTHER_UUID) == {"status": "NoResult"}


def test_accepted_keys_are_configurable(sim: GatewaySimulator, http: httpx.Client) -> None:
    sim.state.configure(api_keys=[OTHER_UUID])
    assert http.post("/add_task", json={"prompt": "abc"}, headers=KEY).status_code == 401
    ok = http.post("/add_task", json={"prompt": "abc"}, headers={"x-api-key": OTHER_UUID})
    assert ok.status_code == 200


# -- add_task input rules -------------------------------------------------------
def test_prompt_and_image_together_or_neither(http: httpx.Client) -> None:
    both = http.post(
        "/add_task",
        data={"prompt": "a chair"},
        files={"image": ("a.png", png_bytes(8, 8), "image/png")},
        headers=KEY,
    )
    assert both.status_code == 400
    assert "Cannot provide both prompt and image. Choose one." in both.text
    for body in ({}, {"prompt": ""}, {"seed": 3}):
        neither = http.post("/add_task", json=body, headers=KEY)
        assert neither.status_code == 400
        assert "Must provide either prompt or image" in neither.text


@pytest.mark.parametrize(
    ("prompt", "fragment"),
    [
        ("ab", "Prompt is too short"),
        ("x" * 385, "Prompt is too long"),
        ("snake_case chair", "invalid characters"),
        ('a "quoted" chair', "invalid characters"),
        ("café chair", "invalid characters"),
        ("a chair\n", "invalid characters"),
    ],
)
def test_prompt_rules(http: httpx.Client, prompt: str, fragment: str) -> None:
    response = http.post("/add_task", json={"prompt": prompt}, headers=KEY)
    assert response.status_code == 400
    assert response.text.startswith("Bad request: ")
    assert fragment in response.text


@pytest.mark.parametrize(
    "prompt", ["abc", "x" * 384, "A (tall) chair: 50% oak, 1/2 red; ok? yes! +-"]
)
def test_prompt_accepted(http: httpx.Client, prompt: str) -> None:
    response = http.post("/add_task", json={"prompt": prompt, "seed": 7}, headers=KEY)
    assert response.status_code == 200, response.text
    task_id = response.json()["id"]
    assert str(__import__("uuid").UUID(task_id)) == task_id


def test_wrong_method_and_unknown_path(http: httpx.Client) -> None:
    assert http.get("/add_task").status_code == 405
    assert http.post("/get_status", json={}).status_code == 405
    assert http.get("/nope").status_code == 404


@pytest.mark.parametrize(
    ("fmt", "save"),
    [
        ("PNG", {}),
        ("JPEG", {"quality": 80}),
        ("JPEG", {"progressive": True}),
        ("WEBP", {"quality": 80}),
        ("WEBP", {"lossless": True}),
        ("WEBP", {"quality": 80, "alpha": True}),
    ],
)
def test_image_header_sizes_match_pillow(fmt: str, save: dict) -> None:
    data = image_file(fmt, (321, 123), **save)
    _, width, height = image_size(data)
    assert (width, height) == (321, 123)


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (png_bytes(64, 48), "image/png"),
        (image_file("JPEG", (1024, 1024)), "image/jpeg"),
        (image_file("WEBP", (100, 50)), "image/webp"),
    ],
)
def test_image_task_accepted(
    sim: GatewaySimulator, http: httpx.Client, data: bytes, mime: str
) -> None:
    response = http.post(
        "/add_task",
        files={"image": ("upload", data, mime)},
        data={"seed": "42"},
        headers=KEY,
    )
    assert response.status_code == 200, response.text
    (record,) = sim.stats().add_task_log
    assert (record.kind, record.image_bytes, record.seed) == ("image", len(data), 42)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (png_bytes(1025, 4), "Image too wide: 1025px (max: 1024px)"),
        (png_bytes(4, 1025), "Image too tall: 1025px (max: 1024px)"),
        (image_file("GIF", (8, 8)), "Failed to guess image format"),
        (b"plain text, not an image", "Failed to guess image format"),
    ],
)
def test_image_rules(http: httpx.Client, data: bytes, fragment: str) -> None:
    response = http.post("/add_task", files={"image": ("x", data, "image/png")}, headers=KEY)
    assert response.status_code == 400
    assert fragment in response.text


def test_request_over_2_mib_is_413(sim: GatewaySimulator, http: httpx.Client) -> None:
    noise = np.random.default_rng(1).integers(0, 256, 2 * 1024 * 1024 + 10, np.uint8)
    big = png_bytes(16, 16)[:33] + noise.tobytes()
    response = http.post("/add_task", files={"image": ("big.png", big, "image/png")}, headers=KEY)
    assert response.status_code == 413
    assert sim.stats().add_task_log == []


# -- progression and results -----------------------------------------------------
def test_progression_to_success(sim: GatewaySimulator, http: httpx.Client) -> None:
    sim.set_stage_seconds(10)
    task_id = add_text(http)
    seen = [status(http, task_id)]
    early = http.get("/get_result", params={"id": task_id, "format": "ply"}, headers=KEY)
    assert (early.status_code, early.text) == (404, f"No results found for task ID {task_id}")
    for _ in range(3):
        sim.advance(10)
        seen.append(status(http, task_id))
        if seen[-1]["status"] == "PartialResult(1)":  # a result exists already
            partial = http.get("/get_result", params={"id": task_id, "format": "ply"}, headers=KEY)
            assert partial.status_code == 200
    assert [s["status"] for s in seen] == ["NoResult", "InProgress", "PartialResult(1)", "Success"]
    assert seen[-1]["worker_id"]


def test_failure_reason(sim: GatewaySimulator, http: httpx.Client) -> None:
    sim.set_stage_seconds(10)
    sim.fail_next("Task timed out")
    task_id = add_text(http)
    sim.advance(20)
    assert status(http, task_id) == {"status": "Failure", "reason": "Task timed out"}
    response = http.get("/get_result", params={"id": task_id, "format": "ply"}, headers=KEY)
    assert response.status_code == 404
    assert response.text == (
        f"No successful results found for task ID {task_id}. Failure reason: Task timed out"
    )
    assert status(http, add_text(http))["status"] == "NoResult"  # only the next task failed


def test_unknown_malformed_and_expired_ids(sim: GatewaySimulator, http: httpx.Client) -> None:
    assert status(http, OTHER_UUID) == {"status": "NoResult"}
    missing = http.get("/get_result", params={"id": OTHER_UUID}, headers=KEY)
    assert (missing.status_code, missing.text) == (404, f"Task ID {OTHER_UUID} not found")
    bad = http.get("/get_status", params={"id": "nope"})
    assert bad.status_code == 400 and bad.text.startswith("Bad request")
    task_id = add_text(http)
    sim.advance(1 + 300)
    assert status(http, task_id) == {"status": "NoResult"}
    gone = http.get("/get_result", params={"id": task_id, "format": "ply"}, headers=KEY)
    assert gone.status_code == 404 and "not found" in gone.text


def test_no_result_forever(sim: GatewaySimulator, http: httpx.Client) -> None:
    sim.set_stage_seconds(float("inf"))
    task_id = add_text(http)
    sim.advance(1e6)
    assert status(http, task_id) == {"status": "NoResult"}


def _read_ply(data: bytes) -> tuple[list[str], np.ndarray]:
    head, _, body = data.partition(b"end_header\n")
    lines = head.decode("ascii").splitlines()
    assert lines[:2] == ["ply", "format binary_little_endian 1.0"]
    count = int(lines[2].split()[-1])
    names = [line.split()[-1] for line in lines if line.startswith("property float ")]
    table = np.frombuffer(body, dtype="<f4").reshape(count, len(names))
    return names, table


def test_ply_result_layout_and_figure(sim: GatewaySimulator, http: httpx.Client) -> None:
    task_id = add_text(http)
    sim.advance(1)
    for params in ({"format": "ply"}, {"compress": "0"}):
        response = http.get("/get_result", params={"id": task_id, **params}, headers=KEY)
        assert response.status_code == 200
        assert response.headers["content-disposition"] == 'attachment; filename="result.ply"'
        assert int(response.headers["content-length"]) == len(response.content)
    names, table = _read_ply(response.content)
    assert tuple(names) == PLY_PROPERTIES
    assert len(table) == 3000
    pos, rgb = table[:, 0:3], 0.5 + SH_C0 * table[:, 3:6]
    alpha = 1 / (1 + np.exp(-table[:, 6]))
    assert 0.85 < alpha.mean() < 0.95
    assert np.all((np.exp(table[:, 7:10]) >= 0.02) & (np.exp(table[:, 7:10]) <= 0.04))
    norms = np.linalg.norm(table[:, 10:14], axis=1)
    assert np.isclose(norms, 1, atol=1e-5).mean() > 0.5 and np.isclose(norms, 2, atol=1e-5).any()
    for part in PARTS:  # every colour sits where its part's constants say
        mine = np.all(np.isclose(rgb, part.rgb, atol=1e-4), axis=1)
        assert abs(mine.mean() - part.share) < 0.01, part.name
        assert np.allclose(pos[mine].mean(axis=0), part.centre, atol=0.03), part.name
    head_y = pos[np.all(np.isclose(rgb, HEAD.rgb, atol=1e-4), axis=1), 1]
    assert head_y.min() > 0.35  # red is on top: +Y is up in the file
    nose = pos[np.all(np.isclose(rgb, NOSE.rgb, atol=1e-4), axis=1)]
    assert nose[:, 2].min() > 0.2 and abs(nose[:, 0]).max() < 0.05  # nose along +Z
    figure = make_figure()
    assert np.array_equal(figure["positions"], pos)


def test_result_formats(sim: GatewaySimulator, http: httpx.Client) -> None:
    task_id = add_text(http)
    sim.advance(1)
    spz = http.get("/get_result", params={"id": task_id}, headers=KEY)
    assert spz.status_code == 200 and 'filename="result.spz"' in spz.headers["content-disposition"]
    # The default is 404's SPZ of the same figure: our reader gives back its splats.
    from gen404.splats.spz import read_spz

    cloud = read_spz(spz.content)
    figure = make_figure()
    np.testing.assert_allclose(cloud.positions, figure["positions"], atol=1 / 4096)
    np.testing.assert_allclose(cloud.sh_dc, figure["f_dc"], atol=0.03)
    bad = http.get("/get_result", params={"id": task_id, "compress": "maybe"}, headers=KEY)
    assert bad.status_code == 400 and "Invalid compress value" in bad.text
    zipped = http.get(
        "/get_result", params={"id": task_id, "format": "ply", "all": "true"}, headers=KEY
    )
    assert zipped.status_code == 200
    with zipfile.ZipFile(io.BytesIO(zipped.content)) as archive:
        assert archive.namelist() == ["1.ply"]
        assert archive.read("1.ply").startswith(b"ply\n")


# -- all=true: every success so far, each a variant of its own -------------------------
def _add(http: httpx.Client, **body: object) -> str:
    response = http.post("/add_task", json={"prompt": "a red robot", **body}, headers=KEY)
    assert response.status_code == 200, response.text
    return response.json()["id"]


def _zip(http: httpx.Client, task_id: str, **params: str) -> dict[str, bytes]:
    answer = http.get("/get_result", params={"id": task_id, "all": "true", **params}, headers=KEY)
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_all_true_holds_every_success_the_status_reports(
    sim: GatewaySimulator, http: httpx.Client
) -> None:
    sim.set_successes(3)
    sim.set_stage_seconds(10)
    task_id = _add(http, seed=11)
    sim.advance(20)
    status = http.get("/get_status", params={"id": task_id}).json()["status"]
    assert status == "PartialResult(1)" and list(_zip(http, task_id)) == ["1.spz"]
    sim.advance(10)
    assert http.get("/get_status", params={"id": task_id}).json()["status"] == "Success"
    spz = _zip(http, task_id)
    assert list(spz) == ["1.spz", "2.spz", "3.spz"] and len(set(spz.values())) == 3
    single = http.get("/get_result", params={"id": task_id}, headers=KEY).content
    assert spz["1.spz"] == single  # the earliest result is variant 1
    ply = _zip(http, task_id, format="ply")
    assert list(ply) == ["1.ply", "2.ply", "3.ply"]
    single_ply = http.get("/get_result", params={"id": task_id, "format": "ply"}, headers=KEY)
    assert ply["1.ply"] == single_ply.content
    from gen404.splats.ply import read_ply

    heights = [np.ptp(read_ply(data).positions[:, 1]) for data in ply.values()]
    assert heights[1] == pytest.approx(1.5 * heights[0], rel=1e-5)
    assert heights[2] == pytest.approx(2 * heights[0], rel=1e-5)
    # Deterministic from the seed: another task with it gives the same bytes.
    again = _add(http, seed=11)
    sim.advance(30)
    assert _zip(http, again, format="ply") == ply
    other = _add(http, seed=12)
    sim.advance(30)
    assert _zip(http, other, format="ply")["2.ply"] != ply["2.ply"]


def test_all_true_for_a_mesh_model_holds_glbs(sim: GatewaySimulator, http: httpx.Client) -> None:
    sim.set_successes(2)
    files = {"image": ("car.png", png_bytes(32, 32), "image/png")}
    data = {"model": "404-mesh", "seed": "3"}
    task_id = http.post("/add_task", files=files, data=data, headers=KEY).json()["id"]
    sim.advance(1)
    glbs = _zip(http, task_id)
    assert list(glbs) == ["1.glb", "2.glb"]
    second = unpack_glb(glbs["2.glb"])[0]
    assert second["asset"]["extras"] == {"gen404_sim_seed": 3, "gen404_sim_variant": 2}
    assert second["nodes"][0]["scale"] == [1.5, 1.5, 1.5]


def test_successes_are_one_to_three(sim: GatewaySimulator) -> None:
    for bad in (0, 4):
        with pytest.raises(ValueError, match="successes must be 1 to 3"):
            sim.set_successes(bad)


# -- transport, counters, control -------------------------------------------------
def test_http2_negotiated_and_counted(sim: GatewaySimulator, http: httpx.Client) -> None:
    task_id = add_text(http)
    response = http.get("/get_status", params={"id": task_id})
    assert response.http_version == "HTTP/2"
    stats = sim.stats()
    assert stats.http_versions == [("/add_task", "2"), ("/get_status", "2")]
    assert stats.requests == {"/add_task": 1, "/get_status": 1}
    assert stats.connections == 1
    assert [r.task_id for r in stats.add_task_log] == [task_id]


def test_http1_only_mode() -> None:
    with GatewaySimulator(http2=False) as sim:
        ctx = ssl.create_default_context(cafile=str(sim.ca_pem_path))
        with httpx.Client(base_url=sim.url, http2=True, verify=ctx) as client:
            response = client.get("/get_status", params={"id": OTHER_UUID})
        assert response.http_version == "HTTP/1.1"
        assert sim.stats().http_versions == [("/get_status", "1.1")]


def test_untrusted_without_the_ca() -> None:
    with GatewaySimulator() as sim:
        ctx = ssl.create_default_context()  # system CAs only
        with (
            httpx.Client(base_url=sim.url, verify=ctx) as client,
            pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
        ):
            client.get("/get_status", params={"id": OTHER_UUID})
        assert sim.stats().connections == 1


def test_fault_queue_applies_once(sim: GatewaySimulator, http: httpx.Client) -> None:
    sim.add_fault(
        "/get_status", Fault(status=429, body=b"slow down", headers=(("retry-after", "2"),))
    )
    first = http.get("/get_status", params={"id": OTHER_UUID})
    assert (first.status_code, first.text, first.headers["retry-after"]) == (429, "slow down", "2")
    assert http.get("/get_status", params={"id": OTHER_UUID}).status_code == 200


def test_admin_endpoints(sim: GatewaySimulator, http: httpx.Client) -> None:
    assert http.post("/_sim/config", json={"stage_seconds": 5}).status_code == 200
    assert http.post("/_sim/fail_next", json={"reason": "No workers"}).status_code == 200
    task_id = add_text(http)
    assert http.post("/_sim/advance", json={"seconds": 10}).status_code == 200
    assert status(http, task_id) == {"status": "Failure", "reason": "No workers"}
    fault = {
        "path": "/get_status",
        "status": 503,
        "body": "Service unavailable: Task queue is full",
    }
    assert http.post("/_sim/fault", json=fault).status_code == 200
    assert http.get("/get_status", params={"id": task_id}).status_code == 503
    stats = http.get("/_sim/stats").json()
    assert stats["requests"] == {"/add_task": 1, "/get_status": 2}
    assert stats["add_task_log"][0]["prompt"] == "a red robot"
    assert http.post("/_sim/reset").status_code == 200
    assert http.get("/_sim/stats").json()["requests"] == {}
    assert http.post("/_sim/nope").status_code == 404


def test_cli_serves_until_sigterm(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "tests.simulator", "--port", "0", "--ca-file", str(ca)]
    with subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True) as proc:
        try:
            ready = proc.stdout.readline() if proc.stdout else ""
            assert "ready at https://127.0.0.1:" in ready, ready
            url = ready.split(" at ")[1].strip()
            ctx = ssl.create_default_context(cafile=str(ca))
            with httpx.Client(base_url=url, verify=ctx) as client:
                response = client.post("/_sim/config", json={"stage_seconds": 0})
                assert response.json() == {"ok": True}
                created = client.post("/add_task", json={"prompt": "a cat"}, headers=KEY)
                task_id = created.json()["id"]
                got = client.get("/get_status", params={"id": task_id}).json()
                assert got["status"] == "Success"
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    assert (
        json.loads(json.dumps({"ca": ca.read_text()[:27]}))["ca"] == "-----BEGIN CERTIFICATE-----"
    )


def test_a_result_file_is_served_as_every_task_s_result(tmp_path: Path) -> None:
    """`make demo` shows a real 404 result: the simulator serves hamburger.ply (PLY as it is,
    SPZ encoded from it) instead of the synthetic figure."""
    from gen404.splats.reader import read_splat_bytes

    real = ROOT / "tests" / "data" / "real" / "hamburger.ply"
    with GatewaySimulator(stage_seconds=0.0, result_ply=real.read_bytes()) as sim:
        verify = ssl.create_default_context(cafile=str(sim.ca_pem_path))
        with httpx.Client(base_url=sim.url, verify=verify) as client:
            task_id = client.post("/add_task", json={"prompt": "a hamburger"}, headers=KEY).json()[
                "id"
            ]
            ply = client.get("/get_result", params={"id": task_id, "format": "ply"}, headers=KEY)
            spz = client.get("/get_result", params={"id": task_id}, headers=KEY)
    seedless = re.sub(rb"comment seed -?[0-9]+\n", b"", ply.content)  # the task's own seed
    assert seedless == real.read_bytes() and seedless != ply.content
    assert read_splat_bytes(spz.content).count == 52709
    # The size claim in README and the preference's tooltip: SPZ is about 4.5x smaller
    # (4.6x for this real result; 4.3x for the synthetic figure).
    assert 4.0 < len(ply.content) / len(spz.content) < 5.0, len(ply.content) / len(spz.content)


def test_cli_takes_the_result_file_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--result-file, or GEN404_SIM_RESULT when the flag is absent, names the PLY to serve
    (read before the server starts: a missing file stops it at once)."""
    from tests.simulator.__main__ import main

    missing = tmp_path / "none.ply"
    monkeypatch.setenv("GEN404_SIM_RESULT", str(missing))
    with pytest.raises(FileNotFoundError, match=r"none\.ply"):
        main(["--ca-file", str(tmp_path / "ca.pem")])
    with pytest.raises(FileNotFoundError, match=r"other\.ply"):
        main(["--ca-file", str(tmp_path / "ca.pem"), "--result-file", str(tmp_path / "other.ply")])
