"""Everything a new version needs before it is written: signature, profiles, lineage,
and the model's files in the artifact store. No database access here.

Under a column policy (:mod:`shipyard.protection`) the training data's protected columns are
kept out of what is stored: the signature keeps their name, kind and dtype but not the
values it would list (a string column's distinct values, a number's min and max; a
``category`` column's categories stay, as requests are checked against them); the
reference profile and sample hold ``hash`` and ``mask`` columns protected (so drift is
measured between protected values, as the prediction log holds them) and leave ``drop``
and ``encrypt`` columns out (random ciphertexts are no baseline).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInputError, ShipyardError
from shipyard.protection.policy import Protector
from shipyard.registry.convert import clean_params, jsonable
from shipyard.registry.lineage import environment, git_commit
from shipyard.runtimes import Runtime
from shipyard.schema import OutputSpec, Signature
from shipyard.stats.fingerprint import fingerprint
from shipyard.stats.profile import profile_frame, profile_values
from shipyard.store.artifacts import ArtifactStore, Manifest, manifest_digest

#: Rows of the training sample used to check the model runs and to infer its output.
_PROBE_ROWS = 100
MODEL_DIR = "model"
REFERENCE_FILE = "reference.parquet"
CARD_FILE = "MODEL_CARD.md"


@dataclass(frozen=True)
class Prepared:
    """A version's content, computed and stored, waiting for its number."""

    flavor: str
    signature: Signature
    profile: dict[str, Any] | None
    target_profile: dict[str, Any] | None
    prediction_profile: dict[str, Any] | None
    params: dict[str, Any]
    lineage: dict[str, Any]
    flavor_metadata: dict[str, Any]
    artifacts: Manifest
    artifact_digest: str


def as_frame(data: Any, what: str) -> pd.DataFrame:
    """Training inputs as a DataFrame; a 2-D array gets columns ``f0, f1, …``."""
    if isinstance(data, pd.DataFrame):
        odd = [repr(c) for c in data.columns if not isinstance(c, str)]
        if odd:
            raise InvalidInputError(
                f"{what} has non-string column names ({', '.join(odd[:5])}); name every "
                "column with a string, e.g. data.columns = [f'f{i}' for i in ...]"
            )
        return data
    if isinstance(data, np.ndarray) and data.ndim == 2:
        return pd.DataFrame(data, columns=[f"f{i}" for i in range(data.shape[1])])
    raise InvalidInputError(
        f"{what} must be a pandas DataFrame (or a 2-D numpy array); got {type(data).__name__}"
    )


def _output_spec(runtime: Runtime, probe: pd.DataFrame, target: Any) -> OutputSpec:
    try:
        predictions = np.asarray(runtime.predict(probe))
    except ShipyardError:
        raise
    except Exception as exc:
        first_line = (str(exc).strip().splitlines() or [""])[0]
        if type(exc).__name__ == "NotFittedError":
            advice = "train (fit) the model before registering it"
        else:
            advice = (
                "training_data (--training-data) must hold exactly the model's input columns; "
                "leave the target out (target=, or --target-column on the command line)"
            )
        raise InvalidInputError(
            f"the model failed to predict on the first rows of training_data "
            f"({type(exc).__name__}: {first_line}); {advice}"
        ) from exc
    classes = runtime.classes
    if predictions.ndim == 2 and predictions.shape[1] > 1:  # several outputs per row
        rows_sum_to_one = (
            predictions.dtype.kind == "f"
            and bool(((predictions >= 0) & (predictions <= 1)).all())
            and bool(np.allclose(predictions.sum(axis=1), 1.0))
        )
        kind = "probabilities" if rows_sum_to_one else "other"
    elif classes is not None:
        kind = "class_labels"
    elif predictions.dtype.kind == "f":
        target_kind = np.asarray(target).dtype.kind if target is not None else "f"
        kind = "regression_value" if target_kind in "fiu" else "other"
    elif predictions.dtype.kind in "biuUO":
        kind = "class_labels"
    else:
        kind = "other"
    return OutputSpec(
        kind=kind,  # type: ignore[arg-type]
        dtype=str(predictions.dtype),
        classes=jsonable(classes) if classes is not None else None,
        probabilities=runtime.has_proba,
    )


def prepare(
    runtime: Runtime,
    store: ArtifactStore,
    *,
    training_data: Any,
    target: Any,
    signature: Signature | None,
    params: dict[str, Any] | None,
    code_version: str | None,
    lineage: dict[str, Any] | None,
    sample_rows: int,
    bins: int,
    max_categories: int,
    policy: Protector | None = None,
) -> Prepared:
    """Infer, profile, save and store a model; returns what the version row needs.
    ``policy``: the model's column policy (see the module docs)."""
    frame = None if training_data is None else as_frame(training_data, "training_data")
    if frame is None and signature is None:
        raise InvalidInputError(
            "pass training_data= (--training-data FILE on the command line): a sample of the "
            "training inputs, so the signature and reference profile can be inferred"
        )
    if frame is not None and len(frame) == 0:
        raise InvalidInputError("training_data has no rows; pass a sample of the training inputs")
    target_values = None if target is None else np.asarray(target)
    if frame is not None and target_values is not None and len(target_values) != len(frame):
        raise InvalidInputError(
            f"target has {len(target_values)} values but training_data has {len(frame)} rows; "
            "pass one target value per row"
        )

    profile = target_profile = prediction_profile = None
    reference: pd.DataFrame | None = None
    data_lineage: dict[str, Any] | None = None
    if frame is not None:
        inferred = Signature.infer(frame)
        probe = inferred.validate(frame.head(_PROBE_ROWS))
        output = _output_spec(runtime, probe, target)
        signature = (signature or inferred).model_copy(update={"output": output})
        profiled = _stored(frame, policy)
        profile = profile_frame(profiled, bins=bins, max_categories=max_categories).model_dump(
            mode="json"
        )
        data_lineage = fingerprint(frame).model_dump(mode="json")
        labels = output.kind == "class_labels"
        one_target = target_values is not None and target_values.ndim == 1
        if target_values is not None:
            data_lineage["target"] = fingerprint(target_values).model_dump(mode="json")
        if one_target:
            assert target_values is not None
            target_profile = _profile(target_values, "target", labels, bins, max_categories)
        reference = _reference_sample(frame, target_values if one_target else None, sample_rows)
        if reference is not None and output.kind in ("class_labels", "regression_value"):
            predictions = np.asarray(
                runtime.predict(inferred.validate(reference[list(frame.columns)]))
            )
            reference["__prediction__"] = predictions
            prediction_profile = _profile(predictions, "prediction", labels, bins, max_categories)
        if reference is not None:
            reference = _stored(reference, policy)
    assert signature is not None
    if policy:
        signature = _unlisted(signature, policy)

    with tempfile.TemporaryDirectory(prefix="shipyard-register-") as tmp:
        root = Path(tmp)
        (root / MODEL_DIR).mkdir()
        flavor_metadata = jsonable(runtime.save(root / MODEL_DIR))
        if reference is not None:
            reference.to_parquet(root / REFERENCE_FILE, index=False)
        manifest = store.put_directory(root)

    model_params = params
    if model_params is None and hasattr(runtime.model, "get_params"):
        try:
            model_params = runtime.model.get_params(deep=False)
        except Exception:  # a third-party get_params that needs arguments
            model_params = None
    lineage_record: dict[str, Any] = {
        "training_data": data_lineage,
        "code_version": ({"commit": code_version, "dirty": None} if code_version else git_commit()),
        "environment": environment(runtime.library_versions()),
    }
    if lineage:
        lineage_record["extra"] = jsonable(lineage)
    return Prepared(
        flavor=runtime.flavor,
        signature=signature,
        profile=profile,
        target_profile=target_profile,
        prediction_profile=prediction_profile,
        params=clean_params(model_params),
        lineage=lineage_record,
        flavor_metadata=flavor_metadata,
        artifacts=manifest,
        artifact_digest=manifest_digest(manifest),
    )


def _stored(frame: pd.DataFrame, policy: Protector | None) -> pd.DataFrame:
    """``frame`` as the profile and the sample may hold it under ``policy``."""
    if not policy:
        return frame
    sealed = [c for c in frame.columns if policy.action(str(c)) == "encrypt"]
    return policy.frame(frame.drop(columns=sealed))


def _unlisted(signature: Signature, policy: Protector) -> Signature:
    """``signature`` without the values it lists of protected columns (see the module
    docs)."""
    inputs = [
        spec.model_copy(
            update={"min": None, "max": None}
            | ({} if spec.kind == "category" else {"categories": None})
        )
        if policy.action(spec.name) is not None
        else spec
        for spec in signature.inputs
    ]
    return signature.model_copy(update={"inputs": inputs})


def _profile(
    values: np.ndarray[Any, Any], name: str, labels: bool, bins: int, max_categories: int
) -> dict[str, Any]:
    """Profile of a target or of predictions: class labels are counted per class even when
    they are numbers, so drift compares class frequencies, not a histogram of 0s and 1s."""
    data: Any = pd.Series(values, name=name).astype("category") if labels else values
    return profile_values(data, name=name, bins=bins, max_categories=max_categories).model_dump(
        mode="json"
    )


def _reference_sample(
    frame: pd.DataFrame, target: np.ndarray[Any, Any] | None, rows: int
) -> pd.DataFrame | None:
    """A seeded random sample of the training rows (with the target), kept as Parquet."""
    if rows <= 0:
        return None
    positions = np.arange(len(frame))
    if len(frame) > rows:
        positions = np.sort(np.random.default_rng(0).choice(len(frame), rows, replace=False))
    sample = frame.iloc[positions].reset_index(drop=True)
    if target is not None:
        sample["__target__"] = target[positions]
    return sample
