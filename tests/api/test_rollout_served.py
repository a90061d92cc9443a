"""Rollouts end to end: ``shipyard server`` serving an endpoint to real traffic over HTTP,
its controller judging the prediction log the data plane writes, and moving traffic on
or rolling it back by itself."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from serving.conftest import ServerThread, bearer
from shipyard.config import Settings
from shipyard.endpoints import Endpoints, Rollout, RolloutController
from shipyard.registry import Registry
from shipyard.server import create_server_app
from traffic import churn_data, register_churn

pytestmark = pytest.mark.slow


@dataclass
class Load:
    """Clients sending one-row requests through an endpoint until stopped."""

    url: str
    headers: dict[str, str]
    statuses: Counter[int] = field(default_factory=Counter)
    versions: list[int] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self, seed: int) -> None:
        frame, _ = churn_data(2_000, seed)
        rows = frame.to_dict("records")
        with httpx.Client(timeout=30, headers=self.headers) as http:
            i = 0
            while not self.stop.is_set():
                row = rows[i % len(rows)]
                i += 1
                answer = http.post(
                    f"{self.url}/v1/endpoints/churn/predict",
                    json={"instances": [{**row, "age": int(row["age"])}]},
                )
                self.statuses[answer.status_code] += 1
                if answer.status_code == 200:
                    self.versions.append(answer.json()["version"])


@pytest.fixture
def served(settings: Settings) -> Iterator[tuple[str, Endpoints, RolloutController]]:
    fast = settings.model_copy(
        update={
            "follow_interval_s": 0.1,
            "prediction_log_flush_s": 0.1,
            "rollout_period_s": 0.1,
            "reference_sample_rows": 50,
        }
    )
    registry = Registry.from_settings(fast)
    register_churn(registry)
    endpoints = Endpoints(registry.db, registry.artifacts, fast)
    policy = {"kind": "single", "variants": [{"name": "champion", "model": "models:/churn/1"}]}
    endpoints.create_endpoint("churn", policy)
    with ServerThread(create_server_app(fast)) as thread:
        yield (
            f"http://127.0.0.1:{thread.port}",
            endpoints,
            RolloutController(endpoints, fast.predictions),
        )
    registry.db.dispose()


def _roll(
    served: tuple[str, Endpoints, RolloutController], to: str, guards: list[str]
) -> tuple[Rollout, Load]:
    url, endpoints, rollouts = served
    load = Load(url, bearer(endpoints.settings.home))
    clients = [threading.Thread(target=load.run, args=(seed,)) for seed in range(2)]
    for client in clients:
        client.start()
    try:
        time.sleep(0.3)
        rollouts.start("churn", to, steps="20,50,100", interval=0.6, guards=guards, min_rows=30)
        deadline = time.monotonic() + 60
        while (rollout := rollouts.get("churn")).state in ("running", "paused"):
            assert time.monotonic() < deadline, f"the rollout never ended: {rollout}"
            time.sleep(0.1)
        time.sleep(0.5)  # the data plane follows the last revision
    finally:
        load.stop.set()
        for client in clients:
            client.join(timeout=30)
    return rollout, load


def test_a_healthy_version_reaches_all_traffic(served: Any) -> None:
    rollout, load = _roll(served, "models:/churn/2", ["error_rate<0.05", "agreement>0.8"])
    assert rollout.state == "succeeded", rollout.reason
    assert set(load.statuses) == {200}  # no request failed while traffic moved
    assert load.versions[-1] == 2 and 1 in load.versions
    current = served[1].get_endpoint("churn").current
    assert [v.model for v in current.policy.variants] == ["models:/churn/2"]
    assert len(served[1].list_revisions("churn")) == 4  # 20%, 50%, 100% after revision 1


def test_a_version_failing_a_fifth_of_requests_is_rolled_back(served: Any) -> None:
    rollout, load = _roll(served, "models:/churn/3", ["error_rate<0.05"])
    assert rollout.state == "rolled_back"
    assert "error_rate" in (rollout.reason or "")
    current = served[1].get_endpoint("churn").current
    assert current.revision == 1  # back where it started
    assert load.statuses[500] > 0  # the new version did fail some requests meanwhile
    (breach,) = [j for j in rollout.judgements if j["verdict"] == "breach"]
    # about the fifth of rows with the unknown plan (the message says what was seen)
    assert 0.05 < breach["value"] < 0.5, (breach, dict(load.statuses), rollout.judgements)
    endpoints = served[1]
    events = Registry(endpoints.db, endpoints.artifacts, endpoints.settings).events(
        target_kind="rollout"
    )
    assert events[0].action == "rollout.rolled_back" and events[0].target == "churn"


def test_a_version_disagreeing_with_the_champion_is_rolled_back(served: Any) -> None:
    rollout, load = _roll(served, "models:/churn/4", ["agreement>0.8"])
    assert rollout.state == "rolled_back"
    assert "agreement" in (rollout.reason or "")
    assert served[1].get_endpoint("churn").current.revision == 1
    assert set(load.statuses) == {200}
