"""``/api/v1/models``: browse models and versions, archive, alias; cards, files, history.

The REST twins of ``shipyard models …`` and ``shipyard alias …`` (registering a version by
upload is in :mod:`shipyard.api.registration`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from fastapi.responses import PlainTextResponse, Response

from shipyard.api._deps import ActorDep, RegistryDep
from shipyard.api._params import Limit, Name, Offset, Ref, Tags, VersionNumber, version_of
from shipyard.api.errors import responses
from shipyard.api.schemas import (
    NO_NUL,
    AliasTarget,
    ArtifactFile,
    Card,
    ModelChange,
    StatusChange,
)
from shipyard.errors import (
    InvalidInputError,
    NotFoundError,
)
from shipyard.fields import pairs
from shipyard.registry import Alias, Event, Model, ModelVersion, Registry
from shipyard.registry.types import VerifyReport, VersionStatus
from shipyard.runtimes import flavors

router = APIRouter(tags=["models"], responses=responses(400, 404, 422))


# -- models ----------------------------------------------------------------------------


@router.get("/models", response_model=list[Model], summary="List models")
def list_models(
    registry: RegistryDep,
    search: Annotated[
        str | None,
        Query(max_length=256, pattern=NO_NUL, description="Text in the name or description."),
    ] = None,
    owner: Annotated[
        str | None, Query(max_length=256, pattern=NO_NUL, description="Only this owner's.")
    ] = None,
    tag: Tags = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[Model]:
    """Models sorted by name, with their latest version number and aliases."""
    return registry.list_models(
        search=search, owner=owner, tags=pairs(tag, "tag"), limit=limit, offset=offset
    )


@router.get("/models/{name}", response_model=Model, summary="Show a model")
def get_model(name: Name, registry: RegistryDep) -> Model:
    """One model; its versions are at ``/models/{name}/versions``."""
    return registry.get_model(name)


@router.patch(
    "/models/{name}",
    response_model=Model,
    summary="Change a model's description, owner or tags",
)
def update_model(name: Name, change: ModelChange, registry: RegistryDep, actor: ActorDep) -> Model:
    """Versions never change; ``tags`` replaces all tags."""
    if change.description is None and change.owner is None and change.tags is None:
        raise InvalidInputError("nothing to change; give description, owner or tags")
    return registry.update_model(
        name, description=change.description, owner=change.owner, tags=change.tags, actor=actor
    )


@router.get(
    "/models/{name}/events", response_model=list[Event], summary="History of a model's changes"
)
def model_events(
    name: Name, registry: RegistryDep, limit: Annotated[int, Query(ge=1, le=10_000)] = 50
) -> list[Event]:
    """Who changed what on the model, its versions and its aliases, newest first."""
    registry.get_model(name)  # an unknown model is a 404, not an empty history
    return registry.events(model=name, limit=limit)


@router.post(
    "/models/{name}/verify",
    response_model=VerifyReport,
    summary="Check a model's stored files",
)
def verify_model(name: Name, registry: RegistryDep) -> VerifyReport:
    """Check every stored file of every version of the model against its sha256."""
    registry.get_model(name)
    return registry.verify(name)


@router.post("/verify", response_model=VerifyReport, summary="Check every stored file")
def verify_all(registry: RegistryDep) -> VerifyReport:
    """Check every stored file of every version of every model against its sha256."""
    return registry.verify()


# -- versions --------------------------------------------------------------------------


def _versions(
    registry: Registry,
    name: str | None,
    status: VersionStatus | None,
    flavor: str | None,
    metric: list[str] | None,
    tag: list[str] | None,
    limit: int,
    offset: int,
) -> list[ModelVersion]:
    if flavor is not None and flavor not in flavors():
        raise InvalidInputError(f"flavor {flavor!r} is not one of: {', '.join(flavors())}")
    return registry.list_versions(
        name,
        status=status,
        flavor=flavor,
        tags=pairs(tag, "tag"),
        metrics=metric or [],
        limit=limit,
        offset=offset,
    )


Status = Annotated[VersionStatus | None, Query(description="ready or archived.")]
Flavor = Annotated[str | None, Query(max_length=64, description="Only this flavor.")]
Metrics = Annotated[
    list[str] | None,
    Query(description="Filter like `accuracy>=0.9`; repeat to require several.", max_length=100),
]


@router.get(
    "/versions",
    response_model=list[ModelVersion],
    summary="Search versions of every model",
)
def search_versions(
    registry: RegistryDep,
    status: Status = None,
    flavor: Flavor = None,
    metric: Metrics = None,
    tag: Tags = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[ModelVersion]:
    """Versions of all models by model name, newest first, filtered by status, flavor,
    tags and metrics."""
    return _versions(registry, None, status, flavor, metric, tag, limit, offset)


@router.get(
    "/models/{name}/versions",
    response_model=list[ModelVersion],
    summary="List a model's versions",
)
def list_versions(
    name: Name,
    registry: RegistryDep,
    status: Status = None,
    flavor: Flavor = None,
    metric: Metrics = None,
    tag: Tags = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[ModelVersion]:
    """The model's versions, newest first, filtered like ``/versions``."""
    return _versions(registry, name, status, flavor, metric, tag, limit, offset)


@router.get("/models/{name}/versions/{ref}", response_model=ModelVersion, summary="Show a version")
def get_version(name: Name, ref: Ref, registry: RegistryDep) -> ModelVersion:
    """One version by number, ``latest`` (newest ready), or alias."""
    return version_of(registry, name, ref)


@router.put(
    "/models/{name}/versions/{version}/status",
    response_model=ModelVersion,
    summary="Archive a version or make it ready again",
    responses=responses(409),
)
def set_status(
    name: Name,
    version: VersionNumber,
    change: StatusChange,
    registry: RegistryDep,
    actor: ActorDep,
) -> ModelVersion:
    """``archived``: it stays readable but can carry no alias; ``ready``: restored."""
    return registry.set_status(name, version, change.status, actor=actor)


@router.get("/models/{name}/versions/{ref}/card", response_model=Card, summary="Model card")
def card(name: Name, ref: Ref, registry: RegistryDep) -> Card:
    """The version's model card, Markdown inside JSON."""
    record = version_of(registry, name, ref)
    return Card(name=name, version=record.version, markdown=registry.card(name, record.version))


@router.get(
    "/models/{name}/versions/{ref}/card.md",
    response_class=PlainTextResponse,
    summary="Model card as Markdown",
    responses={200: {"content": {"text/markdown": {}}, "description": "The card"}},
)
def card_markdown(name: Name, ref: Ref, registry: RegistryDep) -> Response:
    """The version's model card as a Markdown document."""
    record = version_of(registry, name, ref)
    text = registry.card(name, record.version)
    return Response(text, media_type="text/markdown; charset=utf-8")


@router.get(
    "/models/{name}/versions/{ref}/files",
    response_model=list[ArtifactFile],
    summary="List a version's files",
)
def list_files(name: Name, ref: Ref, registry: RegistryDep) -> list[ArtifactFile]:
    """Every stored file of the version, with its size and sha256."""
    record = version_of(registry, name, ref)
    return [
        ArtifactFile(file=file, size=int(entry["size"]), sha256=str(entry["sha256"]))
        for file, entry in sorted(record.artifacts.items())
    ]


@router.get(
    "/models/{name}/versions/{ref}/files/{file:path}",
    summary="Download one file of a version",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The file"}},
)
def download_file(name: Name, ref: Ref, file: str, registry: RegistryDep) -> Response:
    """The file's bytes, checked against the recorded sha256 before they are sent."""
    record = version_of(registry, name, ref)
    if file not in record.artifacts:
        raise NotFoundError(
            f"model {name!r} version {record.version} has no file {file!r}; list its files "
            f"at /api/v1/models/{name}/versions/{record.version}/files"
        )
    body = registry.read_artifact(name, record.version, file)
    return Response(body, media_type="application/octet-stream")


# -- aliases ---------------------------------------------------------------------------


@router.put(
    "/models/{name}/aliases/{alias}",
    response_model=Alias,
    summary="Point an alias at a version",
    responses=responses(409),
)
def set_alias(
    name: Name,
    alias: Annotated[str, PathParam(max_length=256, description="Alias, e.g. champion.")],
    target: AliasTarget,
    registry: RegistryDep,
    actor: ActorDep,
) -> Alias:
    """Creates the alias, or moves it atomically; ``previous_version`` says where it was."""
    return registry.set_alias(name, alias, target.version, actor=actor)


@router.delete("/models/{name}/aliases/{alias}", response_model=Alias, summary="Delete an alias")
def delete_alias(
    name: Name,
    alias: Annotated[str, PathParam(max_length=256, description="Alias to remove.")],
    registry: RegistryDep,
    actor: ActorDep,
) -> Alias:
    """Removes the alias; the reply says which version it pointed at."""
    return registry.delete_alias(name, alias, actor=actor)
