"""What serving through an endpoint costs over serving a model directly, as a markdown table.

    python benchmarks/endpoints.py          # about two minutes; needs wrk on the PATH

One ``shipyard serve`` process (one worker, the prediction log on) serves a logistic
regression (20 features, ``make_classification``) at ``/v1/models/clf/predict`` and
through endpoints of several policies at ``/v1/endpoints/NAME/predict``:

- ``single``: the same version alone;
- ``split``: two versions, 50/50;
- ``ab``: two versions, sticky by a header;
- ``shadowed``: one version answering, another getting a copy of every request;
- ``mirrored``: a 90/10 split whose variants also answer each other's requests (what a
  rollout with an agreement guard serves).

Each path is loaded with ``wrk`` for ``DURATION`` seconds at 1 and 32 connections, one
row per request, after a warm-up. Every answer's status is checked. Compare rows of one
run only.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pandas as pd
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

DURATION = int(os.environ.get("DURATION", "5"))
WARM = int(os.environ.get("WARM", "2"))
COLUMNS = [f"f{i}" for i in range(20)]

_SCRIPT = """
local f = assert(io.open(os.getenv("BODY_FILE"), "r"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, nil, {["X-Customer"] = "c" .. (counter % 1000)})
end
function done(summary, latency, requests)
  io.write(string.format('RESULT {"requests": %d, "rps": %.1f, "p50_ms": %.3f, ' ..
    '"p99_ms": %.3f, "bad": %d}\\n', summary.requests,
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.errors.status + summary.errors.connect +
    summary.errors.read + summary.errors.timeout))
end
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _policy(kind: str, *variants: tuple[str, int, float], **extra: object) -> str:
    chosen = [{"name": n, "model": f"models:/clf/{v}", "weight": w} for n, v, w in variants]
    return json.dumps({"kind": kind, "variants": chosen, **extra})


def _setup(home: Path) -> None:
    from shipyard.config import Settings
    from shipyard.endpoints import Endpoints
    from shipyard.registry import Registry

    x, y = make_classification(20_000, 20, random_state=0)
    frame = pd.DataFrame(x, columns=COLUMNS)
    settings = Settings(home=home, reference_sample_rows=200)
    registry = Registry.from_settings(settings)
    for c in (1.0, 0.5):
        registry.register_model(LogisticRegression(C=c).fit(frame, y), "clf", training_data=frame)
    endpoints = Endpoints(registry.db, registry.artifacts, settings)
    endpoints.create_endpoint("single", json.loads(_policy("single", ("a", 1, 100))))
    endpoints.create_endpoint("split", json.loads(_policy("split", ("a", 1, 50), ("b", 2, 50))))
    ab = _policy("ab", ("a", 1, 50), ("b", 2, 50), sticky={"header": "X-Customer"})
    endpoints.create_endpoint("ab", json.loads(ab))
    shadowed = _policy("single", ("a", 1, 100), shadows=["models:/clf/2"])
    endpoints.create_endpoint("shadowed", json.loads(shadowed))
    mirrored = _policy("split", ("a", 1, 90), ("b", 2, 10), mirror=True)
    endpoints.create_endpoint("mirrored", json.loads(mirrored))
    registry.db.dispose()


def _wrk(url: str, connections: int, seconds: int, env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run(
        ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "-s", env["SCRIPT"], url],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    found = re.search(r"RESULT (\{.*\})", done.stdout)
    assert found, done.stdout + done.stderr
    result: dict[str, float] = json.loads(found.group(1))
    return result


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is not on the PATH; install it (apt-get install wrk) and run again")
    work = Path(tempfile.mkdtemp(prefix="shipyard-bench-endpoints-"))
    home = work / "home"
    _setup(home)
    x, _ = make_classification(1, 20, random_state=1)
    body = work / "body.json"
    body.write_text(json.dumps({"instances": [dict(zip(COLUMNS, x[0].tolist(), strict=True))]}))
    script = work / "post.lua"
    script.write_text(_SCRIPT)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    env |= {"SHIPYARD_HOME": str(home), "BODY_FILE": str(body), "SCRIPT": str(script)}
    targets = "models:/clf/1,single,split,ab,shadowed,mirrored"
    server = subprocess.Popen(
        [sys.executable, "-m", "shipyard", "serve", targets, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/v2/health/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                sys.exit("the server did not become ready")
            time.sleep(0.2)
        paths = {"model (no endpoint)": "/v1/models/clf/predict"}
        for name in ("single", "split", "ab", "shadowed", "mirrored"):
            paths[f"endpoint {name}"] = f"/v1/endpoints/{name}/predict"
        for path in paths.values():  # every path answers 200 before it is timed
            answer = httpx.post(
                base + path, content=body.read_bytes(), headers={"X-Customer": "c1"}
            )
            assert answer.status_code == 200, answer.text
        rows = []
        for label, path in paths.items():
            cells = [label]
            for connections in (1, 32):
                _wrk(base + path, connections, WARM, env)
                result = _wrk(base + path, connections, DURATION, env)
                assert result["bad"] == 0, f"{label}: {result['bad']} failed requests"
                cells += [
                    f"{result['rps']:,.0f}",
                    f"{result['p50_ms']:.2f}",
                    f"{result['p99_ms']:.2f}",
                ]
            rows.append(cells)
    finally:
        server.terminate()
        server.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)
    print("| path | req/s c=1 | p50 ms | p99 ms | req/s c=32 | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for cells in rows:
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
