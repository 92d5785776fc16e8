"""Thin local subclasses of flask-smorest's Api and Blueprint that every view module imports."""

from __future__ import annotations

import flask_smorest
import swagger_ui_bundle
from flask import Blueprint as FlaskBlueprint
from flask import Flask

from server.errors import response_for_http_exception

#: Swagger UI is served by the app itself, so the docs work on a network without internet.
SWAGGER_ASSETS_URL = "/api/v1/docs/assets/"
API_TITLE = "Fieldsync"
API_VERSION = "1"


class Api(flask_smorest.Api):
    """flask-smorest's Api with our problem+json envelope for HTTP errors."""

    def handle_http_exception(self, error):  # noqa: D102 - see server.errors
        return response_for_http_exception(error)


class Blueprint(flask_smorest.Blueprint):
    """Local Blueprint, the place to hang behaviour shared by every resource."""


def configure_openapi(app: Flask) -> None:
    app.config.update(
        API_TITLE=API_TITLE,
        API_VERSION=API_VERSION,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL=SWAGGER_ASSETS_URL,
        API_SPEC_OPTIONS={
            "info": {"description": "Offline-first sync server for field service work orders."},
            "components": {
                "securitySchemes": {
                    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
                }
            },
            "security": [{"bearerAuth": []}],
        },
    )



def swagger_assets_blueprint() -> FlaskBlueprint:
    """The Swagger UI files of the swagger-ui-bundle package, at SWAGGER_ASSETS_URL."""
    return FlaskBlueprint(
        "swagger_assets", __name__, static_folder=swagger_ui_bundle.swagger_ui_path,
        static_url_path=SWAGGER_ASSETS_URL.rstrip("/"),
    )
