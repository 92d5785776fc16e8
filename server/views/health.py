"""Liveness, readiness and metrics (PROTOCOL.md section 8); outside /api/v1."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import text

from server import metrics
from server.db import db
from server.errors import problem_response

blp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@blp.get("/healthz")
def healthz():
    """The process is alive; says nothing about its dependencies."""
    return jsonify(status="ok")


@blp.get("/readyz")
def readyz():
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


@blp.get("/metrics")
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
