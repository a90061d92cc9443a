"""Fuzz every operation of the control plane's OpenAPI schema: no input may produce a 5xx."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis

from api.conftest import Server
from fuzzing import fuzz_every_operation

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
    operations, calls = fuzz_every_operation(schema, 8)
    assert operations >= 20  # every route is in the schema
    assert calls >= 3 * operations
