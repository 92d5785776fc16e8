"""Liveness, readiness and metrics (PROTOCOL.md section 8); outside /api/v1, in its OpenAPI
document all the same. The documentation is plain OpenAPI (`blp.doc`), not response schemas:
a schema would serialise every answer, and /healthz is the benchmarks' HTTP baseline."""

from __future__ import annotations

import logging

from flask import Response, current_app, jsonify, request
from sqlalchemy import text

from server import metrics
from server.api import Blueprint
from server.db import db
from server.errors import problem_response

blp = Blueprint("health", __name__, description="Operations: liveness, readiness, metrics")
log = logging.getLogger(__name__)

_OK = {"type": "string", "enum": ["ok"]}
_CHECK = {"type": "string", "enum": ["ok", "unavailable"]}
_READY_CHECKS = {"type": "object", "properties": {"database": _CHECK, "media_store": _CHECK}}


def _json_200(description: str, **properties) -> dict:
    schema = {"type": "object", "properties": properties}
    return {"200": {"description": description,
                    "content": {"application/json": {"schema": schema}}}}


@blp.route("/healthz")
@blp.doc(security=[], responses=_json_200("Alive.", status=_OK))
def healthz():
    """The process is alive; says nothing about its dependencies."""
    return jsonify(status="ok")


@blp.route("/readyz")
@blp.alt_response(503, description="`service_unavailable`: a check failed; the problem's "
                  "`checks` member says which.")
@blp.doc(security=[], responses=_json_200("Ready.", status=_OK, checks=_READY_CHECKS))
def readyz() -> Response:
    """Ready to serve: the database answers and the media store is reachable."""
    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception:  # noqa: BLE001 - any failure means not ready
        log.warning("readiness: database check failed", exc_info=True)
        checks["database"] = "unavailable"
    checks["media_store"] = _media_store_status()
    if any(value != "ok" for value in checks.values()):
        return problem_response(503, "service_unavailable", "Not ready.", extra={"checks": checks})
    return jsonify(status="ok", checks=checks)


@blp.route("/metrics")
@blp.alt_response(401, description="`token_missing` or `token_invalid`: FIELDSYNC_METRICS_TOKEN "
                  "is set and the request did not send it as its bearer token.")
@blp.doc(
    # No credentials, or the metrics token: it is required only when one is configured.
    security=[{}, {"metricsToken": []}],
    responses={"200": {"description": "Every metric in the Prometheus text format.",
                       "content": {metrics.CONTENT_TYPE: {"schema": {"type": "string"}}}}},
)
def metrics_text():
    """Prometheus metrics; needs the bearer token when FIELDSYNC_METRICS_TOKEN is set."""
    settings = current_app.config["SETTINGS"]
    metrics.authorize(settings, request.headers.get("Authorization"))
    return metrics.exposition(settings)


def _media_store_status() -> str:
    store = current_app.extensions.get("fieldsync_media_store")
    if store is None:
        return "ok"
    try:
        store.check()
        return "ok"
    except Exception:  # noqa: BLE001
        log.warning("readiness: media store check failed", exc_info=True)
        return "unavailable"
