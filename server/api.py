"""Thin local subclasses of flask-smorest's Api and Blueprint that every view module imports."""

from __future__ import annotations

import http
import json

import flask_smorest
import swagger_ui_bundle
from flask import Blueprint as FlaskBlueprint
from flask import Flask
from flask_smorest.utils import prepare_response
from webargs.flaskparser import FlaskParser

from schemas.problems import ProblemSchema
from server.errors import PROBLEM_MIMETYPE, response_for_http_exception

#: Swagger UI is served by the app itself, so the docs work on a network without internet.
SWAGGER_ASSETS_URL = "/api/v1/docs/assets/"
API_TITLE = "Fieldsync"
API_VERSION = "1"


class Api(flask_smorest.Api):
    """flask-smorest's Api with our problem+json envelope for HTTP errors, and documented so."""

    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error):  # noqa: D102 - see server.errors
        return response_for_http_exception(error)

    def _register_responses(self):
        """flask-smorest's shared error responses (`default`, `UNPROCESSABLE_ENTITY`, ...),
        with the media type they really have: flask-smorest writes application/json."""
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_MIMETYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_MIMETYPE)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, response, lazy=True)


class ArgumentsParser(FlaskParser):
    """webargs' parser, for which a body nested deeper than the interpreter recurses is not
    valid JSON (400 `malformed_json`) rather than a crash of the JSON decoder (a 500)."""

    def _raw_load_json(self, req):
        try:
            return super()._raw_load_json(req)
        except RecursionError as error:
            # A document must be given: webargs reads an empty one as "no body".
            raise json.JSONDecodeError("The body nests too deeply.", "[[...", 0) from error


class Blueprint(flask_smorest.Blueprint):
    """Local Blueprint, the place to hang behaviour shared by every resource."""

    ARGUMENTS_PARSER = ArgumentsParser()

    def alt_response(self, status_code, response=None, *, schema=None, content_type=None,
                     **kwargs):
        """An error answer documented with a description only has the problem document."""
        if response is None and schema is None and int(status_code) >= 400:
            schema, content_type = ProblemSchema, PROBLEM_MIMETYPE
        return super().alt_response(status_code, response, schema=schema,
                                    content_type=content_type, **kwargs)


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
                    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                    "metricsToken": {
                        "type": "http", "scheme": "bearer",
                        "description": "FIELDSYNC_METRICS_TOKEN, for GET /metrics when it is set.",
                    },
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
