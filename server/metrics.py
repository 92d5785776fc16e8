"""Prometheus metrics: request counts and latencies by endpoint, and the sync and merge counters.

Other modules increment the counters below (`SYNC_PULLS.inc()`,
`SYNC_MUTATIONS.labels(result="applied").inc()`, `MERGE_DECISIONS.labels(rule="lww").inc()`).

Several gunicorn workers each count their own requests. With `PROMETHEUS_MULTIPROC_DIR` set
to an empty directory writable by every worker (emptied before each start), prometheus_client
keeps the values in files there and `GET /metrics` sums them over all workers; without it a
plain in-process registry is served, which is right for a single process.
"""

from __future__ import annotations

import hmac
import time

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from server.config import Settings
from server.errors import Unauthorized

REQUESTS = Counter(
    "fieldsync_http_requests", "HTTP requests served.", ["endpoint", "method", "status"]
)
REQUEST_SECONDS = Histogram(
    "fieldsync_http_request_duration_seconds", "Time to serve an HTTP request.",
    ["endpoint", "method", "status"],
)
SYNC_PULLS = Counter("fieldsync_sync_pulls", "Delta-sync pulls served.")
SYNC_MUTATIONS = Counter(
    "fieldsync_sync_mutations", "Pushed mutations by outcome.", ["result"]
)
MERGE_DECISIONS = Counter(
    "fieldsync_merge_decisions", "Field merge decisions by the rule that decided.", ["rule"]
)

#: The media type of `GET /metrics`, as served and as documented.
CONTENT_TYPE = CONTENT_TYPE_LATEST

#: Requests that matched no route share one label, so scanners cannot grow the series count.
UNMATCHED = "<unmatched>"
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# Labelled children by (endpoint, method, status): a dict hit is cheaper than `.labels()`.
_children: dict[tuple[str, str, str], tuple] = {}


def init_app(app: Flask) -> None:
    """Count and time every request, labelled by URL rule (not raw path), method and status."""

    @app.before_request
    def _start_timer() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.get("metrics_started")
        if started is None:
            return response
        rule = request.url_rule
        method = request.method if request.method in KNOWN_METHODS else "OTHER"
        key = (rule.rule if rule is not None else UNMATCHED, method, str(response.status_code))
        children = _children.get(key)
        if children is None:
            children = _children.setdefault(
                key, (REQUESTS.labels(*key), REQUEST_SECONDS.labels(*key))
            )
        children[0].inc()
        children[1].observe(time.perf_counter() - started)
        return response


def authorize(settings: Settings, authorization: str | None) -> None:
    """When a metrics token is configured, require it as the bearer token (401 otherwise)."""
    expected = settings.metrics_token
    if not expected:
        return
    if not authorization:
        raise Unauthorized("The metrics token is required.", code="token_missing")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip(), expected):
        raise Unauthorized("The metrics token is wrong.")


def exposition(settings: Settings) -> Response:
    """Every metric in the Prometheus text format, summed over workers in multi-process mode."""
    if settings.prometheus_multiproc_dir:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=settings.prometheus_multiproc_dir)
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), content_type=CONTENT_TYPE)
