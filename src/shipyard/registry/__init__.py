"""The model registry: models, immutable versions, aliases, lineage and model cards."""

from shipyard.registry.loaded import LoadedModel
from shipyard.registry.service import Registry
from shipyard.registry.types import Alias, Event, Model, ModelVersion
from shipyard.registry.uri import ModelURI

__all__ = ["Alias", "Event", "LoadedModel", "Model", "ModelURI", "ModelVersion", "Registry"]
