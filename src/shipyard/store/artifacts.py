"""Content-addressed artifact store.

Every file is stored once under ``ROOT/sha256/ab/cdef…`` (its own sha256), written
atomically, and read back only after its hash is checked. A version's files are
described by a *manifest* ``{relative path: {"sha256": …, "size": …}}``; relative
paths are validated so that no name can point outside the directory it is
materialised into, and blob paths are derived from hex digests only, so no name
can escape the store's root either.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from shipyard.errors import ArtifactIntegrityError, InvalidNameError

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20
Manifest = dict[str, dict[str, Any]]


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def manifest_digest(manifest: Mapping[str, Mapping[str, Any]]) -> str:
    """One sha256 for a whole manifest: equal manifests, equal digests."""
    lines = "".join(f"{name}\0{manifest[name]['sha256']}\n" for name in sorted(manifest))
    return hashlib.sha256(lines.encode()).hexdigest()


def safe_relative_path(name: str) -> PurePosixPath:
    """Validate a file name inside an artifact: relative, no ``..``, no backslashes."""
    if not isinstance(name, str) or not name or "\x00" in name or "\\" in name:
        raise InvalidNameError(
            f"artifact file name {name!r} is not allowed; use a relative path with '/' separators"
        )
    path = PurePosixPath(name)
    if path.is_absolute() or any(part in ("..", ".", "") for part in name.split("/")):
        raise InvalidNameError(
            f"artifact file name {name!r} would leave the artifact directory; "
            "use a relative path without '..' or a leading '/'"
        )
    return path


class ArtifactStore:
    """Files kept by their sha256 under one root directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def __repr__(self) -> str:
        return f"ArtifactStore({str(self.root)!r})"

    def blob_path(self, digest: str) -> Path:
        """Where the blob with this hex sha256 lives. Anything but 64 hex digits is refused."""
        if not isinstance(digest, str) or not _HEX64.match(digest):
            raise InvalidNameError(
                f"{digest!r} is not a sha256 digest; artifacts are addressed by 64 lowercase "
                "hex digits"
            )
        return self.root / "sha256" / digest[:2] / digest[2:]

    def put_file(self, source: Path) -> tuple[str, int]:
        """Store a copy of ``source``; returns (sha256, size).

        The hash is computed on the bytes as they are copied, so it describes exactly what
        was stored. Storing content that is already present is a no-op, unless the stored
        blob was damaged: then it is replaced, so registering again repairs the store.
        """
        incoming = self.root / "incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=incoming)
        try:
            digest, size = hashlib.sha256(), 0
            with os.fdopen(fd, "wb") as out, Path(source).open("rb") as src:
                while chunk := src.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            hexdigest = digest.hexdigest()
            target = self.blob_path(hexdigest)
            if target.is_file() and sha256_file(target) == hexdigest:
                return hexdigest, size
            target.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(tmp, 0o444)
            os.replace(tmp, target)
            return hexdigest, size
        finally:
            Path(tmp).unlink(missing_ok=True)

    def put_directory(self, directory: Path) -> Manifest:
        """Store every file under ``directory``; returns its manifest.

        Symbolic links are refused: an artifact is the files themselves.
        """
        directory = Path(directory)
        manifest: Manifest = {}
        for path in sorted(directory.rglob("*")):
            if path.is_symlink():
                raise InvalidNameError(
                    f"{path} is a symbolic link; copy the file it points to into the model "
                    "directory instead"
                )
            if not path.is_file():
                continue
            name = path.relative_to(directory).as_posix()
            safe_relative_path(name)
            digest, size = self.put_file(path)
            manifest[name] = {"sha256": digest, "size": size}
        return manifest

    def read_verified(self, digest: str, *, what: str) -> bytes:
        """The bytes of a blob, after checking they hash to ``digest``.

        ``what`` names the owner (e.g. ``"model 'fraud' version 3, file model.skops"``)
        in the error raised for a missing or altered blob.
        """
        path = self.blob_path(digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ArtifactIntegrityError(
                f"{what}: artifact sha256:{digest} is missing from {self.root}; restore the "
                "artifact store from a backup or register the version again"
            ) from None
        actual = hashlib.sha256(data).hexdigest()
        if actual != digest:
            raise ArtifactIntegrityError(
                f"{what}: artifact was altered (expected sha256:{digest}, found sha256:{actual}); "
                "refusing to load it. Restore the artifact store from a backup or register the "
                "version again"
            )
        return data

    def materialize(
        self, manifest: Mapping[str, Mapping[str, Any]], target: Path, *, what: str
    ) -> Path:
        """Write a manifest's files, each verified, under ``target``; returns ``target``."""
        target = Path(target)
        root = target.resolve()
        for name, entry in manifest.items():
            relative = safe_relative_path(name)
            destination = (root / relative).resolve()
            if not destination.is_relative_to(root):
                raise InvalidNameError(f"artifact file name {name!r} would leave {root}")
            data = self.read_verified(str(entry["sha256"]), what=f"{what}, file {name}")
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(data)
        return target

    def exists(self, digest: str) -> bool:
        """Whether a blob is stored (without checking its content)."""
        return self.blob_path(digest).is_file()
