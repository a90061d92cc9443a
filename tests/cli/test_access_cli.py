"""``shipyard init``, ``tokens`` and ``users``, locally and on a server: the admin token
saved once with mode 0600, sent by the CLI and SDK; tokens printed alone on stdout."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import httpx
import pytest

from api.conftest import serve
from shipyard.auth import read_credentials
from shipyard.client import Client
from shipyard.config import Settings
from shipyard.errors import ForbiddenError, UnauthorizedError
from shipyard.sdk import get_registry
from shipyard.store.audit import AuditTrail

TOKEN = re.compile(r"sy_[a-z0-9]{12}_[A-Za-z0-9_-]{43}")


def test_init_saves_an_admin_token_the_cli_and_sdk_send(
    shipyard_home: Path, settings: Settings, run, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SHIPYARD_DATABASE_URL", settings.database)
    monkeypatch.setenv("SHIPYARD_ACTOR", "founder")
    first = run("init")
    assert first.code == 0 and "Made user founder (admin)" in first.out, first.err
    path = shipyard_home / "credentials"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    admin = read_credentials(shipyard_home)
    assert admin is not None and TOKEN.fullmatch(admin)
    again = run("init")
    assert again.code == 0 and "Already set up" in again.out
    assert read_credentials(shipyard_home) == admin  # never replaced

    made = run("tokens", "create", "--role", "predictor", "--name", "svc", "--expires", "30d")
    assert made.code == 0, made.err
    assert TOKEN.fullmatch(made.out.strip()) and made.out.count("\n") == 1  # only the token
    bad = run("tokens", "create", "--role", "owner")
    assert bad.code == 1 and "not a role" in bad.err and bad.out == ""
    listed = run("tokens", "list")
    assert "svc" in listed.out and "predictor" in listed.out and made.out.strip() not in listed.out

    settings = settings.model_copy(update={"actor": None})
    for server in serve(settings, data_plane=False):
        with Client(server.url) as client:  # from $SHIPYARD_HOME/credentials
            assert client.whoami()["user"] == "founder"
            assert client.whoami()["role"] == "admin"
        monkeypatch.setenv("SHIPYARD_TOKEN", made.out.strip())
        with Client(server.url) as client:  # SHIPYARD_TOKEN comes first
            assert client.whoami()["role"] == "predictor"
            with pytest.raises(ForbiddenError, match="may not read"):
                client.list_models()
        monkeypatch.delenv("SHIPYARD_TOKEN")
        whoami = run("whoami", "--url", server.url)
        assert whoami.code == 0 and "founder (role admin" in whoami.out, whoami.err
        remote = run("tokens", "create", "--role", "viewer", "--url", server.url)
        assert TOKEN.fullmatch(remote.out.strip()), remote.err
        key = remote.out.strip()[3:15]
        revoked = run("tokens", "revoke", f"sy_{key}", "--url", server.url)
        assert revoked.code == 0 and f"revoked sy_{key}" in revoked.out
        refused = httpx.get(
            f"{server.url}/api/v1/models",
            headers={"Authorization": f"Bearer {remote.out.strip()}"},
        )
        assert refused.status_code == 401 and "revoked" in refused.json()["error"]
        assert refused.headers["www-authenticate"].startswith("Bearer")
        users = run("users", "create", "ana", "--role", "viewer", "--url", server.url)
        assert users.code == 0 and "user ana: role viewer" in users.out, users.err
        assert run("users", "disable", "ana", "--url", server.url).code == 0
        listed_users = run("users", "list", "--json", "--url", server.url)
        assert '"disabled": true' in listed_users.out
        with Client(server.url, token="sy_aaaaaaaaaaaa_wrong") as client:
            with pytest.raises(UnauthorizedError, match="unknown"):
                client.list_models()
    trail = AuditTrail(get_registry(settings).db).entries(entity="users")
    assert [(e["actor"], e["key"]) for e in trail][-2:] == [
        ("founder", "ana"), ("founder", "ana"),
    ]  # fmt: skip
