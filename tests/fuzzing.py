"""Schemathesis over every operation of an OpenAPI schema: no input may produce a 5xx."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error


def fuzz_every_operation(schema: Any, examples: int) -> tuple[int, int]:
    """Send up to ``examples`` generated requests to each operation, failing on any 5xx;
    returns ``(operations, calls)``."""
    operations = [result.ok() for result in schema.get_all_operations()]
    calls = 0
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: schemathesis.Case) -> None:
            nonlocal calls
            calls += 1
            case.call_and_validate(checks=[not_a_server_error])

        fuzz()
    return len(operations), calls
