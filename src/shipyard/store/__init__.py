"""Storage: the metadata database, its migrations, and the artifact store."""

from shipyard.store.artifacts import ArtifactStore
from shipyard.store.database import Database

__all__ = ["ArtifactStore", "Database"]
