"""Conflict schemas: what the merge flagged for review, and a dispatcher's resolution."""

from __future__ import annotations

from marshmallow import fields, validate

from schemas.base import ListResponse, PaginationArgs, Schema, UtcDateTime
from sync.conflicts import RESOLUTIONS

KINDS = ("second_completion", "work_after_reassignment", "work_after_cancellation")


class ConflictSchema(Schema):
    id = fields.UUID()
    order_id = fields.UUID()
    kind = fields.String(validate=validate.OneOf(KINDS))
    mutation_id = fields.UUID(allow_none=True)
    device_id = fields.UUID(allow_none=True)
    mutation = fields.Dict(metadata={"description": "The mutation as the tablet sent it (for a "
                                                    "second completion: the losing one)."})
    details = fields.Dict(allow_none=True)
    created_at = UtcDateTime()
    resolved_at = UtcDateTime(allow_none=True)
    resolved_by = fields.UUID(allow_none=True)
    resolution = fields.String(allow_none=True)
    comment = fields.String(allow_none=True)


class ConflictList(ListResponse):
    items = fields.List(fields.Nested(ConflictSchema))


class ConflictListArgs(PaginationArgs):
    open = fields.Boolean(load_default=None, metadata={
        "description": "true: only unresolved; false: only resolved; absent: all."})


class ResolveSchema(Schema):
    resolution = fields.String(required=True, validate=validate.OneOf(RESOLUTIONS), metadata={
        "description": "keep_current keeps the order as it is; accept_mutation makes a losing "
                       "second completion the order's completion."})
    comment = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=4000))
