"""HTTPS: ``shipyard server`` and ``shipyard serve`` with a certificate made in the test,
the SDK trusting it through its CA bundle, plain HTTP refused, bad pairs refused at
start."""

from __future__ import annotations

import datetime
import ipaddress
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from models import Doubler
from serving.conftest import bearer
from shipyard.cli.main import main
from shipyard.client import Client
from shipyard.config import Settings
from shipyard.errors import InvalidInputError
from shipyard.registry import Registry


def _certificate(directory: Path, name: str = "server") -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key (PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert = directory / f"{name}.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private = directory / f"{name}.key"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    private.chmod(0o600)
    return cert, private


def _started(process: subprocess.Popen[str], prefix: str) -> str:
    """The URL the process prints it listens on."""
    assert process.stdout is not None
    for _ in range(20):
        line = process.stdout.readline()
        if prefix in line:
            return line.split(" on ", 1)[1].split(" ", 1)[0].rstrip()
    raise AssertionError(f"no {prefix!r} line; stderr: {process.stderr}")


def _wait(url: str, verify: ssl.SSLContext) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url, verify=verify).raise_for_status()
            return
        except httpx.TransportError:
            assert time.monotonic() < deadline, f"{url} never answered"
            time.sleep(0.1)


def _stop(process: subprocess.Popen[str]) -> tuple[str, str]:
    process.send_signal(signal.SIGINT)
    return process.communicate(timeout=30)


def test_the_server_speaks_https_only_and_the_sdk_trusts_its_bundle(
    shipyard_home: Path, tmp_path: Path
) -> None:
    cert, key = _certificate(tmp_path)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "shipyard",
            "server",
            "--port",
            "0",
            "--ssl-certfile",
            str(cert),
            "--ssl-keyfile",
            str(key),
        ],  # fmt: skip
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        url = _started(process, "Shipyard on https://")
        trusted = ssl.create_default_context(cafile=str(cert))
        _wait(f"{url}/api/v1/health", trusted)
        with Client(url, verify=cert) as client:
            assert client.health()["status"] == "ok"
            assert client.list_models() == []
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"{url}/api/v1/health")  # the system's authorities do not know it
        plain = url.replace("https://", "http://")
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{plain}/api/v1/health", timeout=5).raise_for_status()
    finally:
        out, err = _stop(process)
    assert process.returncode == 0, err


def test_serve_speaks_https(tmp_path: Path) -> None:
    home = tmp_path / "served"
    registry = Registry.from_settings(Settings(home=home, reference_sample_rows=0))
    registry.register_model(Doubler(), "double", training_data=pd.DataFrame({"x": [1.0]}))
    registry.db.dispose()
    cert, key = _certificate(tmp_path)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    env |= {
        "SHIPYARD_HOME": str(home),
        "SHIPYARD_SSL_CERTFILE": str(cert),  # the settings work as the options do
        "SHIPYARD_SSL_KEYFILE": str(key),
        "PYTHONPATH": str(Path(__file__).parents[1]),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "shipyard", "serve", "models:/double/1", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        url = _started(process, "listening on https://")
        assert url == f"https://127.0.0.1:{port}"
        trusted = ssl.create_default_context(cafile=str(cert))
        _wait(f"{url}/v2/health/ready", trusted)
        answer = httpx.post(
            f"{url}/v1/models/double/predict",
            json={"instances": [{"x": 2.0}]},
            verify=trusted,
            headers=bearer(home),  # the admin token shipyard serve saved for the new store
        )
        assert answer.status_code == 200 and answer.json()["predictions"] == [4.0]
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/v2/health/ready", timeout=5).raise_for_status()
    finally:
        _stop(process)


def test_bad_certificates_are_refused_before_listening(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cert, key = _certificate(tmp_path)
    other_cert, _ = _certificate(tmp_path, "other")
    missing = str(tmp_path / "none.pem")
    cases = [
        (["--ssl-certfile", str(cert)], "give --ssl-keyfile too"),
        (["--ssl-keyfile", str(key)], "give --ssl-certfile too"),
        (["--ssl-certfile", missing, "--ssl-keyfile", str(key)], "is not a file"),
        (["--ssl-certfile", str(key), "--ssl-keyfile", str(key)], "not a PEM certificate"),
        (["--ssl-certfile", str(other_cert), "--ssl-keyfile", str(key)], "not a PEM certificate"),
    ]
    for options, message in cases:
        with pytest.raises(SystemExit) as exit_info:
            main(["server", "--port", "0", *options])
        assert exit_info.value.code == 1
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (options, err)
    with pytest.raises(InvalidInputError, match="cannot be read as PEM certificates"):
        Client("https://127.0.0.1:1", verify=tmp_path / "none.pem")
