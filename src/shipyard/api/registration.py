"""``POST /api/v1/models/{name}/versions``: register an uploaded model file as a version.

The twin of ``shipyard models register``: the same options and checks, in the same order,
on files uploaded as a multipart form.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile

from shipyard.api._deps import ActorDep, RegistryDep
from shipyard.api._params import Name
from shipyard.api.errors import responses
from shipyard.api.schemas import NO_NUL, no_nul_text
from shipyard.api.uploads import read_table, save, unpack
from shipyard.errors import InvalidInputError, ShipyardError, UntrustedArtifactError
from shipyard.fields import numbers, pairs
from shipyard.registry import ModelVersion
from shipyard.registry.names import validate_alias
from shipyard.runtimes import get_runtime

router = APIRouter(tags=["models"], responses=responses(400, 404, 409, 422))


@router.post(
    "/models/{name}/versions",
    response_model=ModelVersion,
    status_code=201,
    summary="Register a saved model file as a new version",
    responses=responses(409),
)
def register_version(
    name: Name,
    registry: RegistryDep,
    actor: ActorDep,
    file: Annotated[
        UploadFile,
        File(
            description="The saved model: .skops (or .pkl/.joblib) for sklearn, .json/.ubj for "
            "xgboost, .txt for lightgbm, .onnx, a pickled river model, or a .zip of the "
            "directory a pyfunc model saved."
        ),
    ],
    training_data: Annotated[
        UploadFile,
        File(description="CSV or Parquet sample of the training inputs (signature, profile)."),
    ],
    flavor: Annotated[
        str, Form(max_length=64, description="sklearn, xgboost, lightgbm, onnx, river or pyfunc.")
    ],
    target_column: Annotated[
        str | None, Form(max_length=256, description="Column of training_data holding the target.")
    ] = None,
    metric: Annotated[list[str] | None, Form(description="NAME=NUMBER; repeatable.")] = None,
    param: Annotated[list[str] | None, Form(description="NAME=VALUE; repeatable.")] = None,
    tag: Annotated[list[str] | None, Form(description="KEY=VALUE; repeatable.")] = None,
    description: Annotated[str, Form(max_length=100_000, pattern=NO_NUL)] = "",
    intended_use: Annotated[str, Form(max_length=100_000, pattern=NO_NUL)] = "",
    python_class: Annotated[
        str | None,
        Form(max_length=256, description="pyfunc: module:Class of a shipyard.PythonModel."),
    ] = None,
    trust_pickle: Annotated[
        bool,
        Form(
            description="Allow a pickle/joblib file. Honoured only by a server started with "
            "SHIPYARD_TRUST_PICKLE=1: a pickle can run code on the server."
        ),
    ] = False,
    alias: Annotated[
        list[str] | None, Form(description="Also point this alias at the new version.")
    ] = None,
    code_version: Annotated[
        str | None,
        Form(
            max_length=256,
            description="The git commit (or other version) of the training code; "
            "shipyard.Client sends its working directory's.",
        ),
    ] = None,
) -> ModelVersion:
    """The twin of ``shipyard models register``: the same checks, in the same order."""
    fields: dict[str, list[str | None] | list[str] | None] = {
        "flavor": [flavor],
        "target_column": [target_column],
        "metric": metric,
        "tag": tag,
        "param": param,
        "python_class": [python_class],
        "alias": alias,
        "code_version": [code_version],
    }
    for field, values in fields.items():
        for value in values or []:
            no_nul_text(value, field)
    for each in alias or []:
        validate_alias(each)  # before anything is written
    get_runtime(flavor)  # an unknown flavor is reported before any file is read
    if trust_pickle and not registry.settings.trust_pickle:
        raise UntrustedArtifactError(
            "this server does not load pickles sent to it (a pickle can run code on the "
            "server); upload a .skops or native file, or start the server with "
            "SHIPYARD_TRUST_PICKLE=1 if every client is trusted"
        )
    metrics = numbers(metric, "metric")
    params = pairs(param, "param") or None
    tags = pairs(tag, "tag")
    with tempfile.TemporaryDirectory(prefix="shipyard-upload-") as tmp:
        (Path(tmp) / "model").mkdir()
        (Path(tmp) / "data").mkdir()
        path = save(file, Path(tmp) / "model", "model")
        if path.suffix.lower() == ".zip":
            path = unpack(path, "file")
        data = read_table(save(training_data, Path(tmp) / "data", "data"), "training_data")
        target: Any = None
        if target_column is not None:
            if target_column not in data.columns:
                raise InvalidInputError(
                    f"target_column {target_column!r} is not a column of training_data; its "
                    f"columns are: {', '.join(map(str, data.columns))}"
                )
            target = data.pop(target_column).to_numpy()
        try:
            version = registry.register_file(
                path,
                name,
                flavor=flavor,
                python_class=python_class,
                training_data=data,
                target=target,
                metrics=metrics,
                params=params,
                tags=tags,
                description=description,
                intended_use=intended_use,
                code_version=code_version or None,
                actor=actor,
            )
        except ShipyardError:
            raise
        except Exception as exc:  # a damaged or foreign file: the uploader's to fix
            raise InvalidInputError(
                f"file {path.name} could not be registered as a {flavor} model with this "
                f"training_data ({type(exc).__name__}: {exc}); upload a file saved with "
                f"{flavor}'s own tools and a sample of the inputs it was trained on"
            ) from exc
    for each in alias or []:
        registry.set_alias(name, each, version.version, actor=actor)
    return registry.get_version(name, version.version) if alias else version
