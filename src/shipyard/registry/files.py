"""Reading a version's stored files back: the model itself, any file, the model card."""

from __future__ import annotations

import tempfile
from pathlib import Path

from shipyard.errors import ArtifactIntegrityError, ConflictError
from shipyard.registry.core import RegistryCore
from shipyard.registry.loaded import LoadedModel
from shipyard.registry.registration import CARD_FILE, MODEL_DIR
from shipyard.registry.types import ModelVersion
from shipyard.runtimes import get_runtime


class FileOperations(RegistryCore):
    """Load versions and read their files, each checked against its sha256."""

    def load(self, target: str | ModelVersion) -> LoadedModel:
        """Load a version (by URI or record) after checking every file's sha256."""
        version = target if isinstance(target, ModelVersion) else self.resolve(target)
        runtime_class = get_runtime(version.flavor)
        model_files = {k: v for k, v in version.artifacts.items() if k.startswith(f"{MODEL_DIR}/")}
        what = f"model {version.name!r} version {version.version}"
        with tempfile.TemporaryDirectory(prefix="shipyard-load-") as tmp:
            self.artifacts.materialize(model_files, Path(tmp), what=what)
            runtime = runtime_class.load(Path(tmp) / MODEL_DIR, version.flavor_metadata)
        return LoadedModel(version, runtime)

    def read_artifact(self, name: str, version: int, file: str) -> bytes:
        """One file of a version, verified against its recorded sha256."""
        record = self.get_version(name, version)
        entry = record.artifacts.get(file)
        if entry is None:
            raise ArtifactIntegrityError(
                f"model {name!r} version {version} has no file {file!r}; its files are: "
                f"{', '.join(sorted(record.artifacts))}"
            )
        return self.artifacts.read_verified(
            str(entry["sha256"]), what=f"model {name!r} version {version}, file {file}"
        )

    def card(self, name: str, version: int) -> str:
        """The version's Markdown model card, as stored at registration."""
        return self.read_artifact(name, version, CARD_FILE).decode("utf-8")

    def download(self, name: str, version: int, target: Path) -> list[Path]:
        """Write every file of a version, each verified, into the directory ``target``
        (which must not exist or be empty); returns the paths written."""
        record = self.get_version(name, version)
        target = Path(target)
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise ConflictError(
                f"{target} exists and is not an empty directory; choose a new directory"
            )
        what = f"model {name!r} version {version}"
        self.artifacts.materialize(record.artifacts, target, what=what)
        return [target / file for file in sorted(record.artifacts)]
