"""A photo upload cut midway resumes from the offset the server reports, not from zero."""

from __future__ import annotations

import hashlib
import random

import requests

from clients.python.uploads import CHUNK_SIZE
from clients.simulator.images import make_photo
from tests.clients.conftest import FAST_RETRIES


def test_an_upload_cut_after_its_first_chunk_resumes_where_the_server_stopped(
        factory, crew, proxy, make_client, server_view, tmp_path):
    order = factory.order(team=crew.team)
    path = make_photo(tmp_path / "large.jpg", random.Random(3), large=True)
    size = path.stat().st_size
    assert size > CHUNK_SIZE
    client = make_client(proxy.url, crew.token)
    client.transport.attempts = 1
    assert client.sync().ok
    media_id = client.attach_photo(str(order.id), path)
    proxy.inject("cut_upload", method="PATCH", path_prefix="/api/v1/uploads/", skip=1)

    interrupted = client.sync()
    assert interrupted.uploaded == 0 and interrupted.errors
    url = client.store.upload_url(media_id)
    assert url is not None and client.pending_uploads()
    head = requests.head(url.replace(proxy.url, server_view.base_url), timeout=10,
                         headers={"Tus-Resumable": "1.0.0",
                                  "Authorization": f"Bearer {crew.token}"})
    assert int(head.headers["Upload-Offset"]) == CHUNK_SIZE

    client.transport.attempts = FAST_RETRIES.get("attempts", 6)
    sent_before = len(proxy.log)
    resumed = client.sync()
    assert resumed.uploaded == 1 and resumed.ok, resumed.errors
    patches = [length for method, _, length, _ in proxy.log[sent_before:] if method == "PATCH"]
    assert patches[0] == size - CHUNK_SIZE, patches
    content = server_view.get(f"/api/v1/media/{media_id}/content").content
    assert hashlib.sha256(content).hexdigest() == hashlib.sha256(path.read_bytes()).hexdigest()
