"""The fault proxy: each fault does what the simulator's accounting relies on."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from clients.simulator.proxy import FaultProxy, FaultRates


class _Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        length = int(self.headers.get("Content-Length") or 0)
        body = b""
        while len(body) < length:
            chunk = self.rfile.read(length - len(body))
            if not chunk:
                break
            body += chunk
        self.server.received.append((self.path, body))
        payload = f"got {len(body)}".encode()
        self.send_response(201)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-Upstream", "yes")
        self.end_headers()
        self.wfile.write(payload)

    do_PATCH = do_POST


@pytest.fixture
def upstream() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(upstream) -> Iterator[FaultProxy]:
    fault_proxy = FaultProxy(f"http://127.0.0.1:{upstream.server_address[1]}", seed=1)
    fault_proxy.start()
    yield fault_proxy
    fault_proxy.stop()


def test_without_faults_requests_and_responses_pass_through_unchanged(proxy, upstream):
    response = requests.post(proxy.url + "/api/v1/sync/push", data=b"hello", timeout=5)
    assert response.status_code == 201 and response.text == "got 5"
    assert response.headers["X-Upstream"] == "yes"
    assert upstream.received == [("/api/v1/sync/push", b"hello")]


def test_a_dropped_request_never_reaches_the_server(proxy, upstream):
    proxy.inject("drop_request")
    with pytest.raises(requests.ConnectionError):
        requests.post(proxy.url + "/x", data=b"a", timeout=5)
    assert upstream.received == []


def test_a_dropped_response_reaches_the_server_but_not_the_client(proxy, upstream):
    proxy.inject("drop_response", method="POST", path_prefix="/api/v1/sync/push")
    with pytest.raises(requests.ConnectionError):
        requests.post(proxy.url + "/api/v1/sync/push", data=b"a", timeout=5)
    assert upstream.received == [("/api/v1/sync/push", b"a")]
    assert requests.post(proxy.url + "/api/v1/sync/push", data=b"b", timeout=5).ok


def test_a_duplicated_request_reaches_the_server_twice(proxy, upstream):
    proxy.inject("duplicate")
    assert requests.post(proxy.url + "/x", data=b"twice", timeout=5).status_code == 201
    assert upstream.received == [("/x", b"twice"), ("/x", b"twice")]


def test_a_cut_upload_delivers_only_part_of_the_body_and_hangs_up(proxy, upstream):
    proxy.inject("cut_upload")
    with pytest.raises(requests.ConnectionError):
        requests.patch(proxy.url + "/api/v1/uploads/abc", data=b"x" * 1000, timeout=5)
    assert proxy.counts["cut_upload"] == 1
    assert all(len(body) < 1000 for _, body in upstream.received)


def test_rates_apply_at_random_and_heal_turns_every_fault_off(proxy, upstream):
    proxy.set_rates(FaultRates(drop_request=1.0))
    with pytest.raises(requests.ConnectionError):
        requests.post(proxy.url + "/x", data=b"a", timeout=5)
    proxy.heal()
    assert requests.post(proxy.url + "/x", data=b"a", timeout=5).status_code == 201
    assert proxy.counts["drop_request"] == 1
