"""Work order schemas: the order as served (staff and, with field visibility, crews), the
create and edit inputs, list filters and the served audit trail."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, post_load, validate

from schemas.base import ListResponse, PaginationArgs, Schema, UtcDateTime
from server.json_provider import to_rfc3339
from server.models.orders import KINDS, PRIORITIES, SOURCES, STATUSES

OVERDUE_KINDS = ("arrival", "completion", "followup")
#: `overdue=` flags over the work targets (arrival, completion), as the filter's bool.
OVERDUE_FLAGS = {"true": True, "1": True, "false": False, "0": False}
OVERDUE_DOC = (
    "`arrival`, `completion` or `followup`: orders past that deadline and not there yet. "
    "`true` (or `1`): overdue for arrival or completion. `false` (or `0`): overdue for neither, "
    "orders without deadlines included. Follow-ups count only when named (`followup`)."
)


class CustomerSchema(Schema):
    name = fields.String()
    phone = fields.String(allow_none=True)
    account = fields.String(allow_none=True)


class SlaSchema(Schema):
    arrive_by = UtcDateTime(allow_none=True)
    complete_by = UtcDateTime(allow_none=True)


_sla_schema = SlaSchema()


class AssignmentSchema(Schema):
    team_id = fields.UUID(allow_none=True)
    user_ids = fields.List(fields.String())


class OrderSchema(Schema):
    """The order as `GET /orders/{id}` serves it; a pull's `data` is this minus hidden fields."""

    id = fields.UUID(dump_only=True)
    number = fields.String(dump_only=True)
    source = fields.String()
    kind = fields.String()
    priority = fields.String()
    title = fields.String()
    description = fields.String()
    customer = fields.Method("_customer")
    address = fields.String()
    location = fields.Method("_location")
    asset_ref = fields.String(allow_none=True)
    required_skills = fields.List(fields.String())
    sla = fields.Method("_sla")
    status = fields.String()
    assignment = fields.Method("_assignment")
    arrival = fields.Dict(allow_none=True)
    cause = fields.Dict(allow_none=True)
    eta = fields.Dict(allow_none=True)
    completion = fields.Dict(allow_none=True)
    notes = fields.List(fields.Dict())
    media = fields.List(fields.Dict())
    needs_review = fields.Boolean()
    cancel_reason = fields.String(allow_none=True)
    reopen_count = fields.Integer()
    version = fields.Integer()
    created_at = UtcDateTime()
    updated_at = UtcDateTime()

    @staticmethod
    def _customer(order) -> dict[str, Any]:
        return {
            "name": order.customer_name,
            "phone": order.customer_phone,
            "account": order.customer_account,
        }

    @staticmethod
    def _location(order) -> dict[str, float] | None:
        if order.lat is None or order.lon is None:
            return None
        return {"lat": order.lat, "lon": order.lon}

    @staticmethod
    def _sla(order) -> dict[str, Any]:
        return _sla_schema.dump(
            {"arrive_by": order.sla_arrive_by, "complete_by": order.sla_complete_by}
        )

    @staticmethod
    def _assignment(order) -> dict[str, Any]:
        return {
            "team_id": str(order.team_id) if order.team_id else None,
            "user_ids": list(order.user_ids or []),
        }


order_schema = OrderSchema()


def _time(value) -> str | None:
    return to_rfc3339(value) if value is not None else None


#: The `Order` attributes `order_document` reads: a query for documents may load only these
#: (the pull does; a test pins the list to the function).
DOCUMENT_COLUMNS = (
    "id", "number", "source", "kind", "priority", "title", "description", "customer_name",
    "customer_phone", "customer_account", "address", "lat", "lon", "asset_ref",
    "required_skills", "sla_arrive_by", "sla_complete_by", "status", "team_id", "user_ids",
    "arrival", "cause", "eta", "completion", "notes", "media", "needs_review", "cancel_reason",
    "reopen_count", "version", "created_at", "updated_at",
)


def order_document(order) -> dict[str, Any]:
    """Exactly `order_schema.dump(order)`, written out by hand for the pull's hot path (a test
    pins the two together): marshmallow costs more than the rest of a snapshot page. `order`
    is an `Order` or any row with the `DOCUMENT_COLUMNS`."""
    return {
        "id": str(order.id),
        "number": order.number,
        "source": order.source,
        "kind": order.kind,
        "priority": order.priority,
        "title": order.title,
        "description": order.description,
        "customer": OrderSchema._customer(order),
        "address": order.address,
        "location": OrderSchema._location(order),
        "asset_ref": order.asset_ref,
        "required_skills": list(order.required_skills or []),
        "sla": {"arrive_by": _time(order.sla_arrive_by),
                "complete_by": _time(order.sla_complete_by)},
        "status": order.status,
        "assignment": OrderSchema._assignment(order),
        "arrival": order.arrival,
        "cause": order.cause,
        "eta": order.eta,
        "completion": order.completion,
        "notes": list(order.notes or []),
        "media": list(order.media or []),
        "needs_review": order.needs_review,
        "cancel_reason": order.cancel_reason,
        "reopen_count": order.reopen_count,
        "version": order.version,
        "created_at": _time(order.created_at),
        "updated_at": _time(order.updated_at),
    }


def crew_view(order) -> dict[str, Any]:
    """The order as a crew sees it: the customer's phone only until the work is completed."""
    data = order_document(order)
    if order.status not in ("assigned", "en_route", "on_site"):
        data["customer"]["phone"] = None
    return data


class CustomerInputSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    phone = fields.String(allow_none=True, validate=validate.Length(max=40))
    account = fields.String(allow_none=True, validate=validate.Length(max=64))


class CustomerPatchSchema(CustomerInputSchema):
    """A partial customer: only the members sent are changed."""

    name = fields.String(validate=validate.Length(min=1, max=200))


class PointSchema(Schema):
    lat = fields.Float(required=True, validate=validate.Range(-90, 90))
    lon = fields.Float(required=True, validate=validate.Range(-180, 180))


class AssignmentInputSchema(Schema):
    """`{team_id, user_ids}` of `POST /orders/{id}/assign` and of a create with an assignment."""

    team_id = fields.UUID(required=True)
    user_ids = fields.List(fields.UUID(), load_default=list)


class OrderDetailsSchema(Schema):
    """The details a dispatcher may edit; every member optional (PATCH semantics)."""

    priority = fields.String(validate=validate.OneOf(PRIORITIES))
    title = fields.String(validate=validate.Length(min=1, max=200))
    description = fields.String(validate=validate.Length(max=20000))
    customer = fields.Nested(CustomerPatchSchema)
    address = fields.String(validate=validate.Length(max=400))
    location = fields.Nested(PointSchema, allow_none=True)
    asset_ref = fields.String(allow_none=True, validate=validate.Length(max=64))
    required_skills = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)), validate=validate.Length(max=50)
    )
    sla = fields.Nested(SlaSchema)


class OrderCreateSchema(OrderDetailsSchema):
    """`POST /orders`: a new order, optionally assigned in the same request."""

    source = fields.String(required=True, validate=validate.OneOf(SOURCES))
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    priority = fields.String(load_default="normal", validate=validate.OneOf(PRIORITIES))
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    customer = fields.Nested(CustomerInputSchema, required=True)
    assignment = fields.Nested(AssignmentInputSchema)


class ReasonSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=400))


class OrderListArgs(PaginationArgs):
    """Filters of `GET /orders`; `status` and `priority` may be repeated."""

    status = fields.List(fields.String(validate=validate.OneOf(STATUSES)))
    team_id = fields.UUID()
    assignee = fields.UUID(metadata={"description": "A crew member's user id."})
    priority = fields.List(fields.String(validate=validate.OneOf(PRIORITIES)))
    overdue = fields.String(
        validate=validate.OneOf((*OVERDUE_KINDS, *OVERDUE_FLAGS)),
        metadata={"description": OVERDUE_DOC},
    )
    updated_since = UtcDateTime(metadata={"description": "Orders updated at or after this time."})
    q = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "Case-insensitive text in the number, title, address or the "
                                 "customer's name, phone or account."},
    )

    @post_load
    def _overdue_flag(self, data, **_kwargs):
        """A flag becomes the filter's bool; a target name stays as it is."""
        if data.get("overdue") in OVERDUE_FLAGS:
            data["overdue"] = OVERDUE_FLAGS[data["overdue"]]
        return data


class OrderListSchema(ListResponse):
    items = fields.List(fields.Nested(OrderSchema))


class AuditActorSchema(Schema):
    user_id = fields.String(allow_none=True)
    device_id = fields.String(allow_none=True)


class AuditEventSchema(Schema):
    """One event as served; its `hash` covers every other member (PROTOCOL.md section 6)."""

    order_id = fields.String()
    seq = fields.Integer()
    at = fields.String()
    event_time = fields.String(allow_none=True)
    actor = fields.Nested(AuditActorSchema)
    source = fields.String()
    action = fields.String()
    changes = fields.Dict()
    mutation_id = fields.String(allow_none=True)
    hlc = fields.String(allow_none=True)
    decision = fields.Dict(allow_none=True)
    media_sha256 = fields.String(allow_none=True)
    details = fields.Dict(allow_none=True)
    prev_hash = fields.String()
    hash = fields.String()


class AuditListSchema(ListResponse):
    items = fields.List(fields.Nested(AuditEventSchema))
