"""Typed API errors and the one place that turns any error into RFC 9457 problem+json.

Domain code raises these exceptions; it never builds responses. `register_error_handlers`
maps them, werkzeug's HTTP errors, webargs validation failures and unexpected exceptions to
one envelope, so no response ever carries a stack trace, SQL or HTML.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from flask import Flask, Response, current_app, json, request
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

PROBLEM_MIMETYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://fieldsync.dev/problems/"

log = logging.getLogger(__name__)

#: Default title for each status, used when an error does not bring its own.
TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    410: "Gone",
    412: "Precondition failed",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    428: "Precondition required",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}

#: The stable code for werkzeug errors that no domain code raised.
HTTP_STATUS_CODES = {
    400: "bad_request",
    401: "token_missing",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    412: "version_conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    428: "precondition_required",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}


class ApiError(Exception):
    """Base of every error a client may see; subclasses fix status and code."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        errors: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or self.__class__.__name__)
        self.detail = detail
        if code:
            self.code = code
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra or {}


class MalformedJson(ApiError):
    status, code = 400, "malformed_json"


class InvalidCursor(ApiError):
    status, code = 400, "invalid_cursor"


class Unauthorized(ApiError):
    """401 with one of the token_* / device_revoked / user_inactive codes."""

    status, code = 401, "token_invalid"

    def __init__(self, detail: str | None = None, *, code: str = "token_invalid", **kw) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="fieldsync"'})
        super().__init__(detail, code=code, **kw)


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class MediaIdReused(Conflict):
    code = "media_id_reused"


class CursorExpired(ApiError):
    status, code = 410, "cursor_expired"


class VersionConflict(ApiError):
    status, code = 412, "version_conflict"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


class BatchTooLarge(PayloadTooLarge):
    code = "batch_too_large"


class ValidationFailed(ApiError):
    status, code = 422, "validation_error"


class InvalidImage(ApiError):
    status, code = 422, "invalid_image"


class IdempotencyKeyReused(ApiError):
    status, code = 422, "idempotency_key_reused"


class PreconditionRequired(ApiError):
    status, code = 428, "precondition_required"


class RateLimited(ApiError):
    status, code = 429, "rate_limited"

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        super().__init__(
            detail or f"Too many requests; retry after {retry_after} s.",
            headers={"Retry-After": str(retry_after)},
            extra={"retry_after": retry_after},
        )


class ServiceUnavailable(ApiError):
    status, code = 503, "service_unavailable"


def problem_response(
    status: int,
    code: str,
    detail: str | None = None,
    *,
    title: str | None = None,
    errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    """Build one problem+json response; every error path ends here."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title or TITLES.get(status, "Error"),
        "status": status,
        "code": code,
    }
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    body.update(extra or {})
    response = current_app.response_class(
        json.dumps(body), status=status, mimetype=PROBLEM_MIMETYPE
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def response_for_api_error(error: ApiError) -> Response:
    return problem_response(
        error.status,
        error.code,
        error.detail,
        errors=error.errors,
        headers=error.headers,
        extra=error.extra,
    )


def _flatten_webargs_messages(messages: dict[str, Any]) -> dict[str, Any]:
    """webargs nests messages by location ({"json": {...}}); clients want the fields."""
    flat: dict[str, Any] = {}
    for location, fields in messages.items():
        if isinstance(fields, dict):
            flat.update(fields)
        else:
            flat[location] = fields
    return flat


def response_for_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    messages = data.get("messages")
    if status == 400 and _is_invalid_json(messages, error):
        if _body_cut_at_limit():
            return problem_response(413, "payload_too_large", "The request body is too large.")
        return problem_response(400, "malformed_json", "The request body is not valid JSON.")
    if status == 422 and messages:
        return problem_response(
            422,
            "validation_error",
            "The request has invalid fields.",
            errors=_flatten_webargs_messages(messages),
        )
    headers = {}
    if status == 405 and getattr(error, "valid_methods", None):
        # HTTPException declares no `valid_methods`: only MethodNotAllowed has them, and the
        # test above found them set.
        headers["Allow"] = ", ".join(cast(Any, error).valid_methods)
    code = HTTP_STATUS_CODES.get(status, "error")
    detail = error.description if status < 500 else None
    return problem_response(status, code, detail, headers=headers)


def _body_cut_at_limit() -> bool:
    """A chunked body (no Content-Length) over the limit is cut there by werkzeug, not refused,
    so it looks like truncated JSON; it is really too large."""
    limit = request.max_content_length
    return (request.content_length is None and limit is not None
            and len(request.get_data(cache=True)) >= limit)


def _is_invalid_json(messages: Any, error: HTTPException) -> bool:
    if isinstance(messages, dict) and "json" in messages:
        return "Invalid JSON body." in messages["json"]
    return "Failed to decode JSON" in (error.description or "")


def register_error_handlers(app: Flask) -> None:
    """Install the handlers; flask-smorest's own HTTP handler is replaced in server.api."""
    app.register_error_handler(ApiError, response_for_api_error)
    app.register_error_handler(HTTPException, response_for_http_exception)

    @app.errorhandler(DBAPIError)
    def _database_error(error: DBAPIError) -> Response:
        if error.connection_invalidated:
            # The database went away (a restart, a failover): the pool is renewed, so the
            # client's retry lands on a fresh connection.
            log.warning("database connection lost", exc_info=error)
            return problem_response(503, "service_unavailable",
                                    "The database connection was lost; retry.",
                                    headers={"Retry-After": "1"})
        log.exception("database error", exc_info=error)
        return problem_response(500, "internal_error", "An unexpected error occurred.")

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("unhandled error", exc_info=error)
        return problem_response(500, "internal_error", "An unexpected error occurred.")
