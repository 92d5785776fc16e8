"""tus requests through the Flask test client, and Upload-Metadata encoding."""

from __future__ import annotations

import base64
import uuid

TUS = {"Tus-Resumable": "1.0.0"}


def metadata(order_id, *, media_id: str | None = None, kind: str = "photo",
             filename: str = "photo.jpg", taken_at: str = "2026-11-21T08:15:30.125Z",
             **extra: str) -> dict[str, str]:
    return {"order_id": str(order_id), "media_id": media_id or str(uuid.uuid4()), "kind": kind,
            "filename": filename, "taken_at": taken_at, **extra}


def encode_metadata(values: dict[str, str]) -> str:
    return ",".join(f"{key} {base64.b64encode(value.encode()).decode()}"
                    for key, value in values.items())


def create(client, headers: dict[str, str], length: int, values: dict[str, str]):
    return client.post("/api/v1/uploads/", headers={
        **headers, **TUS, "Upload-Length": str(length),
        "Upload-Metadata": encode_metadata(values)})


def patch(client, headers: dict[str, str], location: str, offset: int, data: bytes,
          **extra_headers: str):
    return client.patch(location, data=data, headers={
        **headers, **TUS, "Upload-Offset": str(offset),
        "Content-Type": "application/offset+octet-stream", **extra_headers})


def head(client, headers: dict[str, str], location: str):
    return client.head(location, headers={**headers, **TUS})
