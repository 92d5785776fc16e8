"""A small threaded HTTP proxy on loopback that injects the faults of a bad mobile network.

At configurable rates it drops a request (never forwards it), drops a response after the
server committed (forwards, then closes the client connection unanswered), duplicates a
request (forwards it twice), delays it, or cuts an upload midway (forwards part of the body,
then closes both sides). One-shot faults can be queued for a given method and path.
"""

from __future__ import annotations

import http.client
import logging
import random
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "te", "trailers", "transfer-encoding", "upgrade", "content-length"})
FAULTS = ("drop_request", "drop_response", "duplicate", "delay", "cut_upload")


@dataclass
class FaultRates:
    """Probability of each fault per request; `max_delay` bounds the injected delay (s)."""

    drop_request: float = 0.0
    drop_response: float = 0.0
    duplicate: float = 0.0
    delay: float = 0.0
    cut_upload: float = 0.0
    max_delay: float = 0.5

    def healed(self) -> FaultRates:
        return FaultRates(max_delay=self.max_delay)


@dataclass
class OneShot:
    fault: str
    method: str | None
    path_prefix: str | None
    remaining: int
    skip: int = 0

    def matches(self, method: str, path: str) -> bool:
        return ((self.method is None or self.method == method)
                and (self.path_prefix is None or path.startswith(self.path_prefix)))


def is_upload(method: str, path: str, body_length: int) -> bool:
    return body_length > 0 and ((method == "PATCH" and "/uploads/" in path)
                                or (method == "POST" and path.endswith("/media")))


class FaultProxy(ThreadingHTTPServer):
    """`FaultProxy(upstream).start()` -> its URL; `set_rates`, `inject`, `heal`, `stop`."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, upstream: str, rates: FaultRates | None = None, *,
                 seed: int | None = None, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _ProxyHandler)
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.rates = rates or FaultRates()
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.one_shots: list[OneShot] = []
        self.counts: Counter[str] = Counter()
        #: Every request seen: (method, path, body length, fault or None).
        self.log: list[tuple[str, str, int, str | None]] = []
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> str:
        self._thread = threading.Thread(target=self.serve_forever, name="fault-proxy",
                                        daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def set_rates(self, rates: FaultRates) -> None:
        with self.lock:
            self.rates = rates

    def heal(self) -> None:
        with self.lock:
            self.rates = self.rates.healed()
            self.one_shots.clear()

    def inject(self, fault: str, *, method: str | None = None, path_prefix: str | None = None,
               count: int = 1, skip: int = 0) -> None:
        """Apply `fault` to `count` matching requests after letting `skip` of them through."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}")
        with self.lock:
            self.one_shots.append(OneShot(fault, method, path_prefix, count, skip))

    def choose_fault(self, method: str, path: str, body_length: int) -> str | None:
        with self.lock:
            self.counts["requests"] += 1
            fault = self._pick(method, path, body_length)
            self.log.append((method, path, body_length, fault))
            return fault

    def _pick(self, method: str, path: str, body_length: int) -> str | None:
        """One-shot faults first, then the random rates. The caller holds the lock."""
        for shot in self.one_shots:
            if shot.remaining > 0 and shot.matches(method, path):
                if shot.skip > 0:
                    shot.skip -= 1
                    return None
                shot.remaining -= 1
                self.counts[shot.fault] += 1
                return shot.fault
        for fault in FAULTS:
            if fault == "cut_upload" and not is_upload(method, path, body_length):
                continue
            if self.random.random() < getattr(self.rates, fault):
                self.counts[fault] += 1
                return fault
        return None

    def delay_seconds(self) -> float:
        with self.lock:
            return self.random.uniform(0, self.rates.max_delay)


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FaultProxy

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        log.debug("proxy: " + format, *args)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _upstream_headers(self) -> dict[str, str]:
        return {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}

    def _connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.server.upstream_host, self.server.upstream_port,
                                          timeout=120)

    def _forward(self, body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
        connection = self._connect()
        try:
            headers = self._upstream_headers()
            if body or self.command in ("POST", "PUT", "PATCH"):
                headers["Content-Length"] = str(len(body))
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            return response.status, response.reason, response.getheaders(), data
        finally:
            connection.close()

    def _cut(self, body: bytes) -> None:
        """Send the headers and part of the body upstream, then hang up on both sides."""
        connection = self._connect()
        try:
            connection.putrequest(self.command, self.path, skip_host=True,
                                  skip_accept_encoding=True)
            for key, value in self._upstream_headers().items():
                connection.putheader(key, value)
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders()
            connection.send(body[: max(1, len(body) // 2)])
            time.sleep(0.05)
        except OSError:
            pass
        finally:
            connection.close()

    def _hang_up(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _handle(self) -> None:
        body = self._read_body()
        fault = self.server.choose_fault(self.command, self.path, len(body))
        if fault == "drop_request":
            self._hang_up()
            return
        if fault == "cut_upload":
            self._cut(body)
            self._hang_up()
            return
        if fault == "delay":
            time.sleep(self.server.delay_seconds())
        try:
            status, reason, headers, data = self._forward(body)
            if fault == "duplicate":
                status, reason, headers, data = self._forward(body)
        except OSError:
            self._hang_up()
            return
        if fault == "drop_response":
            self._hang_up()
            return
        self.send_response(status, reason)
        upstream_length = None
        for key, value in headers:
            if key.lower() == "content-length":
                upstream_length = value
            elif key.lower() not in HOP_BY_HOP:
                self.send_header(key, value)
        if self.command == "HEAD":
            self.send_header("Content-Length", upstream_length or "0")
        else:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = _handle

