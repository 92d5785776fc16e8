"""Sync schemas: pull arguments and response, the push envelope, each mutation type's data,
push results and the rejections list."""

from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates, validates_schema

from schemas.base import ListResponse, LocationSchema, PaginationArgs, Schema, UtcDateTime
from sync import hlc

MUTATION_TYPES = ("depart", "arrive", "set_cause", "set_eta", "complete", "add_note",
                  "report_location")
RESULT_STATUSES = ("applied", "merged", "duplicate", "rejected")

DIGEST_DESCRIPTION = (
    "On the last page (has_more false): hex (32 digits) of the XOR of the first 16 bytes of "
    "sha256(\"{type}:{id}:{version}\") over every entity in the device's scope as of this "
    "response: each order in scope (type `order`), each media entity of those orders (type "
    "`media`) and each reference list (type `reference`, e.g. `reference:cause_codes:3`). "
    "32 zeros for an empty scope; null on pages with has_more true."
)


#: Order versions are 32-bit integers: a larger base version names none (and an integer wider
#: than 64 bits would not survive the JSON the audit trail is hashed over).
MAX_VERSION = 2**31 - 1


class PullArgs(Schema):
    OPAQUE_FIELDS = frozenset({"cursor"})
    cursor = fields.String(load_default=None, metadata={
        "description": "Opaque cursor from the previous response; none for a full snapshot."})
    limit = fields.Integer(load_default=500, validate=validate.Range(1, 1000), metadata={
        "description": "Changes per page. A snapshot page goes over it only when it holds a "
                       "single order whose media do (an order and its media travel together); "
                       "a delta counts entities, and an order entering the scope brings its "
                       "media along."})


class ChangeSchema(Schema):
    type = fields.String(validate=validate.OneOf(("order", "media", "reference")))
    op = fields.String(validate=validate.OneOf(("upsert", "remove")))
    id = fields.String()
    version = fields.Integer()
    order_id = fields.String()
    reason = fields.String(metadata={"description": "unassigned, cancelled, closed or expired"})
    data = fields.Dict()


class PullResponse(Schema):
    cursor = fields.String()
    has_more = fields.Boolean()
    remaining = fields.Integer(metadata={
        "description": "Changes still to pull after this page (exact or a close upper bound)."})
    scope_digest = fields.String(allow_none=True, metadata={"description": DIGEST_DESCRIPTION})
    server_time = UtcDateTime()
    changes = fields.List(fields.Nested(ChangeSchema))


class HlcField(fields.String):
    """`<wall ms, 13 digits>-<counter, 4 hex>-<device id>`."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            hlc.parse(text)
        except ValueError as error:
            raise ValidationError(str(error)) from error
        return text


class MutationSchema(Schema):
    """One mutation's envelope; `data` is checked by the schema of its `type`."""

    id = fields.UUID(required=True)
    order_id = fields.UUID(allow_none=True, load_default=None)
    type = fields.String(required=True, validate=validate.OneOf(MUTATION_TYPES))
    hlc = HlcField(required=True)
    at = UtcDateTime(required=True)
    base_version = fields.Integer(allow_none=True, load_default=None,
                                  validate=validate.Range(0, MAX_VERSION))
    data = fields.Dict(required=True)

    @validates_schema
    def _order_needed(self, data, **kwargs) -> None:
        if data.get("type") != "report_location" and data.get("order_id") is None:
            raise ValidationError("Required for this mutation type.", "order_id")


class DepartData(Schema):
    departed_at = UtcDateTime(required=True)


class ArriveData(Schema):
    arrived_at = UtcDateTime(required=True)
    location = fields.Nested(LocationSchema, required=True)


class SetCauseData(Schema):
    cause_code = fields.String(required=True, validate=validate.Length(1, 64))
    cause_text = fields.String(allow_none=True, load_default=None,
                               validate=validate.Length(max=4000))


class SetEtaData(Schema):
    eta = UtcDateTime(required=True)


class CompleteData(Schema):
    completed_at = UtcDateTime(required=True)
    resolution_code = fields.String(required=True, validate=validate.Length(1, 64))
    resolution_text = fields.String(allow_none=True, load_default=None,
                                    validate=validate.Length(max=4000))
    signature_media_id = fields.UUID(allow_none=True, load_default=None)


class AddNoteData(Schema):
    id = fields.UUID(load_default=None, metadata={"description": "Client note id (defaults to "
                                                                 "the mutation id)."})
    text = fields.String(required=True, validate=validate.Length(1, 4000))

    @validates("text")
    def _not_blank(self, value: str, **kwargs) -> None:
        if not value.strip():
            raise ValidationError("A note needs some text.")


class ReportLocationData(Schema):
    location = fields.Nested(LocationSchema, required=True)
    at = UtcDateTime(required=True)


DATA_SCHEMAS = {
    "depart": DepartData(),
    "arrive": ArriveData(),
    "set_cause": SetCauseData(),
    "set_eta": SetEtaData(),
    "complete": CompleteData(),
    "add_note": AddNoteData(),
    "report_location": ReportLocationData(),
}
MUTATION_SCHEMA = MutationSchema()


class PushRequest(Schema):
    #: Each mutation is judged on its own (sync.push), a NUL in one included: it is rejected
    #: and kept, and the others apply.
    OPAQUE_FIELDS = frozenset({"mutations"})
    # allow_none: a null is rejected on its own like any other mutation that is not an object.
    mutations = fields.List(fields.Raw(allow_none=True), required=True, metadata={
        "description": "Mutations applied in order, each on its own. Each is "
                       "{id, order_id, type, hlc, at, base_version, data}; `data` per type: "
                       "depart {departed_at}; arrive {arrived_at, location}; set_cause "
                       "{cause_code, cause_text}; set_eta {eta}; complete {completed_at, "
                       "resolution_code, resolution_text, signature_media_id?}; add_note "
                       "{id?, text}; report_location {location, at} (no order_id). A mutation "
                       "that does not validate is rejected on its own (validation_error)."})


class MutationResult(Schema):
    id = fields.String(allow_none=True)
    status = fields.String(validate=validate.OneOf(RESULT_STATUSES))
    code = fields.String(allow_none=True)
    detail = fields.String(allow_none=True)
    errors = fields.Dict(allow_none=True)
    order_version = fields.Integer(allow_none=True)
    original_status = fields.String(allow_none=True, metadata={
        "description": "For a duplicate: the status the mutation got the first time."})


class PushResponse(Schema):
    results = fields.List(fields.Nested(MutationResult))
    server_time = UtcDateTime()


class RejectionArgs(PaginationArgs):
    device_id = fields.UUID(load_default=None)
    order_id = fields.UUID(load_default=None)
    code = fields.String(load_default=None)


class RejectionSchema(Schema):
    id = fields.UUID()
    mutation_id = fields.UUID(allow_none=True)
    device_id = fields.UUID()
    user_id = fields.UUID(allow_none=True)
    order_id = fields.UUID(allow_none=True)
    mutation_type = fields.String(allow_none=True)
    code = fields.String()
    detail = fields.String(allow_none=True)
    errors = fields.Dict(allow_none=True)
    payload = fields.Raw()
    created_at = UtcDateTime()


class RejectionList(ListResponse):
    items = fields.List(fields.Nested(RejectionSchema))
