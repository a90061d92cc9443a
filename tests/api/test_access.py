"""Users and API tokens: made, shown once, stored as a hash, expired, revoked; the
credentials file; the CLI, SDK and REST twins; rate limits; who the audit trail names."""

from __future__ import annotations

import asyncio
import os
import re
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from api.conftest import serve
from shipyard.auth import Authenticator, AuthService, read_credentials, tokens
from shipyard.client import Client
from shipyard.config import Settings
from shipyard.errors import (
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    RateLimitedError,
    UnauthorizedError,
)
from shipyard.sdk import get_registry
from shipyard.store.audit import AuditTrail
from shipyard.store.tables import TokenRow, utcnow

TOKEN = re.compile(r"sy_[a-z0-9]{12}_[A-Za-z0-9_-]{43}")


def test_tokens_are_random_shown_once_and_stored_as_a_hash(settings: Settings) -> None:
    db = get_registry(settings).db
    access = AuthService(db, actor="ops")
    access.create_user("ana", "maintainer")
    made = [access.create_token("ana", "viewer", name=f"t{i}") for i in range(3)]
    assert all(TOKEN.fullmatch(m.token) for m in made)
    assert len({m.token for m in made}) == 3 and len({m.key for m in made}) == 3
    listed = access.list_tokens(user="ana")
    assert {t.key for t in listed} == {m.key for m in made}
    assert all(not hasattr(t, "token") for t in listed)
    with db.session() as s:
        stored = {row.key: row.secret_hash for row in s.query(TokenRow)}
    for m in made:
        secret = m.token.split("_", 2)[2]
        assert stored[m.key] == tokens.digest(secret) and secret not in stored[m.key]
    # the audit trail names the token by its key and never holds its hash
    entries = AuditTrail(db).entries(entity="api_tokens")
    assert {e["key"] for e in entries} == {m.key for m in made}
    assert all(e["after"]["secret_hash"] == "(secret)" for e in entries)
    assert all(e["actor"] == "ops" for e in entries)
    if settings.database.startswith("sqlite"):
        raw = b"".join(p.read_bytes() for p in settings.home.glob("shipyard.db*"))
        for m in made:
            assert m.token.split("_", 2)[2].encode() not in raw
            assert stored[m.key].encode() in raw  # the hash is there, the secret is not


def test_a_token_may_not_do_more_than_its_user(settings: Settings) -> None:
    access = AuthService(get_registry(settings).db)
    access.create_user("vic", "viewer")
    with pytest.raises(InvalidInputError, match="allows more than user 'vic'"):
        access.create_token("vic", "maintainer")
    with pytest.raises(InvalidInputError, match="not a role; use one of admin"):
        access.create_user("x", "owner")
    with pytest.raises(InvalidInputError, match="user name"):
        access.create_user("bad name!", "viewer")
    with pytest.raises(ConflictError, match="exists already"):
        access.create_user("vic", "viewer")
    with pytest.raises(InvalidInputError, match="in the past"):
        access.create_token("vic", expires_at=utcnow() - timedelta(seconds=1))
    with pytest.raises(InvalidInputError, match="scope 'fraud'"):
        access.create_token("vic", scopes=["fraud"])
    access.create_user("root", "admin")
    with pytest.raises(ConflictError, match="last enabled admin"):
        access.update_user("root", role="viewer")


def test_expired_revoked_disabled_and_demoted_tokens_stop_working(
    settings: Settings,
) -> None:
    async def scenario() -> None:
        db = get_registry(settings).db
        access = AuthService(db)
        access.create_user("boss", "admin")
        access.create_user("mia", "maintainer")
        guard = Authenticator(db, cache_s=0)  # reads the store on every request

        async def check(token: str, action: str = "write") -> None:
            await guard.check(f"Bearer {token}", action)

        made = access.create_token("mia")
        await check(made.token)
        with pytest.raises(UnauthorizedError, match="unknown"):
            await check(made.token[:-1] + ("A" if made.token[-1] != "A" else "B"))
        with pytest.raises(UnauthorizedError, match="needs an API token"):
            await guard.check(None, "read")
        with pytest.raises(UnauthorizedError, match="Bearer <token>"):
            await guard.check(f"Token {made.token}", "read")
        assert await guard.check(None, "open") is None

        access.update_user("mia", role="viewer")  # the token keeps its role, capped by hers
        with pytest.raises(ForbiddenError, match="role admin or maintainer"):
            await check(made.token)
        await check(made.token, "read")
        access.update_user("mia", role="maintainer")
        access.update_user("mia", disabled=True)
        with pytest.raises(UnauthorizedError, match="'mia' is disabled"):
            await check(made.token)
        access.update_user("mia", disabled=False)
        await check(made.token)

        with db.session(write=True) as s:
            s.execute(
                update(TokenRow)
                .where(TokenRow.key == made.key)
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
        with pytest.raises(UnauthorizedError, match="expired"):
            await check(made.token)
        assert access.get_token(made.key).state == "expired"

        other = access.create_token("mia", expires_at=utcnow() + timedelta(days=1))
        await check(other.token)
        revoked = access.revoke_token(f"sy_{other.key}")
        assert revoked.state == "revoked" and revoked.revoked_at is not None
        with pytest.raises(UnauthorizedError, match="was revoked"):
            await check(other.token)
        assert access.revoke_token(other.token).revoked_at == revoked.revoked_at  # once
        assert [t.key for t in access.list_tokens(user="mia")] == []
        assert len(access.list_tokens(user="mia", all=True)) == 2

    asyncio.run(scenario())


def test_a_cached_token_is_trusted_for_cache_s_then_read_again(settings: Settings) -> None:
    async def scenario() -> None:
        db = get_registry(settings).db
        access = AuthService(db)
        access.create_user("u", "admin")
        made = access.create_token("u")
        guard = Authenticator(db, cache_s=3600)
        await guard.check(f"Bearer {made.token}", "admin")
        AuthService(db).revoke_token(made.key)  # elsewhere: this process has not read it yet
        await guard.check(f"Bearer {made.token}", "admin")
        guard.forget(made.key)
        with pytest.raises(UnauthorizedError, match="revoked"):
            await guard.check(f"Bearer {made.token}", "admin")

    asyncio.run(scenario())


def test_a_token_over_its_rate_limit_is_told_when_to_come_back(settings: Settings) -> None:
    async def scenario() -> None:
        access = AuthService(get_registry(settings).db)
        access.create_user("u", "predictor")
        slow = access.create_token("u", rate_limit=0.5)
        free = access.create_token("u")
        guard = Authenticator(get_registry(settings).db, rate_limit=1000)
        await guard.check(f"Bearer {slow.token}", "infer")
        with pytest.raises(RateLimitedError) as refused:
            await guard.check(f"Bearer {slow.token}", "infer")
        assert refused.value.status_code == 429 and refused.value.retry_after == 2
        for _ in range(50):  # the server's default for tokens without their own
            await guard.check(f"Bearer {free.token}", "infer")

    asyncio.run(scenario())


def test_a_server_without_auth_lets_everyone_in(settings: Settings) -> None:
    for server in serve(settings.model_copy(update={"auth": False}), data_plane=False):
        assert not (settings.home / "credentials").exists()
        answer = httpx.get(f"{server.url}/api/v1/whoami")
        assert answer.status_code == 200 and answer.json()["authenticated"] is False
        assert httpx.get(f"{server.url}/api/v1/models").status_code == 200


def test_rate_limits_answer_429_with_retry_after_on_both_planes(settings: Settings) -> None:
    for server in serve(settings.model_copy(update={"rate_limit": 1.0})):
        token = read_credentials(settings.home)
        headers = {"Authorization": f"Bearer {token}"}
        first = httpx.get(f"{server.url}/api/v1/models", headers=headers)
        assert first.status_code == 200
        second = httpx.post(f"{server.url}/v1/models/m/predict", headers=headers, json={})
        assert second.status_code == 429 and second.headers["retry-after"] == "1"
        assert "1 requests per second" in second.json()["error"]
        with Client(server.url) as client, pytest.raises(RateLimitedError) as refused:
            client.list_models()
        assert refused.value.retry_after == 1


def test_credentials_need_no_file_and_say_when_unreadable(tmp_path: Path) -> None:
    assert read_credentials(tmp_path / "none") is None
    path = tmp_path / "credentials"
    path.write_text("# nothing\nOTHER=1\n")
    assert read_credentials(tmp_path) is None
    if os.geteuid() != 0:  # root reads anything
        path.chmod(0)
        with pytest.raises(InvalidInputError, match="cannot read"):
            read_credentials(tmp_path)
