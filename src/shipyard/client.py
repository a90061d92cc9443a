"""The HTTP SDK: :class:`Client` talks to a control plane (``shipyard server``).

It returns the records the in-process services return (:class:`~shipyard.Model`,
:class:`~shipyard.ModelVersion`, :class:`~shipyard.endpoints.Endpoint` …) and raises the
:class:`~shipyard.ShipyardError` subclass the server raised, with the server's message.

>>> with shipyard.Client("http://127.0.0.1:8000") as client:  # doctest: +SKIP
...     version = client.register("model.skops", "fraud", flavor="sklearn",
...                               training_data="train.parquet", aliases=["champion"])
...     client.create_endpoint("fraud", {"kind": "single", "variants": [
...         {"name": "v1", "model": version.uri}]})
"""

from __future__ import annotations

import hashlib
import io
import ssl
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
import pandas as pd
from pydantic import TypeAdapter

from shipyard import errors
from shipyard._client_access import Access
from shipyard._client_alerts import Alerting
from shipyard._client_audit import Audit
from shipyard._client_jobs import BatchJobs
from shipyard._client_log import PredictionLog
from shipyard._client_monitors import MonitorOperations
from shipyard._client_operations import Operations
from shipyard._client_policies import ColumnPolicyOperations
from shipyard._client_privacy import Privacy
from shipyard._client_schedules import BatchSchedules
from shipyard.auth.service import read_credentials
from shipyard.config import Settings
from shipyard.endpoints import Endpoint, Revision, TrafficPolicy
from shipyard.errors import (
    ArtifactIntegrityError,
    ConflictError,
    DatabaseError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
    ServerUnreachableError,
    ShipyardError,
    UnauthorizedError,
)
from shipyard.registry import Alias, Event, Model, ModelVersion
from shipyard.registry.lineage import git_commit
from shipyard.registry.types import VerifyReport, VersionStatus

_BY_STATUS: dict[int, type[ShipyardError]] = {
    400: InvalidInputError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    422: InvalidInputError,
    503: DatabaseError,
}


def _error(response: httpx.Response) -> ShipyardError:
    """The error the server raised: its class (by the ``X-Shipyard-Error`` header, else by
    status) and its message."""
    status = response.status_code
    try:
        message = str(response.json()["error"])
    except (ValueError, KeyError, TypeError):
        message = (
            f"{response.request.method} {response.request.url} answered {status}: "
            f"{response.text[:200]}; is this URL a Shipyard server?"
        )
    kind = getattr(errors, response.headers.get("x-shipyard-error", ""), None)
    if not (isinstance(kind, type) and issubclass(kind, ShipyardError)):
        kind = _BY_STATUS.get(status, ShipyardError)
    error: ShipyardError
    try:
        if issubclass(kind, errors.RateLimitedError):
            wait = response.headers.get("retry-after", "1")
            error = kind(message, retry_after=int(wait) if wait.isdigit() else 1)
        else:
            error = kind(message)
    except TypeError:  # an error class with a different constructor
        error = ShipyardError(message)
    if error.status_code != status:
        error.status_code = status  # type: ignore[misc]
    return error


def _policy(policy: TrafficPolicy | Mapping[str, Any]) -> Any:
    return policy.model_dump(mode="json") if isinstance(policy, TrafficPolicy) else dict(policy)


def _pairs(values: Mapping[str, Any] | None) -> list[str]:
    return [f"{k}={v}" for k, v in (values or {}).items()]


def _trust(verify: str | Path | bool | None) -> ssl.SSLContext | bool:
    """What the client trusts for ``https://``: the system's certificates, plus those in
    a PEM file when given; ``False`` checks nothing (never in production)."""
    if verify is False:
        return False
    context = ssl.create_default_context()
    if verify not in (None, True):
        try:
            context.load_verify_locations(cafile=str(verify))
        except (OSError, ssl.SSLError) as exc:
            raise errors.InvalidInputError(
                f"the CA bundle {verify} cannot be read as PEM certificates ({exc}); give "
                "the certificate of the server (or of its authority) as a PEM file"
            ) from None
    return context


class Client(
    Operations,
    MonitorOperations,
    Alerting,
    BatchJobs,
    BatchSchedules,
    Audit,
    PredictionLog,
    Access,
    ColumnPolicyOperations,
    Privacy,
):
    """A Shipyard control plane at ``url`` (e.g. ``http://127.0.0.1:8000``).

    ``token`` is sent as ``Authorization: Bearer <token>`` (default: ``SHIPYARD_TOKEN``,
    else the one ``shipyard init`` saved in ``$SHIPYARD_HOME/credentials``);
    ``actor`` names who makes changes (default: the server's). ``verify`` is a PEM file
    of certificates to trust for an ``https://`` server besides the system's (default:
    ``SHIPYARD_CA_BUNDLE``). ``transport`` lets tests and proxies supply their own
    :mod:`httpx` transport.
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float = 60.0,
        actor: str | None = None,
        transport: httpx.BaseTransport | None = None,
        verify: str | Path | bool | None = None,
    ) -> None:
        settings = Settings()
        if token is None:
            token = settings.token or read_credentials(settings.home)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if actor:
            headers["X-Shipyard-Actor"] = actor
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=f"{self.url}/api/v1",
            timeout=timeout,
            headers=headers,
            transport=transport,
            verify=_trust(settings.ca_bundle if verify is None else verify),
        )

    # -- plumbing --------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise ServerUnreachableError(
                f"{self.url} did not answer {method} {path} in time ({exc}); retry, or raise "
                "the client's timeout"
            ) from exc
        except httpx.TransportError as exc:
            raise ServerUnreachableError(
                f"cannot reach a Shipyard server at {self.url} ({exc}); check the URL and "
                "that shipyard server is running there"
            ) from exc
        if not response.is_success:
            raise _error(response)
        return response

    # -- models ----------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """The server's health and version."""
        return dict(self._get("/health"))

    def list_models(
        self,
        *,
        search: str | None = None,
        owner: str | None = None,
        tags: Mapping[str, str] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Model]:
        """Models sorted by name (``shipyard models list``)."""
        params: dict[str, Any] = {"search": search, "owner": owner, "tag": _pairs(tags)}
        params |= {"limit": limit, "offset": offset}
        found = self._get("/models", {k: v for k, v in params.items() if v is not None})
        return TypeAdapter(list[Model]).validate_python(found)

    def get_model(self, name: str) -> Model:
        return Model.model_validate(self._get(f"/models/{name}"))

    def update_model(
        self,
        name: str,
        *,
        description: str | None = None,
        owner: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Model:
        """Change a model's description, owner or tags (``tags`` replaces all)."""
        body = {"description": description, "owner": owner, "tags": tags}
        sent = {k: v for k, v in body.items() if v is not None}
        return Model.model_validate(self._request("PATCH", f"/models/{name}", json=sent).json())

    def list_versions(
        self,
        name: str | None = None,
        *,
        status: VersionStatus | None = None,
        flavor: str | None = None,
        tags: Mapping[str, str] | None = None,
        metrics: Sequence[str] = (),
        limit: int = 100,
        offset: int = 0,
    ) -> list[ModelVersion]:
        """Versions of one model (or of all), newest first; ``metrics`` like ``"f1>=0.9"``."""
        params: dict[str, Any] = {"tag": _pairs(tags), "metric": list(metrics)}
        params |= {"status": status, "flavor": flavor, "limit": limit, "offset": offset}
        path = "/versions" if name is None else f"/models/{name}/versions"
        found = self._get(path, {k: v for k, v in params.items() if v is not None})
        return TypeAdapter(list[ModelVersion]).validate_python(found)

    def get_version(self, name: str, version: int | str) -> ModelVersion:
        """A version by number, ``"latest"``, or alias."""
        return ModelVersion.model_validate(self._get(f"/models/{name}/versions/{version}"))

    def register(
        self,
        path: str | Path,
        name: str,
        *,
        flavor: str,
        training_data: str | Path | pd.DataFrame,
        target_column: str | None = None,
        metrics: Mapping[str, float] | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        description: str = "",
        intended_use: str = "",
        python_class: str | None = None,
        trust_pickle: bool = False,
        aliases: Sequence[str] = (),
        code_version: str | None = None,
    ) -> ModelVersion:
        """Upload a saved model (a file, or a directory for pyfunc) as the next version of
        ``name``, with a sample of its training inputs (a CSV/Parquet file or a
        DataFrame) — ``shipyard models register`` over HTTP. ``code_version`` defaults to
        the git commit of this process's working directory, as with a local registration."""
        path = Path(path)
        if path.is_dir():
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
                for item in sorted(path.rglob("*")):
                    bundle.write(item, Path(path.name) / item.relative_to(path))
            model_file: tuple[str, Any] = (f"{path.name}.zip", buffer.getvalue())
        elif path.is_file():
            model_file = (path.name, path.read_bytes())
        else:
            raise InvalidInputError(f"{path} does not exist; give the path of a saved model")
        if isinstance(training_data, pd.DataFrame):
            data: tuple[str, Any] = ("training_data.parquet", training_data.to_parquet())
        else:
            data_path = Path(training_data)
            if not data_path.is_file():
                raise InvalidInputError(
                    f"{data_path} does not exist; give a CSV or Parquet file or a DataFrame"
                )
            data = (data_path.name, data_path.read_bytes())
        form: dict[str, Any] = {
            "flavor": flavor,
            "description": description,
            "intended_use": intended_use,
            "trust_pickle": str(trust_pickle).lower(),
            "metric": _pairs(metrics),
            "param": _pairs(params),
            "tag": _pairs(tags),
            "alias": list(aliases),
        }
        if target_column is not None:
            form["target_column"] = target_column
        if python_class is not None:
            form["python_class"] = python_class
        if code_version is None:
            found = git_commit()
            code_version = found["commit"] if found else None
        if code_version:
            form["code_version"] = code_version
        response = self._request(
            "POST",
            f"/models/{name}/versions",
            data=form,
            files={"file": model_file, "training_data": data},
        )
        return ModelVersion.model_validate(response.json())

    def set_status(self, name: str, version: int, status: VersionStatus) -> ModelVersion:
        """``archived`` (``shipyard models archive``) or ``ready`` (``… restore``)."""
        response = self._request(
            "PUT", f"/models/{name}/versions/{version}/status", json={"status": status}
        )
        return ModelVersion.model_validate(response.json())

    def set_alias(self, name: str, alias: str, version: int) -> Alias:
        """Point ``alias`` at ``version`` (creating or moving it)."""
        response = self._request(
            "PUT", f"/models/{name}/aliases/{alias}", json={"version": version}
        )
        return Alias.model_validate(response.json())

    def delete_alias(self, name: str, alias: str) -> Alias:
        """Remove ``alias``; returns what it pointed at."""
        return Alias.model_validate(
            self._request("DELETE", f"/models/{name}/aliases/{alias}").json()
        )

    def model_card(self, name: str, version: int | str) -> str:
        """The version's Markdown model card."""
        return str(self._get(f"/models/{name}/versions/{version}/card")["markdown"])

    def history(self, name: str, *, limit: int = 50) -> list[Event]:
        """Who changed what on a model, its versions and aliases, newest first."""
        found = self._get(f"/models/{name}/events", {"limit": limit})
        return TypeAdapter(list[Event]).validate_python(found)

    def verify(self, name: str | None = None) -> VerifyReport:
        """Have the server check stored files against their sha256 (one model, or all)."""
        path = "/verify" if name is None else f"/models/{name}/verify"
        return VerifyReport.model_validate(self._request("POST", path).json())

    def download(self, name: str, version: int | str, output: str | Path) -> list[Path]:
        """Write a version's files into the new or empty directory ``output``, each
        checked against its sha256; returns the paths written."""
        output = Path(output)
        if output.exists() and (not output.is_dir() or any(output.iterdir())):
            raise ConflictError(f"{output} exists and is not an empty directory; choose another")
        record = self.get_version(name, version)
        files = self._get(f"/models/{name}/versions/{record.version}/files")
        written = []
        for entry in files:
            body = self._request(
                "GET", f"/models/{name}/versions/{record.version}/files/{entry['file']}"
            ).content
            if hashlib.sha256(body).hexdigest() != entry["sha256"]:
                raise ArtifactIntegrityError(
                    f"{entry['file']} of {record.uri} arrived altered (sha256 mismatch); retry"
                )
            target = output / entry["file"]
            if not target.resolve().is_relative_to(output.resolve()):
                raise ArtifactIntegrityError(
                    f"the server named a file outside {output} ({entry['file']!r}); "
                    "refusing to write it: check that the URL is your Shipyard server"
                )
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(body)
            written.append(target)
        return written

    # -- endpoints -------------------------------------------------------------------

    def create_endpoint(
        self,
        name: str,
        policy: TrafficPolicy | Mapping[str, Any],
        *,
        description: str = "",
        reason: str = "",
    ) -> Endpoint:
        """A new endpoint serving ``policy`` from its revision 1."""
        body = {"name": name, "policy": _policy(policy), "description": description}
        response = self._request("POST", "/endpoints", json=body | {"reason": reason})
        return Endpoint.model_validate(response.json())

    def update_endpoint(
        self, name: str, policy: TrafficPolicy | Mapping[str, Any], *, reason: str = ""
    ) -> Endpoint:
        """Serve ``policy`` from a new revision (an identical policy changes nothing)."""
        body = {"policy": _policy(policy), "reason": reason}
        return Endpoint.model_validate(self._request("PUT", f"/endpoints/{name}", json=body).json())

    def get_endpoint(self, name: str) -> Endpoint:
        return Endpoint.model_validate(self._get(f"/endpoints/{name}"))

    def list_endpoints(self) -> list[Endpoint]:
        return TypeAdapter(list[Endpoint]).validate_python(self._get("/endpoints"))

    def list_revisions(self, name: str) -> list[Revision]:
        """Every revision of the endpoint, oldest first."""
        return TypeAdapter(list[Revision]).validate_python(
            self._get(f"/endpoints/{name}/revisions")
        )

    def endpoint_history(self, name: str, *, limit: int = 50) -> list[Event]:
        """Who changed what on the endpoint (revisions, rollbacks, rollouts), newest first."""
        found = self._get(f"/endpoints/{name}/events", {"limit": limit})
        return TypeAdapter(list[Event]).validate_python(found)

    def rollback_endpoint(self, name: str, to: int | None = None, *, reason: str = "") -> Endpoint:
        """Make revision ``to`` (default: the one the current revision replaced) current."""
        body = {"to": to, "reason": reason}
        response = self._request("POST", f"/endpoints/{name}/rollback", json=body)
        return Endpoint.model_validate(response.json())
