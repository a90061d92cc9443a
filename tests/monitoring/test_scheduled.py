"""``shipyard server`` runs due monitors by itself, on real HTTP traffic it served and
logged."""

from __future__ import annotations

import time

import httpx

from models import classification_data
from monitored import Scene
from serving.conftest import ServerThread, bearer
from shipyard.config import Settings
from shipyard.monitoring import MonitorService
from shipyard.registry import Registry
from shipyard.server import create_server_app


def test_the_server_runs_due_monitors(settings: Settings, registry: Registry) -> None:
    fast = settings.model_copy(
        update={"prediction_log_flush_s": 0.1, "monitor_period_s": 0.1, "follow_interval_s": 0.1}
    )
    Scene(fast, registry)
    monitors = MonitorService(registry, fast.predictions, fast.feedback)
    monitors.create("ops", endpoint="calm", checks=["operations"], every="500ms")
    frame, _ = classification_data(5, 1)
    rows = [{**r, "age": int(r["age"])} for r in frame.to_dict("records")]
    app = create_server_app(fast)
    with ServerThread(app) as thread, httpx.Client(timeout=30, headers=bearer(fast.home)) as http:
        url = f"http://127.0.0.1:{thread.port}/v1/endpoints/calm/predict"
        assert http.post(url, json={"instances": rows}).status_code == 200
        deadline = time.monotonic() + 20
        counted: list[tuple[float | None, int]] = []
        while time.monotonic() < deadline and (1.0, 5) not in counted:
            found = monitors.results("ops", metric="request_count")
            counted = [(r.value, r.detail.get("rows", 0)) for r in found]
            time.sleep(0.1)
    # One request of five rows, seen by a run the server scheduled by itself.
    assert (1.0, 5) in counted, counted
