"""Follow-up visit schemas (PROTOCOL.md section 7)."""

from __future__ import annotations

from marshmallow import ValidationError, fields, post_dump, pre_dump, validate, validates_schema

from schemas.base import ListResponse, PaginationArgs, Schema, UtcDateTime
from schemas.orders import OrderSchema
from server.models.dispatch import VISIT_CHANNELS, VISIT_OUTCOMES


class VisitSchema(Schema):
    """A visit as sent and as served. `satisfaction` and `outcome` are required when the customer
    was reached and refused when not."""

    id = fields.UUID(
        required=True, metadata={"description": "Client-generated; the idempotency key."}
    )
    order_id = fields.UUID(dump_only=True)
    agent_id = fields.UUID(dump_only=True)
    contacted_at = UtcDateTime(required=True)
    channel = fields.String(required=True, validate=validate.OneOf(VISIT_CHANNELS))
    reached = fields.Boolean(required=True)
    satisfaction = fields.Integer(allow_none=True, validate=validate.Range(1, 5))
    comment = fields.String(load_default="", validate=validate.Length(max=4000))
    outcome = fields.String(allow_none=True, validate=validate.OneOf(VISIT_OUTCOMES))
    due_at = UtcDateTime(dump_only=True, metadata={"description": "When the follow-up was due."})
    created_at = UtcDateTime(dump_only=True)

    @validates_schema
    def _outcome_when_reached(self, data, **_kwargs):
        errors = {}
        for name in ("satisfaction", "outcome"):
            present = data.get(name) is not None
            if data.get("reached") and not present:
                errors[name] = ["Required when the customer was reached."]
            if data.get("reached") is False and present:
                errors[name] = ["Only when the customer was reached."]
        if errors:
            raise ValidationError(errors)


class VisitListSchema(ListResponse):
    items = fields.List(fields.Nested(VisitSchema))


class PendingArgs(PaginationArgs):
    overdue = fields.Boolean(metadata={"description": "true: only follow-ups past their due time."})


class FollowupSchema(Schema):
    """Where a completed order stands with its follow-up call."""

    completed_at = UtcDateTime(
        attribute="order.completed_at",
        metadata={"description": "When the work was completed on site (clock skew corrected)."},
    )
    due_at = UtcDateTime(metadata={"description": "completed_at + the follow-up delay."})
    overdue = fields.Boolean()
    attempts = fields.Integer(metadata={"description": "Visits since completion (unreached)."})
    last_attempt_at = UtcDateTime(allow_none=True)


_followup_schema = FollowupSchema()


class PendingOrderSchema(OrderSchema):
    """A pending follow-up is the order as staff read it, plus its `followup`. Dumps a
    `server.domain.visits.PendingFollowup`."""

    followup = fields.Nested(FollowupSchema)

    @pre_dump
    def _the_order(self, pending, **_kwargs):
        return pending.order

    @post_dump(pass_original=True)
    def _with_followup(self, data, pending, **_kwargs):
        data["followup"] = _followup_schema.dump(pending)
        return data


class PendingListSchema(ListResponse):
    items = fields.List(fields.Nested(PendingOrderSchema))
