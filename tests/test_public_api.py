from __future__ import annotations

import numpy as np
import pytest

import shipyard
from models import logistic
from shipyard.errors import SignatureError


def test_all_is_sorted_and_every_name_exists() -> None:
    assert shipyard.__all__ == sorted(shipyard.__all__)
    assert shipyard.__all__ == [
        "Alias",
        "Client",
        "DriftReport",
        "Endpoints",
        "LoadedModel",
        "Model",
        "ModelVersion",
        "PythonModel",
        "Registry",
        "Settings",
        "ShipyardError",
        "Signature",
        "SignatureError",
        "TrafficPolicy",
        "__version__",
        "delete_alias",
        "drift_report",
        "get_registry",
        "load_model",
        "register_model",
        "set_alias",
    ]
    for name in shipyard.__all__:
        assert hasattr(shipyard, name), name


def test_register_load_and_alias_through_the_module_functions(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIPYARD_DATABASE_URL", database_url)
    model, frame, target = logistic()
    version = shipyard.register_model(
        model,
        "fraud",
        training_data=frame,
        target=target,
        metrics={"f1": 0.5},
        params={"C": 1},
        description="demo",
    )
    assert isinstance(version, shipyard.ModelVersion)
    assert (version.version, version.description, version.metrics) == (1, "demo", {"f1": 0.5})
    alias = shipyard.set_alias("fraud", "champion", 1)
    assert alias.version == 1
    loaded = shipyard.load_model("models:/fraud@champion")
    assert isinstance(loaded, shipyard.LoadedModel)
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))
    with pytest.raises(SignatureError, match="missing column"):
        loaded.predict(frame.drop(columns=["age"]))
    shipyard.delete_alias("fraud", "champion")
    with pytest.raises(shipyard.ShipyardError):
        shipyard.load_model("models:/fraud@champion")
