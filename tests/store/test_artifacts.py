from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from shipyard.errors import ArtifactIntegrityError, InvalidNameError
from shipyard.store.artifacts import ArtifactStore, manifest_digest, safe_relative_path


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "artifacts")


def _file(directory: Path, name: str, data: bytes) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_blobs_are_addressed_by_their_sha256(store: ArtifactStore, tmp_path: Path) -> None:
    data = b"weights" * 1000
    digest, size = store.put_file(_file(tmp_path, "w.bin", data))
    assert digest == hashlib.sha256(data).hexdigest()
    assert size == len(data)
    assert store.blob_path(digest).read_bytes() == data
    assert store.read_verified(digest, what="m") == data
    # Storing the same bytes again is a no-op.
    assert store.put_file(_file(tmp_path, "again.bin", data)) == (digest, size)


def test_tampered_blob_is_refused_naming_the_expected_hash(
    store: ArtifactStore, tmp_path: Path
) -> None:
    digest, _ = store.put_file(_file(tmp_path, "w.bin", b"original"))
    blob = store.blob_path(digest)
    os.chmod(blob, 0o644)
    blob.write_bytes(b"tampered")
    with pytest.raises(ArtifactIntegrityError) as info:
        store.read_verified(digest, what="model 'm' version 2")
    assert digest in str(info.value)
    assert "model 'm' version 2" in str(info.value)
    assert "altered" in str(info.value)


def test_missing_blob_is_refused(store: ArtifactStore, tmp_path: Path) -> None:
    digest, _ = store.put_file(_file(tmp_path, "w.bin", b"x"))
    store.blob_path(digest).unlink()
    with pytest.raises(ArtifactIntegrityError, match="missing"):
        store.read_verified(digest, what="model 'm' version 1")


@pytest.mark.parametrize(
    "digest",
    ["../../etc/passwd", "ab/../../../x", "A" * 64, "0" * 63, "0" * 65, "", "/" + "0" * 63],
)
def test_blob_paths_accept_only_hex_digests(store: ArtifactStore, digest: str) -> None:
    with pytest.raises(InvalidNameError):
        store.blob_path(digest)


@pytest.mark.parametrize(
    "name", ["../evil", "a/../../evil", "/etc/passwd", "a\\..\\b", "", "a//b", "./a", "a\x00b"]
)
def test_relative_names_cannot_leave_their_directory(name: str) -> None:
    with pytest.raises(InvalidNameError):
        safe_relative_path(name)


def test_materialize_refuses_escaping_names_and_writes_nothing_outside(
    store: ArtifactStore, tmp_path: Path
) -> None:
    digest, size = store.put_file(_file(tmp_path, "w.bin", b"payload"))
    target = tmp_path / "out" / "inner"
    manifest = {"../../escaped.bin": {"sha256": digest, "size": size}}
    with pytest.raises(InvalidNameError):
        store.materialize(manifest, target, what="m")
    assert not (tmp_path / "escaped.bin").exists()
    assert not (tmp_path / "out" / "escaped.bin").exists()


def test_directory_round_trip_verifies_every_file(store: ArtifactStore, tmp_path: Path) -> None:
    source = tmp_path / "src"
    _file(source, "model/weights.bin", b"w" * 10)
    _file(source, "model/config.json", b"{}")
    _file(source, "README.md", b"hi")
    manifest = store.put_directory(source)
    assert sorted(manifest) == ["README.md", "model/config.json", "model/weights.bin"]
    out = store.materialize(manifest, tmp_path / "out", what="m")
    for name in manifest:
        assert (out / name).read_bytes() == (source / name).read_bytes()
    assert manifest_digest(manifest) == manifest_digest(dict(reversed(manifest.items())))


def test_symbolic_links_are_refused(store: ArtifactStore, tmp_path: Path) -> None:
    source = tmp_path / "src"
    secret = _file(tmp_path, "secret.txt", b"do not copy")
    source.mkdir()
    (source / "link").symlink_to(secret)
    with pytest.raises(InvalidNameError, match="symbolic link"):
        store.put_directory(source)


def test_storing_again_replaces_a_damaged_blob(store: ArtifactStore, tmp_path: Path) -> None:
    source = _file(tmp_path, "w.bin", b"good bytes")
    digest, _ = store.put_file(source)
    blob = store.blob_path(digest)
    os.chmod(blob, 0o644)
    blob.write_bytes(b"bad")
    assert store.put_file(source) == (digest, len(b"good bytes"))
    assert store.read_verified(digest, what="m") == b"good bytes"
    assert list((store.root / "incoming").iterdir()) == []
