"""The benchmark driver's HTTP client (bench/sync_bench/http_wire.py) against a real server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.sync_bench.http_wire import UnsupportedResponse, WireConnection


class _Echo(BaseHTTPRequestHandler):
    """Answers with what it received; keeps connections alive unless asked (`?close=1`)."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path == "/big":
            self._answer(200, b"x" * 1_000_000)
        elif self.path == "/streamed":  # no Content-Length: the body ends when the socket does
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"no length")
            self.close_connection = True
        else:
            self._echo(200)

    def do_POST(self) -> None:
        self._echo(201)

    def _echo(self, status: int) -> None:
        size = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(size) if size else b""
        self._answer(status, f"{self.command} {self.path} {self.headers.get('Authorization')} "
                     f"{self.headers.get('Content-Type')} ".encode() + body,
                     close="close=1" in self.path)

    def _answer(self, status: int, body: bytes, close: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join()


def test_requests_and_bodies_arrive_whole_on_one_kept_alive_connection(port: int) -> None:
    conn = WireConnection(port, {"Authorization": "Bearer abc"})
    first = conn.exchange("GET", "/pull?cursor=c1")
    socket_used = conn.sock
    second = conn.exchange("POST", "/push", b'{"mutations": []}')
    big = conn.exchange("GET", "/big")

    assert (first.status, first.body) == (200, b"GET /pull?cursor=c1 Bearer abc None ")
    assert (second.status, second.body) == (
        201, b'POST /push Bearer abc application/json {"mutations": []}')
    assert big.body == b"x" * 1_000_000
    assert socket_used is not None and conn.sock is socket_used  # one connection for all three
    assert not (first.will_close or second.will_close or big.will_close)
    conn.close()


def test_the_socket_is_dropped_when_the_server_says_it_closes(port: int) -> None:
    conn = WireConnection(port, {})
    response = conn.exchange("GET", "/?close=1")

    assert response.will_close and conn.sock is None
    assert conn.exchange("GET", "/again").status == 200  # a new connection is opened


def test_a_response_without_content_length_is_refused(port: int) -> None:
    conn = WireConnection(port, {})
    with pytest.raises(UnsupportedResponse, match="without Content-Length"):
        conn.exchange("GET", "/streamed")
