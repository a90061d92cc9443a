"""Fuzz every operation of the control plane's OpenAPI schema: no input may produce a 5xx."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from api.conftest import Server

pytestmark = pytest.mark.slow


def test_no_input_produces_a_server_error(server: Server, saved_model: tuple[Path, Path]) -> None:
    path, data = saved_model  # something to find: a model with an alias and an endpoint
    version = server.client.register(
        path, "m", flavor="sklearn", training_data=data, target_column="label"
    )
    server.client.set_alias("m", "champion", version.version)
    policy = {"kind": "single", "variants": [{"name": "a", "model": version.uri}]}
    server.client.create_endpoint("e", policy)
    schema = schemathesis.openapi.from_url(f"{server.url}/api/v1/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    calls = 0
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=8,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: schemathesis.Case) -> None:
            nonlocal calls
            calls += 1
            case.call_and_validate(checks=[not_a_server_error])

        fuzz()
    assert calls >= 3 * len(operations)
