"""Fuzz every route of the data plane's OpenAPI schema: no input may produce a 5xx."""

from __future__ import annotations

import pytest
import schemathesis

from fuzzing import fuzz_every_operation
from serving.conftest import Served

pytestmark = pytest.mark.slow


def test_no_input_produces_a_server_error(served: Served) -> None:
    schema = schemathesis.openapi.from_url(f"{served.url}/openapi.json")
    operations, calls = fuzz_every_operation(schema, 30)
    assert operations >= 10  # every route is in the schema
    assert calls >= 5 * operations
