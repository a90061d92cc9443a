"""Shipyard: take trained models into production and keep them healthy there."""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

from shipyard.client import Client
from shipyard.config import Settings
from shipyard.endpoints import Endpoints, TrafficPolicy
from shipyard.errors import ShipyardError, SignatureError
from shipyard.registry import Alias, LoadedModel, Model, ModelVersion, Registry
from shipyard.runtimes.pyfunc import PythonModel
from shipyard.schema import Signature
from shipyard.sdk import delete_alias, get_registry, load_model, register_model, set_alias
from shipyard.stats.drift import DriftReport, drift_report

try:
    __version__ = _version("shipyard")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"

__all__ = [
    "Alias",
    "Client",
    "DriftReport",
    "Endpoints",
    "LoadedModel",
    "Model",
    "ModelVersion",
    "PythonModel",
    "Registry",
    "Settings",
    "ShipyardError",
    "Signature",
    "SignatureError",
    "TrafficPolicy",
    "__version__",
    "delete_alias",
    "drift_report",
    "get_registry",
    "load_model",
    "register_model",
    "set_alias",
]
