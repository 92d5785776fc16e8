"""Work order endpoints for staff (PROTOCOL.md section 3) and reading one order from a tablet.

Every response that carries one order carries its `ETag` (the quoted version). Edits need a
matching `If-Match`; assign, cancel and reopen honour one when it is sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from flask import current_app, request, url_for
from flask.views import MethodView

from schemas.base import PaginationArgs
from schemas.orders import (
    AssignmentInputSchema,
    AuditListSchema,
    OrderCreateSchema,
    OrderDetailsSchema,
    OrderListArgs,
    OrderListSchema,
    OrderSchema,
    ReasonSchema,
    crew_view,
    order_schema,
)
from server.api import Blueprint
from server.auth.principal import current_principal, require_roles, require_staff_or_device
from server.db import db
from server.domain import order_queries
from server.domain.assignment import assign_order
from server.domain.audit import serve_event
from server.domain.lifecycle import cancel_order, reopen_order
from server.domain.orders import columns_from_input, create_order_from_request, edit_order_details
from server.domain.scope import get_visible_order, visible_orders
from server.errors import Forbidden, PreconditionRequired, ValidationFailed, VersionConflict
from server.models.orders import Order

blp = Blueprint("orders", __name__, description="Work orders: create, find, edit, assign, audit.")

STAFF = ("admin", "dispatcher", "agent")
DISPATCH = ("admin", "dispatcher")
MAX_IDEMPOTENCY_KEY = 200

IF_MATCH_DOC = {"in": "header", "name": "If-Match", "schema": {"type": "string"},
                "description": 'The order\'s ETag, e.g. "7".'}


STALE_DOC = ("version_conflict: If-Match is stale; the problem's `current` member holds the "
             "order as it is now, so the client can merge and retry.")


def etag_of(order: Order) -> str:
    return f'"{order.version}"'


def _etag_list(header: str) -> list[str]:
    """The entity tags of an If-Match / If-None-Match header, weak prefixes dropped."""
    return [tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()]


def check_if_match(order: Order, *, required: bool) -> None:
    """428 without If-Match when `required`; 412 with the current order when it is stale."""
    header = request.headers.get("If-Match")
    if header is None:
        if required:
            raise PreconditionRequired("Send If-Match with the ETag of the order you edited.")
        return
    tags = _etag_list(header)
    if "*" not in tags and etag_of(order) not in tags:
        raise VersionConflict(
            f"The order changed since you read it; it is now at version {order.version}.",
            extra={"current": order_schema.dump(order)},
            headers={"ETag": etag_of(order)},
        )


def order_response(payload: dict[str, Any], order: Order, status: int = 200,
                   headers: dict[str, str] | None = None):
    response = current_app.json.response(payload)
    response.status_code = status
    response.headers["ETag"] = etag_of(order)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY:
        raise ValidationFailed(
            "Invalid Idempotency-Key header.",
            errors={"Idempotency-Key": [f"Must be 1 to {MAX_IDEMPOTENCY_KEY} characters."]},
        )
    return key


@blp.route("/orders")
class OrderList(MethodView):
    @require_roles(*STAFF)
    @blp.arguments(OrderListArgs, location="query", as_kwargs=True)
    @blp.response(200, OrderListSchema)
    def get(self, limit: int, cursor: str | None, **filters: Any):
        """List orders, oldest first, with filters and a cursor.

        `status` and `priority` may be repeated. Walking the pages returns every order that
        existed when the walk began exactly once, even while orders are being created.
        """
        query = order_queries.filtered(
            visible_orders(current_principal()),
            order_queries.OrderFilters(
                statuses=filters.get("status"), team_id=filters.get("team_id"),
                assignee=filters.get("assignee"), priorities=filters.get("priority"),
                overdue=filters.get("overdue"), updated_since=filters.get("updated_since"),
                text=filters.get("q"),
            ),
            current_app.config["SETTINGS"],
        )
        page = order_queries.page_of_orders(db.session, query, limit=limit, cursor=cursor)
        return {"items": page.items, "next_cursor": page.next_cursor}

    @require_roles(*STAFF)
    @blp.arguments(OrderCreateSchema)
    @blp.response(201, OrderSchema, headers={
        "ETag": {"description": "The order's version, quoted.", "schema": {"type": "string"}},
        "Location": {"description": "The order's URL.", "schema": {"type": "string"}},
    })
    @blp.doc(parameters=[{
        "in": "header", "name": "Idempotency-Key", "schema": {"type": "string", "maxLength": 200},
        "description": "Retry-safe creation: the same key and body answer 201 with the order "
                       "the first request created (header Idempotent-Replayed: true); the same "
                       "key with another body is 422 idempotency_key_reused. Keys are per user.",
    }])
    def post(self, data: dict[str, Any]):
        """Create an order (dispatchers may assign it in the same request)."""
        principal = current_principal()
        if "assignment" in data and principal.role not in DISPATCH:
            raise Forbidden("Only dispatchers and admins may assign an order.")
        outcome = create_order_from_request(
            db.session, current_app.config["SETTINGS"], principal.actor, data,
            idempotency_key=_idempotency_key(),
        )
        headers = {"Location": url_for("orders.OrderItem", order_id=outcome.order.id)}
        if outcome.replayed:
            headers["Idempotent-Replayed"] = "true"
        return order_response(order_schema.dump(outcome.order), outcome.order, 201, headers)


@blp.route("/orders/<uuid:order_id>")
class OrderItem(MethodView):
    @require_staff_or_device(*STAFF)
    @blp.response(200, OrderSchema)
    @blp.alt_response(304, description="Not modified: If-None-Match holds the current ETag.")
    @blp.doc(parameters=[{"in": "header", "name": "If-None-Match", "schema": {"type": "string"}}])
    def get(self, order_id: uuid.UUID):
        """Read one order; a crew device sees only orders in its scope, with field visibility."""
        principal = current_principal()
        order = get_visible_order(db.session, principal, order_id)
        if_none_match = request.headers.get("If-None-Match")
        if if_none_match is not None and (
            etag_of(order) in _etag_list(if_none_match) or if_none_match.strip() == "*"
        ):
            response = current_app.response_class(status=304)
            response.headers["ETag"] = etag_of(order)
            return response
        payload = crew_view(order) if principal.is_device else order_schema.dump(order)
        return order_response(payload, order)

    @require_roles(*STAFF)
    @blp.arguments(OrderDetailsSchema)
    @blp.response(200, OrderSchema)
    @blp.alt_response(409, description="invalid_transition: the order is cancelled or closed.")
    @blp.alt_response(412, description=STALE_DOC)
    @blp.alt_response(428, description="precondition_required: If-Match is missing.")
    @blp.doc(parameters=[dict(IF_MATCH_DOC, required=True)])
    def patch(self, data: dict[str, Any], order_id: uuid.UUID):
        """Edit an order's details; needs If-Match (428 without, 412 with the current copy)."""
        principal = current_principal()
        if request.headers.get("If-Match") is None:
            raise PreconditionRequired("Send If-Match with the ETag of the order you edited.")
        order = get_visible_order(db.session, principal, order_id, for_update=True)
        check_if_match(order, required=True)
        edit_order_details(db.session, order, columns_from_input(data), actor=principal.actor)
        return order_response(order_schema.dump(order), order)


def _locked_for_dispatch(order_id: uuid.UUID) -> Order:
    order = get_visible_order(db.session, current_principal(), order_id, for_update=True)
    check_if_match(order, required=False)
    return order


def dispatch_action(action: str, input_schema) -> Callable:
    """The routing, role check and documentation shared by assign, cancel and reopen."""

    def decorate(view: Callable) -> Callable:
        for decorator in reversed((
            blp.route(f"/orders/<uuid:order_id>/{action}", methods=["POST"]),
            require_roles(*DISPATCH),
            blp.arguments(input_schema),
            blp.response(200, OrderSchema),
            blp.alt_response(409, description="invalid_transition: not allowed from the "
                                              "current status."),
            blp.alt_response(412, description=STALE_DOC),
            blp.doc(parameters=[IF_MATCH_DOC]),
        )):
            view = decorator(view)
        return view

    return decorate


@dispatch_action("assign", AssignmentInputSchema)
def assign(data: dict[str, Any], order_id: uuid.UUID):
    """Assign an order to a team and some of its crew members."""
    order = _locked_for_dispatch(order_id)
    assign_order(db.session, order, team_id=data["team_id"], user_ids=data["user_ids"],
                 actor=current_principal().actor)
    return order_response(order_schema.dump(order), order)


@dispatch_action("cancel", ReasonSchema)
def cancel(data: dict[str, Any], order_id: uuid.UUID):
    """Cancel an order that is not completed yet (409 invalid_transition otherwise)."""
    order = _locked_for_dispatch(order_id)
    cancel_order(db.session, order, actor=current_principal().actor, reason=data["reason"])
    return order_response(order_schema.dump(order), order)


@dispatch_action("reopen", ReasonSchema)
def reopen(data: dict[str, Any], order_id: uuid.UUID):
    """Send a completed or closed order back to its team (or to `new`), keeping its history."""
    order = _locked_for_dispatch(order_id)
    reopen_order(db.session, order, actor=current_principal().actor, reason=data["reason"])
    return order_response(order_schema.dump(order), order)


@blp.route("/orders/<uuid:order_id>/audit", methods=["GET"])
@require_roles(*STAFF)
@blp.arguments(PaginationArgs, location="query", as_kwargs=True)
@blp.response(200, AuditListSchema)
def audit(order_id: uuid.UUID, limit: int, cursor: str | None):
    """The order's hash-chained audit trail in `seq` order (PROTOCOL.md section 6)."""
    order = get_visible_order(db.session, current_principal(), order_id)
    page = order_queries.page_of_events(db.session, order.id, limit=limit, cursor=cursor)
    return {"items": [serve_event(event) for event in page.items], "next_cursor": page.next_cursor}
