"""Work order schemas: the order as served (staff and, with field visibility, crews)."""

from __future__ import annotations

from typing import Any

from marshmallow import fields

from schemas.base import Schema, UtcDateTime


class CustomerSchema(Schema):
    name = fields.String()
    phone = fields.String(allow_none=True)
    account = fields.String(allow_none=True)


class SlaSchema(Schema):
    arrive_by = UtcDateTime(allow_none=True)
    complete_by = UtcDateTime(allow_none=True)


class AssignmentSchema(Schema):
    team_id = fields.UUID(allow_none=True)
    user_ids = fields.List(fields.String())


class OrderSchema(Schema):
    """The order as `GET /orders/{id}` serves it; the pull's `data` is the same minus hidden fields."""

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
        return SlaSchema().dump(
            {"arrive_by": order.sla_arrive_by, "complete_by": order.sla_complete_by}
        )

    @staticmethod
    def _assignment(order) -> dict[str, Any]:
        return {
            "team_id": str(order.team_id) if order.team_id else None,
            "user_ids": list(order.user_ids or []),
        }


order_schema = OrderSchema()


def crew_view(order) -> dict[str, Any]:
    """The order as a crew sees it: the customer's phone only until the work is completed."""
    data = order_schema.dump(order)
    if order.status not in ("assigned", "en_route", "on_site"):
        data["customer"]["phone"] = None
    return data
