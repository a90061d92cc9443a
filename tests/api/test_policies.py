"""Column policies through the server: REST and :class:`shipyard.Client`, both stores."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from api.conftest import Server, serve
from shipyard.config import Settings
from shipyard.errors import ConfigurationError, InvalidInputError, NotFoundError
from shipyard.protection import generate_key


@pytest.fixture
def keyed(settings: Settings) -> Iterator[Server]:
    """The control plane, with a hash key and no encryption key."""
    yield from serve(
        settings.model_copy(update={"column_hash_key": SecretStr(generate_key())}),
        data_plane=False,
    )


def test_column_policies_over_rest(keyed: Server) -> None:
    client, http = keyed.client, keyed.http
    policy = client.set_column_policy("fraud", {"email": "hash", "notes": "drop"})
    assert policy.columns == {"email": "hash", "notes": "drop"}
    assert client.get_column_policy("fraud") == policy
    put = http.put("/endpoints/checkout/column-policy", json={"columns": {"card": "mask"}})
    assert put.status_code == 200 and put.json()["target_kind"] == "endpoint"
    assert [p.target for p in client.list_column_policies()] == ["checkout", "fraud"]
    assert [p.target for p in client.list_column_policies("endpoint")] == ["checkout"]
    left = http.delete("/models/fraud/column-policy", params={"column": "notes"})
    assert left.json()["columns"] == {"email": "hash"}
    assert client.remove_column_policy("checkout", kind="endpoint") is None
    assert http.get("/endpoints/checkout/column-policy").status_code == 404


def test_refusals_name_the_field_and_what_to_do(keyed: Server) -> None:
    client, http = keyed.client, keyed.http
    with pytest.raises(InvalidInputError, match="unknown action 'scramble'"):
        client.set_column_policy("fraud", {"ssn": "scramble"})
    keyless = http.put("/models/fraud/column-policy", json={"columns": {"ssn": "encrypt"}})
    assert keyless.status_code == 500
    assert keyless.headers["x-shipyard-error"] == "ConfigurationError"
    assert "SHIPYARD_COLUMN_KEYS" in keyless.json()["error"]
    with pytest.raises(ConfigurationError):
        client.set_column_policy("fraud", {"ssn": "encrypt"})
    empty = http.put("/models/fraud/column-policy", json={"columns": {}})
    assert empty.status_code == 422
    with pytest.raises(NotFoundError, match="has no column policy"):
        client.get_column_policy("fraud")
    assert client.list_column_policies() == []
