"""Every route of both planes, walked with no token, a bad token and a token of each role,
against the access matrix declared here: a route added without a rule fails this test."""

from __future__ import annotations

import re

import httpx

from api.conftest import Server
from shipyard.auth import AuthService
from shipyard.sdk import get_registry

OPEN, ANY, INFER, READ, WRITE, ADMIN = "open", "any", "infer", "read", "write", "admin"

#: What each role may do, as the roles are described to users.
ALLOWED = {
    "admin": {ANY, INFER, READ, WRITE, ADMIN},
    "maintainer": {ANY, INFER, READ, WRITE},
    "viewer": {ANY, READ},
    "predictor": {ANY, INFER},
}

CONTROL_PLANE = {
    ("get", "/api/v1/health"): OPEN,
    ("get", "/api/v1/whoami"): ANY,
    ("get", "/api/v1/models"): READ,
    ("get", "/api/v1/models/{name}"): READ,
    ("patch", "/api/v1/models/{name}"): WRITE,
    ("get", "/api/v1/models/{name}/events"): READ,
    ("post", "/api/v1/models/{name}/verify"): READ,
    ("post", "/api/v1/verify"): READ,
    ("get", "/api/v1/versions"): READ,
    ("get", "/api/v1/models/{name}/versions"): READ,
    ("post", "/api/v1/models/{name}/versions"): WRITE,
    ("get", "/api/v1/models/{name}/versions/{ref}"): READ,
    ("put", "/api/v1/models/{name}/versions/{version}/status"): WRITE,
    ("get", "/api/v1/models/{name}/versions/{ref}/card"): READ,
    ("get", "/api/v1/models/{name}/versions/{ref}/card.md"): READ,
    ("get", "/api/v1/models/{name}/versions/{ref}/files"): READ,
    ("get", "/api/v1/models/{name}/versions/{ref}/files/{file}"): READ,
    ("put", "/api/v1/models/{name}/aliases/{alias}"): WRITE,
    ("delete", "/api/v1/models/{name}/aliases/{alias}"): WRITE,
    ("get", "/api/v1/endpoints"): READ,
    ("post", "/api/v1/endpoints"): WRITE,
    ("get", "/api/v1/endpoints/{name}"): READ,
    ("put", "/api/v1/endpoints/{name}"): WRITE,
    ("get", "/api/v1/endpoints/{name}/events"): READ,
    ("get", "/api/v1/endpoints/{name}/revisions"): READ,
    ("post", "/api/v1/endpoints/{name}/rollback"): WRITE,
    ("get", "/api/v1/endpoints/{name}/rollout"): READ,
    ("post", "/api/v1/endpoints/{name}/rollout"): WRITE,
    ("post", "/api/v1/endpoints/{name}/rollout/pause"): WRITE,
    ("post", "/api/v1/endpoints/{name}/rollout/resume"): WRITE,
    ("post", "/api/v1/endpoints/{name}/rollout/abort"): WRITE,
    ("get", "/api/v1/rollouts"): READ,
    ("get", "/api/v1/endpoints/{name}/ab"): READ,
    ("post", "/api/v1/feedback"): INFER,
    ("get", "/api/v1/monitors"): READ,
    ("post", "/api/v1/monitors"): WRITE,
    ("get", "/api/v1/monitors/{name}"): READ,
    ("patch", "/api/v1/monitors/{name}"): WRITE,
    ("delete", "/api/v1/monitors/{name}"): WRITE,
    ("post", "/api/v1/monitors/{name}/run"): WRITE,
    ("get", "/api/v1/monitors/{name}/results"): READ,
    ("get", "/api/v1/monitors/{name}/report"): READ,
    ("get", "/api/v1/monitors/{name}/report.html"): READ,
    ("get", "/api/v1/alert-rules"): READ,
    ("post", "/api/v1/alert-rules"): WRITE,
    ("get", "/api/v1/alert-rules/{name}"): READ,
    ("delete", "/api/v1/alert-rules/{name}"): WRITE,
    ("get", "/api/v1/alerts"): READ,
    ("post", "/api/v1/alerts/evaluate"): WRITE,
    ("get", "/api/v1/alerts/{alert_id}"): READ,
    ("post", "/api/v1/alerts/{alert_id}/ack"): WRITE,
    ("post", "/api/v1/alerts/{alert_id}/resolve"): WRITE,
    ("get", "/api/v1/jobs"): READ,
    ("post", "/api/v1/jobs"): WRITE,
    ("get", "/api/v1/jobs/{job_id}"): READ,
    ("post", "/api/v1/jobs/{job_id}/cancel"): WRITE,
    ("get", "/api/v1/schedules"): READ,
    ("post", "/api/v1/schedules"): WRITE,
    ("get", "/api/v1/schedules/{name}"): READ,
    ("patch", "/api/v1/schedules/{name}"): WRITE,
    ("delete", "/api/v1/schedules/{name}"): WRITE,
    ("post", "/api/v1/schedules/{name}/run"): WRITE,
    ("get", "/api/v1/audit"): READ,
    ("get", "/api/v1/audit/verify"): READ,
    ("post", "/api/v1/log/erasures"): ADMIN,
    ("get", "/api/v1/log/retention"): READ,
    ("put", "/api/v1/log/retention/{endpoint}"): WRITE,
    ("post", "/api/v1/log/expire"): WRITE,
    ("get", "/api/v1/column-policies"): READ,
    ("get", "/api/v1/models/{name}/column-policy"): READ,
    ("put", "/api/v1/models/{name}/column-policy"): ADMIN,
    ("delete", "/api/v1/models/{name}/column-policy"): ADMIN,
    ("get", "/api/v1/endpoints/{name}/column-policy"): READ,
    ("put", "/api/v1/endpoints/{name}/column-policy"): ADMIN,
    ("delete", "/api/v1/endpoints/{name}/column-policy"): ADMIN,
    ("post", "/api/v1/models/{name}/versions/{ref}/profile/release"): WRITE,
    ("get", "/api/v1/models/{name}/versions/{ref}/privacy"): READ,
    ("put", "/api/v1/models/{name}/versions/{ref}/privacy"): ADMIN,
    ("post", "/api/v1/monitors/{name}/release"): WRITE,
    ("get", "/api/v1/monitors/{name}/privacy"): READ,
    ("put", "/api/v1/monitors/{name}/privacy"): ADMIN,
    ("get", "/api/v1/users"): ADMIN,
    ("post", "/api/v1/users"): ADMIN,
    ("get", "/api/v1/users/{name}"): ADMIN,
    ("patch", "/api/v1/users/{name}"): ADMIN,
    ("get", "/api/v1/tokens"): ADMIN,
    ("post", "/api/v1/tokens"): ADMIN,
    ("get", "/api/v1/tokens/{key}"): ADMIN,
    ("delete", "/api/v1/tokens/{key}"): ADMIN,
}

DATA_PLANE = {
    ("get", "/v2"): ANY,
    ("get", "/v2/health/live"): OPEN,
    ("get", "/v2/health/ready"): OPEN,
    ("get", "/v2/models/{name}"): ANY,
    ("get", "/v2/models/{name}/versions/{version}"): ANY,
    ("get", "/v2/models/{name}/ready"): OPEN,
    ("get", "/v2/models/{name}/versions/{version}/ready"): OPEN,
    ("post", "/v2/models/{name}/infer"): INFER,
    ("post", "/v2/models/{name}/versions/{version}/infer"): INFER,
    ("post", "/v1/models/{name}/predict"): INFER,
    ("post", "/v1/endpoints/{name}/predict"): INFER,
    ("post", "/v2/endpoints/{name}/infer"): INFER,
    ("get", "/v1/endpoints/{name}"): ANY,
    ("get", "/v1/endpoints/{name}/ready"): OPEN,
    ("post", "/v1/endpoints/{name}/feedback"): INFER,
    ("post", "/v1/models/{name}/feedback"): INFER,
    ("get", "/metrics"): ANY,  # not in the schema: walked as declared
    ("get", "/openapi.json"): ANY,
}

VALUES = {
    "name": "m", "ref": "1", "version": "1", "alias": "champion", "file": "x",
    "alert_id": "1", "job_id": "j", "key": "aaaaaaaaaaaa", "endpoint": "e",
}  # fmt: skip


def _url(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: VALUES[m.group(1)], path)


def _routes(schema: dict[str, object]) -> set[tuple[str, str]]:
    paths = schema["paths"]
    assert isinstance(paths, dict)
    return {(method, path) for path, ops in paths.items() for method in ops}


def _call(http: httpx.Client, method: str, path: str, token: str | None) -> int:
    headers = {"Authorization": token} if token else {}
    body = {"json": {}} if method in ("post", "put", "patch") else {}
    return http.request(method.upper(), _url(path), headers=headers, **body).status_code


def test_every_route_answers_each_caller_as_the_matrix_says(server: Server) -> None:
    admin = server.http.headers["Authorization"]
    access = AuthService(get_registry(server.settings).db)
    tokens: dict[str, str] = {"admin": admin}
    for role in ("maintainer", "viewer", "predictor"):
        access.create_user(f"a-{role}", role)
        tokens[role] = "Bearer " + access.create_token(f"a-{role}").token
    with httpx.Client(base_url=server.url, timeout=60) as http:
        control = _routes(http.get("/api/v1/openapi.json").json())
        data = _routes(http.get("/openapi.json", headers={"Authorization": admin}).json())
        data |= {("get", "/metrics"), ("get", "/openapi.json")}
        assert control - set(CONTROL_PLANE) == set(), "routes with no rule in the matrix"
        assert data - set(DATA_PLANE) == set(), "routes with no rule in the matrix"
        assert set(CONTROL_PLANE) - control == set(), "rules for routes that are gone"
        assert set(DATA_PLANE) - data == set(), "rules for routes that are gone"
        wrong = []
        for (method, path), action in (CONTROL_PLANE | DATA_PLANE).items():
            for caller, token in [
                ("nobody", None), ("a bad token", "Bearer sy_aaaaaaaaaaaa_nope"),
                ("not bearer", "Basic dXNlcjpwYXNz"), *tokens.items(),
            ]:  # fmt: skip
                status = _call(http, method, path, token)
                if action == OPEN:
                    ok = status not in (401, 403)
                elif caller in ALLOWED:
                    ok = status not in (401, 403) if action in ALLOWED[caller] else status == 403
                else:
                    ok = status == 401
                if not ok:
                    wrong.append(f"{method.upper()} {path} as {caller}: {status}")
        assert wrong == []


def test_a_scoped_token_reaches_only_its_models_and_endpoints(server: Server) -> None:
    access = AuthService(get_registry(server.settings).db)
    access.create_user("svc", "maintainer")
    scoped = access.create_token("svc", "maintainer", scopes=["model:fraud-*", "endpoint:e1"])
    headers = {"Authorization": f"Bearer {scoped.token}"}
    with httpx.Client(base_url=server.url, timeout=60, headers=headers) as http:
        assert http.get("/api/v1/models/fraud-eu").status_code == 404  # allowed, not found
        assert http.get("/api/v1/endpoints/e1").status_code == 404
        refused = http.get("/api/v1/models/churn")
        assert refused.status_code == 403 and "model:fraud-*" in refused.json()["error"]
        assert http.get("/api/v1/endpoints/e2").status_code == 403
        listing = http.get("/api/v1/models")  # names no model: not for a scoped token
        assert listing.status_code == 403 and "name no model" in listing.json()["error"]
        assert http.post("/v1/models/fraud-us/predict", json={}).status_code == 404
        assert http.post("/v1/models/churn/predict", json={}).status_code == 403
        assert http.post("/v2/endpoints/e1/infer", json={}).status_code == 404
        assert http.post("/v2/endpoints/e9/infer", json={}).status_code == 403
