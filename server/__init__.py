"""The Flask application factory."""

from __future__ import annotations

import importlib
import logging
import uuid

from flask import Flask, g, request
from sqlalchemy.exc import DBAPIError, IntegrityError

from server.api import Api, configure_openapi, swagger_assets_blueprint
from server.config import Settings
from server.db import db
from server.errors import problem_response, register_error_handlers
from server.json_provider import OrjsonProvider

#: One module per resource under server/views, each exposing `blp`.
VIEW_MODULES = (
    "auth",
    "teams",
    "users",
    "devices",
    "orders",
    "sync",
    "conflicts",
    "media",
    "uploads",
    "visits",
    "dispatch",
    "rules",
    "reports",
)

#: Request bodies that carry media files get the media limit; every other body 2 MiB.
MEDIA_MIMETYPES = frozenset({"multipart/form-data", "application/offset+octet-stream"})

log = logging.getLogger(__name__)


def create_app(config: dict | None = None) -> Flask:
    """Build the app; `config` overrides settings by name (tests, scripts)."""
    app = Flask(__name__, instance_relative_config=True)
    settings = Settings.from_env(app.instance_path).with_overrides(config).finalise()
    app.config["SETTINGS"] = settings
    app.config["TESTING"] = settings.testing
    app.config["MAX_CONTENT_LENGTH"] = settings.max_media_bytes + 1024 * 1024
    app.json = OrjsonProvider(app)

    from sync import feed

    for event_name, hook in feed.SESSION_HOOKS:
        db.listen(event_name, hook)
    db.init_app(app)

    register_error_handlers(app)
    configure_openapi(app)
    api = Api(app)
    for name in VIEW_MODULES:
        module = importlib.import_module(f"server.views.{name}")
        api.register_blueprint(module.blp, url_prefix="/api/v1")
    from server.views import health

    api.register_blueprint(health.blp, url_prefix="")
    app.register_blueprint(swagger_assets_blueprint())
    from server import cli, metrics

    metrics.init_app(app)
    importlib.import_module("media").init_app(app)
    cli.register(app)
    _install_request_hooks(app)
    return app


def _install_request_hooks(app: Flask) -> None:
    json_limit = app.config["SETTINGS"].max_json_bytes

    @app.before_request
    def _start() -> None:
        g.request_id = request.headers.get("X-Request-ID") or str(uuid.uuid4())
        if request.mimetype not in MEDIA_MIMETYPES:
            request.max_content_length = json_limit

    @app.after_request
    def _finish(response):
        try:
            db.finish_request(succeeded=response.status_code < 400)
        except IntegrityError:
            log.warning("commit refused by a constraint", exc_info=True)
            g.db_session.rollback()
            response = problem_response(
                409, "conflict", "The change conflicts with one committed at the same time; retry."
            )
        except DBAPIError:
            log.exception("commit failed")
            g.db_session.rollback()
            response = problem_response(
                503, "service_unavailable", "The database did not accept the change; retry.",
                headers={"Retry-After": "1"},
            )
        response.headers["X-Request-ID"] = g.get("request_id") or str(uuid.uuid4())
        return response
