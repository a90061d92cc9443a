"""A real control-plane server on a loopback port, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest
import skops.io

from models import Doubler, Tripler, logistic
from serving.conftest import ServerThread
from shipyard.auth import read_credentials
from shipyard.client import Client
from shipyard.config import Settings
from shipyard.server import create_server_app


@dataclass
class Server:
    url: str
    """Base URL, e.g. ``http://127.0.0.1:PORT``."""
    http: httpx.Client
    """Raw HTTP, with ``base_url`` at ``/api/v1``, sending the store's admin token."""
    client: Client
    settings: Settings


def serve(settings: Settings, *, data_plane: bool = True) -> Iterator[Server]:
    """A server for ``settings`` on a free loopback port, until the generator is closed."""
    app = create_server_app(settings, data_plane=data_plane)
    token = read_credentials(settings.home)  # the admin token the new store was given
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with (
        ServerThread(app, http="auto") as thread,
        httpx.Client(
            base_url=f"http://127.0.0.1:{thread.port}/api/v1", timeout=60, headers=headers
        ) as http,
        Client(f"http://127.0.0.1:{thread.port}") as client,
    ):
        yield Server(f"http://127.0.0.1:{thread.port}", http, client, settings)


@pytest.fixture
def server(settings: Settings) -> Iterator[Server]:
    """The embedded server: control plane and data plane."""
    yield from serve(settings)


@pytest.fixture
def control_plane(settings: Settings) -> Iterator[Server]:
    """The control plane alone, for routes that serve no predictions (its data plane
    keeps PostgreSQL connections open after shutdown, and a run of many servers would
    exhaust the database's connection limit)."""
    yield from serve(settings, data_plane=False)


@pytest.fixture
def saved_model(tmp_path: Path) -> tuple[Path, Path]:
    """A fitted sklearn pipeline saved with skops, and its training data (with a ``label``
    column) as Parquet."""
    model, frame, target = logistic()
    path = tmp_path / "model.skops"
    skops.io.dump(model, path)
    data = tmp_path / "train.parquet"
    frame.assign(label=target).to_parquet(data)
    return path, data


def register_doubler_and_tripler(server: Server) -> None:
    """Versions 1 (doubles ``x``) and 2 (triples it) of model ``m``, uploaded as pyfunc
    directories through the server."""
    for model in (Doubler, Tripler):
        directory = Path(server.settings.home).parent / f"saved-{model.__name__}"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "weights.txt").write_text(model.__name__)
        server.client.register(
            directory,
            "m",
            flavor="pyfunc",
            python_class=f"models:{model.__name__}",
            training_data=pd.DataFrame({"x": [1.0, 2.0]}),
        )
