"""Media test fixtures: a crew with a device and an order, upload calls, and a moto S3 server."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.media.imaging import sha256

BIN = Path(sys.executable).parent
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
TAKEN_AT = "2026-11-21T08:15:30.125Z"


@dataclass
class Crew:
    team: Any
    device: Any
    token: str
    order: Any

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def crew(factory) -> Crew:
    team = factory.team()
    device, token = factory.device(team=team)
    order = factory.order(team=team)
    return Crew(team=team, device=device, token=token, order=order)


def post_media(client, headers: dict[str, str], order_id, data: bytes, *,
               media_id: str | None = None, kind: str = "photo", digest: str | None = None,
               taken_at: str = TAKEN_AT, location: str | None = None,
               filename: str = "photo.jpg", content_type: str = "image/jpeg"):
    """POST /orders/{id}/media as a tablet would."""
    form: dict[str, Any] = {
        "id": media_id or str(uuid.uuid4()),
        "kind": kind,
        "sha256": digest or sha256(data),
        "taken_at": taken_at,
        "file": (io.BytesIO(data), filename, content_type),
    }
    if location is not None:
        form["location"] = location
    return client.post(f"/api/v1/orders/{order_id}/media", data=form, headers=headers,
                       content_type="multipart/form-data")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory) -> Iterator[str]:
    """moto's standalone S3-protocol server on a free loopback port, for the whole run."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log_path, "w") as log, pytest.MonkeyPatch.context() as patch:
        for name, value in S3_ENV.items():
            patch.setenv(name, value)
        process = subprocess.Popen(
            [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **S3_ENV},
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(url + "/moto-api/", timeout=1):
                        break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(
                            f"moto_server did not start: {log_path.read_text()}") from None
                    time.sleep(0.2)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
def s3_bucket(s3_endpoint, monkeypatch) -> str:
    """A fresh bucket per test; the AWS variables point boto3 at the moto server."""
    import boto3

    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)
    name = f"fieldsync-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=name)
    return name
