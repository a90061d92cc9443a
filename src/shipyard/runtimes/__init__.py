"""Runtimes, one module per flavor, found by key.

Every module in this package that defines a :class:`Runtime` subclass with a
``flavor`` is registered when first needed; third-party packages add runtimes through
the ``shipyard.runtimes`` entry-point group (``flavor = "package.module:RuntimeClass"``).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import pkgutil
from typing import Any

from shipyard.errors import UnsupportedModelError
from shipyard.runtimes.base import Runtime

__all__ = ["Runtime", "detect_flavor", "flavors", "get_runtime", "register_runtime", "runtime_for"]

_registry: dict[str, type[Runtime]] = {}
_discovered = False


def register_runtime(runtime: type[Runtime]) -> type[Runtime]:
    """Register ``runtime`` under its ``flavor`` key (usable as a class decorator)."""
    _registry[runtime.flavor] = runtime
    return runtime


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    for info in pkgutil.iter_modules(__path__):
        if info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Runtime)
                and value.__module__ == module.__name__
                and "flavor" in vars(value)
            ):
                register_runtime(value)
    for entry in importlib.metadata.entry_points(group="shipyard.runtimes"):
        loaded = entry.load()
        if isinstance(loaded, type) and issubclass(loaded, Runtime):
            register_runtime(loaded)
    _discovered = True


def flavors() -> list[str]:
    """Keys of every known flavor, sorted."""
    _discover()
    return sorted(_registry)


def get_runtime(flavor: str) -> type[Runtime]:
    """The runtime class registered under ``flavor``."""
    _discover()
    try:
        return _registry[flavor]
    except KeyError:
        raise UnsupportedModelError(
            f"unknown flavor {flavor!r}; expected one of: {', '.join(sorted(_registry))}"
        ) from None


def detect_flavor(model: Any) -> str:
    """The flavor of a live model object."""
    _discover()
    for runtime in sorted(_registry.values(), key=lambda r: (r.priority, r.flavor)):
        if runtime.handles(model):
            return runtime.flavor
    raise UnsupportedModelError(
        f"no runtime handles objects of type {type(model).__module__}.{type(model).__qualname__}; "
        f"supported flavors: {', '.join(flavors())}. Wrap the model in a "
        "shipyard.PythonModel subclass to register it as the pyfunc flavor"
    )


def runtime_for(model: Any, flavor: str | None = None) -> Runtime:
    """Wrap a live model in its runtime (``flavor`` detected when not given)."""
    runtime = get_runtime(flavor or detect_flavor(model))
    if flavor is not None and not runtime.handles(model):
        raise UnsupportedModelError(
            f"a {type(model).__qualname__} is not a {flavor} model; "
            f"leave the flavor out to detect it ({detect_flavor(model)!r})"
        )
    return runtime(model)
