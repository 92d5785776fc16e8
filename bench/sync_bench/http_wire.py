"""The driver's HTTP/1.1 client: a request written as bytes, a response read by Content-Length.

The driver shares the machine's 2 cores with the server it measures. `http.client` costs about
a quarter of a millisecond of CPU per exchange (header objects, `email` parsing of the
response), which the server's figures then pay for; this client does only what the benchmark
needs: one request at a time on a keep-alive socket, reopened when the server closes it
(gunicorn's `sync` workers close after every response). Chunked responses are refused: the app
always sends a Content-Length.
"""

from __future__ import annotations

import socket

HEADER_END = b"\r\n\r\n"
RECV_BYTES = 256 * 1024


class ConnectionClosed(OSError):
    """The server closed the connection before a whole response arrived."""


class UnsupportedResponse(OSError):
    """A response this client cannot delimit (no Content-Length)."""


class Response:
    __slots__ = ("status", "body", "will_close")

    def __init__(self, status: int, body: bytes, will_close: bool) -> None:
        self.status, self.body, self.will_close = status, body, will_close


class WireConnection:
    """One keep-alive connection to 127.0.0.1:`port` with fixed headers (not thread-safe)."""

    def __init__(self, port: int, headers: dict[str, str], timeout: float = 60) -> None:
        self.port, self.timeout = port, timeout
        self.fixed = "".join(f"{name}: {value}\r\n" for name, value in
                             {"Host": f"127.0.0.1:{port}", **headers}.items()).encode()
        self.sock: socket.socket | None = None

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def exchange(self, method: str, path: str, body: bytes | None = None) -> Response:
        """Send one request (a body is JSON) and read its whole response; closes the socket when
        the server said it would. Raises `ConnectionClosed` when the server hung up (a kept-alive
        socket it closed while idle, say), another `OSError` for any other failure."""
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        request = b"%s %s HTTP/1.1\r\n" % (method.encode(), path.encode()) + self.fixed
        if body is not None:
            request += b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
        self.sock.sendall(request + b"\r\n" + (body or b""))
        response = self._read_response()
        if response.will_close:
            self.close()
        return response

    def _read_response(self) -> Response:
        assert self.sock is not None
        buffer = bytearray()
        while (end := buffer.find(HEADER_END)) < 0:
            buffer += self._recv()
        head = bytes(buffer[:end]).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        fields = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        if "content-length" not in fields:
            raise UnsupportedResponse(f"response without Content-Length: {head[0]!r}")
        size = int(fields["content-length"])
        body_start = end + len(HEADER_END)
        while len(buffer) - body_start < size:
            buffer += self._recv()
        close = fields.get("connection", "").lower() == "close"
        return Response(status, bytes(buffer[body_start:body_start + size]), close)

    def _recv(self) -> bytes:
        assert self.sock is not None
        chunk = self.sock.recv(RECV_BYTES)
        if not chunk:
            raise ConnectionClosed("the server closed the connection")
        return chunk
