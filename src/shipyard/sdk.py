"""The in-process SDK: module-level functions on the registry the settings name."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from shipyard.config import Settings
from shipyard.registry import Alias, LoadedModel, ModelVersion, Registry

_registries: dict[str, Registry] = {}
_lock = threading.Lock()


def get_registry(settings: Settings | None = None) -> Registry:
    """The registry for ``settings`` (default: read from ``SHIPYARD_*`` now), cached per
    distinct settings so repeated calls share one database connection pool."""
    settings = settings or Settings()
    key = settings.model_dump_json()
    with _lock:
        registry = _registries.get(key)
        if registry is None:
            registry = _registries[key] = Registry.from_settings(settings)
        return registry


def register_model(
    model: Any,
    name: str,
    *,
    training_data: Any = None,
    target: Any = None,
    metrics: Mapping[str, float] | None = None,
    params: Mapping[str, Any] | None = None,
    description: str = "",
    **options: Any,
) -> ModelVersion:
    """Register a trained model as the next version of ``name`` and return that version.

    The flavor is detected from the object; the signature and the reference profile are
    inferred from ``training_data`` (and ``target``). Further keyword options: ``flavor``,
    ``signature``, ``tags``, ``intended_use``, ``code_version``, ``lineage``,
    ``reuse_identical``, ``actor`` (see :meth:`Registry.register_model`).

    >>> version = shipyard.register_model(clf, "fraud-detector", training_data=X, target=y,
    ...                                   metrics={"f1": 0.91})  # doctest: +SKIP
    """
    return get_registry().register_model(
        model,
        name,
        training_data=training_data,
        target=target,
        metrics=metrics,
        params=params,
        description=description,
        **options,
    )


def load_model(uri: str) -> LoadedModel:
    """Load ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION``; its ``predict(DataFrame)``
    validates input against the signature before predicting."""
    return get_registry().load(uri)


def set_alias(name: str, alias: str, version: int) -> Alias:
    """Point ``alias`` (e.g. ``"champion"``) of model ``name`` at ``version``."""
    return get_registry().set_alias(name, alias, version)


def delete_alias(name: str, alias: str) -> Alias:
    """Remove ``alias`` from model ``name``."""
    return get_registry().delete_alias(name, alias)
