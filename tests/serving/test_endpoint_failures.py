"""Endpoints that cannot be served: one bad revision never stops the others, and says
what to do; ensembles that cannot average are refused."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pandas as pd
from sklearn.svm import SVC

from models import Doubler, logistic
from serving.conftest import ServerThread
from shipyard.config import Settings
from shipyard.endpoints import Endpoints
from shipyard.registry import Registry
from shipyard.serving.app import create_app
from shipyard.serving.dataplane import DataPlane


def _single(uri: str) -> dict[str, object]:
    return {"kind": "single", "variants": [{"name": "main", "model": uri}]}


def test_a_revision_that_cannot_load_leaves_the_others_serving(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, actor="t", reference_sample_rows=0, follow_interval_s=0.1)
    registry = Registry.from_settings(settings)
    data = pd.DataFrame({"x": [1.0, 2.0]})
    Doubler.pause = 0.0
    registry.register_model(Doubler(), "px", training_data=data)
    model, frame, _ = logistic(rows=60)
    damaged = registry.register_model(model, "damaged", training_data=frame)
    endpoints = Endpoints(registry.db, registry.artifacts, settings)
    endpoints.create_endpoint("good", _single("models:/px/1"))
    endpoints.create_endpoint("bad", _single("models:/damaged/1"))
    _, entry = next((k, v) for k, v in damaged.artifacts.items() if k.startswith("model/"))
    blob = registry.artifacts.blob_path(entry["sha256"])
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes() + b"\x00")
    plane = DataPlane(registry, [], endpoints=["*"])
    try:
        with ServerThread(create_app(settings, plane)) as server, httpx.Client() as http:
            url = f"http://127.0.0.1:{server.port}"
            rows = {"instances": [{"x": 2.0}]}
            assert http.post(f"{url}/v1/endpoints/good/predict", json=rows).json()[
                "predictions"
            ] == [4.0]
            bad = http.post(f"{url}/v1/endpoints/bad/predict", json=rows)
            assert bad.status_code == 503
            message = bad.json()["error"]
            assert "endpoint 'bad' revision 1 could not be loaded" in message
            assert "shipyard endpoints update bad" in message
            time.sleep(0.5)  # several follow rounds: the bad revision is not reloaded
            assert plane.broken["bad"][0] == 1
            endpoints.update_endpoint("bad", _single("models:/px/1"), reason="fixed")
            deadline = time.monotonic() + 5
            while (
                answer := http.post(f"{url}/v1/endpoints/bad/predict", json=rows)
            ).status_code != 200:
                assert time.monotonic() < deadline, answer.text
                time.sleep(0.05)
            assert answer.json()["revision"] == 2 and "bad" not in plane.broken
    finally:
        Doubler.pause = 0.02
        registry.db.dispose()


def test_an_ensemble_without_probabilities_votes_but_does_not_average(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, actor="t", reference_sample_rows=20)
    registry = Registry.from_settings(settings)
    _, frame, target = logistic(rows=120)
    numeric = frame.astype(float)
    for c in (0.5, 1.0, 2.0):
        registry.register_model(SVC(C=c).fit(numeric, target), "svc", training_data=numeric)
    endpoints = Endpoints(registry.db, registry.artifacts, settings)
    members = [{"name": f"m{i}", "model": f"models:/svc/{i}"} for i in (1, 2, 3)]
    endpoints.create_endpoint("voting", {"kind": "ensemble", "method": "vote", "variants": members})
    endpoints.create_endpoint("mean", {"kind": "ensemble", "method": "mean", "variants": members})
    plane = DataPlane(registry, [], endpoints=["*"])
    try:
        with ServerThread(create_app(settings, plane)) as server, httpx.Client() as http:
            url = f"http://127.0.0.1:{server.port}"
            rows = numeric.head(5).to_dict("records")
            voted = http.post(f"{url}/v1/endpoints/voting/predict", json={"instances": rows})
            assert voted.status_code == 200, voted.text
            labels = [registry.load(f"models:/svc/{i}").predict(numeric.head(5)) for i in (1, 2, 3)]
            expected = [max(set(row), key=list(row).count) for row in zip(*labels, strict=True)]
            assert voted.json()["predictions"] == expected
            assert "probabilities" not in voted.json()
            refused = http.post(f"{url}/v1/endpoints/mean/predict", json={"instances": rows})
            assert refused.status_code == 503
            assert (
                "give(s) no probabilities to average (mean); use method vote"
                in (refused.json()["error"])
            )
    finally:
        registry.db.dispose()
