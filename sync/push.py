"""Applying a pushed batch: each mutation on its own, exactly once, merged field by field.

A mutation's id is its idempotency key: the outcome is stored in `processed_mutations` in the
same transaction as the effect, so a retry after a lost response answers `duplicate` with the
first outcome, and the same id with other content is `mutation_id_reused`.

The batch is validated before the first statement. Its orders are then locked with one
`SELECT ... FOR UPDATE` (in id order, so two batches cannot deadlock) and its mutation ids are
claimed: a placeholder outcome is inserted for each id not answered before (`INSERT ... ON
CONFLICT DO NOTHING`, in id order). A request racing with the same ids (a retry after a lost
response) waits at the claim until this one commits, then finds them taken and answers
`duplicate` with the stored outcomes; so no unique violation can abort the transaction and no
savepoint is needed. Every mutation is merged in memory, nothing is written before a mutation
is known to apply, and the batch is written at the end (`sync/batch_writes.py`), the claimed
outcomes with it. On PostgreSQL the lock and the claim are one statement, and the write
another, which also publishes the batch's change-feed entries.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

from marshmallow import ValidationError
from sqlalchemy import CursorResult, bindparam, select, update
from sqlalchemy.orm import Session

from media.signatures import signature_reference
from schemas.base import without_nul
from schemas.mutation_fast_path import load_mutation
from schemas.sync import DATA_SCHEMAS, MUTATION_SCHEMA
from server.domain.audit import Actor
from server.domain.devices import last_sync_is_stale
from server.domain.history import record_order_change
from server.domain.scope import ever_assigned_to, foreign_work_kind
from server.json_provider import to_rfc3339
from server.models.orders import Order
from server.models.people import Device
from server.models.sync import MutationRejection, ProcessedMutation
from server.plain_json import canonical_json, jsonable
from sync import hlc, merge
from sync.batch_writes import BatchRows, LockedOrder, lock_and_claim
from sync.review import record_conflict

#: Order columns the merge sets, and those a crew sees change (a version bump).
MERGED_COLUMNS = ("arrival", "cause", "eta", "completion", "notes", "status", "needs_review",
                  "arrived_at", "completed_at")
#: The device's own time of the event each mutation type reports.
EVENT_TIME_FIELDS = {"depart": "departed_at", "arrive": "arrived_at", "complete": "completed_at",
                     "report_location": "at"}
#: A skew this small is network latency, not a wrong clock.
SKEW_TOLERANCE_MS = 1000
#: Only a mutation made this recently says anything about a clock running slow.
FRESH_MUTATION_MS = 120_000


class Rejected(Exception):
    """A mutation that cannot be applied: it is kept as rejected (raised before it changed
    anything)."""

    def __init__(self, code: str, detail: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.code, self.detail, self.errors = code, detail, errors


#: Built once (its compiled form is cached by SQLAlchemy).
_ANSWERED = select(*ProcessedMutation.__table__.c).where(
    ProcessedMutation.id.in_(bindparam("ids", expanding=True)))


@dataclass
class PushContext:
    """Who pushes, and the server's clock for this request."""

    device_id: uuid.UUID
    user_id: uuid.UUID
    team_id: uuid.UUID | None
    now: dt.datetime
    skew_bound_ms: int
    #: The device's skew as stored before this push (read with the device token).
    stored_skew_ms: int | None = None
    #: When the device last synced, as stored before this push (read with the device token).
    stored_last_sync_at: dt.datetime | None = None
    clock: hlc.Clock = field(init=False)
    skew_ms: int = 0
    #: The merge rule that decided each merged mutation (for the metrics).
    rules: list[str] = field(default_factory=list)
    #: Outcomes already stored for the batch's mutation ids (read once, then kept up to date).
    earlier: dict[uuid.UUID, Any] = field(default_factory=dict)
    #: What the batch writes, sent at its end.
    rows: BatchRows = field(default_factory=BatchRows)
    #: The batch's orders, locked and read once for all its mutations.
    locked: dict[uuid.UUID, LockedOrder] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.clock = hlc.Clock(_ms(self.now))

    @property
    def actor(self) -> Actor:
        return Actor(user_id=self.user_id, device_id=self.device_id)


@dataclass
class Outcome:
    status: str
    code: str | None = None
    detail: str | None = None
    order_version: int | None = None
    errors: dict[str, Any] | None = None
    original_status: str | None = None

    def as_result(self, mutation_id: Any) -> dict[str, Any]:
        result: dict[str, Any] = {
            "id": None if mutation_id is None else str(mutation_id), "status": self.status,
            "code": self.code, "detail": self.detail, "order_version": self.order_version}
        if self.errors:
            result["errors"] = self.errors
        if self.original_status:
            result["original_status"] = self.original_status
        return result


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def content_hash(raw: Any) -> str:
    """sha256 of the mutation as sent, canonical JSON (key order and spacing do not matter).

    The text is `json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`,
    as outcomes stored earlier were hashed: `canonical_json` writes the same text, several times
    faster.
    """
    return hashlib.sha256(canonical_json(raw).encode("utf-8")).hexdigest()


@dataclass
class Checked:
    """A mutation as received, its id and content hash, and its validated form or rejection."""

    raw: Any
    id: uuid.UUID | None
    digest: str
    mutation: dict[str, Any] | None = None
    rejection: Rejected | None = None


def _check(raw: Any) -> Checked:
    """Everything about a mutation that needs no database (done before any lock is taken)."""
    checked = Checked(raw, _parse_id(raw), content_hash(raw))
    try:
        checked.mutation = _validate(raw)
    except Rejected as rejection:
        checked.rejection = rejection
    return checked


def apply_batch(session: Session, context: PushContext, mutations: list[Any]) -> list[dict]:
    """Apply `mutations` in order; one result per mutation, in the same order.

    They are validated first, so SQLite's write lock and PostgreSQL's row locks are held only
    while the batch is applied.
    """
    batch = [_check(raw) for raw in mutations]
    context.skew_ms = _measure_skew(mutations, context)
    return _apply_all(session, context, batch)


def _apply_all(session: Session, context: PushContext, batch: list[Checked]) -> list[dict]:
    """Lock the batch's orders, claim its mutation ids (reading the outcomes of those answered
    before), apply the rest."""
    claimed = _lock_and_claim(session, context, batch)
    results = [_apply_one(session, context, item).as_result(_raw_id(item.raw))
               for item in batch]
    if claimed != {row["id"] for row in context.rows.processed}:
        raise RuntimeError("a claimed mutation id was left without an outcome")
    device_changes = _device_changes(context)
    if device_changes:
        # Before the write, which takes the feed lock: every writer locks orders, then the
        # device row, then the feed, so two of them cannot deadlock.
        session.execute(update(Device).where(Device.id == context.device_id)
                        .values(device_changes))
    context.rows.write(session)
    return results


def _device_changes(context: PushContext) -> dict[str, Any]:
    """What this push records on the device row: a new clock skew, and the sync itself when
    the last one recorded is stale (a device that only pushes shows when it last synced)."""
    changes: dict[str, Any] = {}
    if (context.stored_skew_ms or 0) != context.skew_ms:
        changes["clock_skew_ms"] = context.skew_ms
    if last_sync_is_stale(context.stored_last_sync_at, context.now):
        changes["last_sync_at"] = context.now
    return changes


def _lock_and_claim(session: Session, context: PushContext, batch: list[Checked]
                    ) -> set[uuid.UUID]:
    """Lock every order the batch's valid mutations name, then claim the batch's mutation ids
    (each in id order); read the stored outcome of those answered before."""
    order_ids = sorted({item.mutation["order_id"] for item in batch if item.mutation
                        and item.mutation.get("order_id") is not None})
    first: dict[uuid.UUID, Checked] = {}
    for item in batch:
        if item.id is not None:
            first.setdefault(item.id, item)
    context.locked, claimed = lock_and_claim(session, order_ids, [
        {"id": mutation_id, "device_id": context.device_id, "content_hash": item.digest,
         "status": "pending", "processed_at": context.now}
        for mutation_id, item in sorted(first.items())])
    answered = [mutation_id for mutation_id in first if mutation_id not in claimed]
    if answered:
        context.earlier = {row.id: row for row in session.execute(_ANSWERED, {"ids": answered})}
    return claimed


def _raw_id(raw: Any) -> Any:
    return raw.get("id") if isinstance(raw, dict) else None


def _device_time_ms(raw: Any) -> int | None:
    """The newest device clock reading a mutation carries (`at` and the HLC wall time)."""
    if not isinstance(raw, dict):
        return None
    readings = []
    try:
        readings.append(hlc.wall_ms(raw.get("hlc")))
    except ValueError:
        pass
    try:
        at = dt.datetime.fromisoformat(str(raw.get("at")).replace("Z", "+00:00"))
        if at.tzinfo is not None:
            readings.append(_ms(at))
    except ValueError:
        pass
    return max(readings) if readings else None


def _measure_skew(mutations: list[Any], context: PushContext) -> int:
    """Device clock minus server clock, from the freshest reading in the batch.

    A reading ahead of the server proves a fast clock. One behind it cannot be told apart from
    a mutation made offline earlier, so a recent one only says the clock is not fast (0) and an
    old one says nothing (the previous measurement stays).
    """
    previous = context.stored_skew_ms or 0
    readings = [ms for ms in (_device_time_ms(raw) for raw in mutations) if ms is not None]
    if not readings:
        return previous
    observed = max(readings) - _ms(context.now)
    if observed > SKEW_TOLERANCE_MS:
        return observed
    if observed >= -FRESH_MUTATION_MS:
        return 0
    return previous


def _corrected(context: PushContext, moment: dt.datetime) -> dt.datetime:
    """A device's event time on the server's clock (the device's measured skew removed)."""
    if abs(context.skew_ms) <= SKEW_TOLERANCE_MS:
        return moment
    return moment - dt.timedelta(milliseconds=context.skew_ms)


def _apply_one(session: Session, context: PushContext, item: Checked) -> Outcome:
    # `_check` sets either `mutation` or `rejection`: past the rejection below, it is set.
    raw, mutation_id, digest = item.raw, item.id, item.digest
    mutation = cast("dict[str, Any]", item.mutation)
    earlier = context.earlier.get(mutation_id) if mutation_id is not None else None
    if earlier is not None:
        return _replay(session, context, raw, earlier, digest)
    if item.rejection is not None:
        return _reject(session, context, raw, mutation_id, digest, item.rejection)

    try:
        outcome = _apply_valid(session, context, mutation, raw)
    except Rejected as rejection:  # raised before anything of the mutation was changed
        return _reject(session, context, raw, mutation_id, digest, rejection)
    _store_outcome(session, context, mutation_id, digest, mutation.get("order_id"), outcome)
    return outcome


def _store_outcome(session: Session, context: PushContext, mutation_id: uuid.UUID | None,
                   digest: str, order_id: uuid.UUID | None, outcome: Outcome) -> None:
    """Fill in the claimed outcome; a later copy of the id in the batch is a duplicate."""
    if mutation_id is None:
        return
    row = {"id": mutation_id, "device_id": context.device_id, "content_hash": digest,
           "order_id": order_id, "status": outcome.status, "code": outcome.code,
           "detail": outcome.detail, "order_version": outcome.order_version,
           "processed_at": context.now}
    context.rows.processed.append(row)
    context.earlier[mutation_id] = SimpleNamespace(**row)


def _parse_id(raw: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(raw["id"]))
    except (TypeError, KeyError, ValueError, AttributeError):
        return None


def _validate(raw: Any) -> dict[str, Any]:
    """The envelope, then the data of its type; every field error at once (marshmallow words
    them; the usual valid mutation takes the fast path)."""
    if not isinstance(raw, dict):
        raise Rejected("validation_error", "A mutation must be a JSON object.",
                       {"_schema": ["Not an object."]})
    mutation = load_mutation(raw)
    if mutation is not None:
        return mutation
    try:
        mutation = MUTATION_SCHEMA.load(raw)
    except ValidationError as error:
        raise Rejected("validation_error", "The mutation has invalid fields.",
                       error.normalized_messages()) from error
    try:
        mutation["data"] = DATA_SCHEMAS[mutation["type"]].load(mutation["data"])
    except ValidationError as error:
        raise Rejected("validation_error", "The mutation's data has invalid fields.",
                       {"data": error.normalized_messages()}) from error
    return mutation


def _replay(session: Session, context: PushContext, raw: Any, earlier: Any,
            digest: str) -> Outcome:
    """Answer a mutation id seen before (`earlier` has the columns of `processed_mutations`)."""
    if earlier.content_hash != digest or earlier.device_id != context.device_id:
        rejection = Rejected("mutation_id_reused",
                             "This mutation id was already used for another mutation.")
        _store_rejection(session, context, raw, earlier.id, rejection)
        return Outcome("rejected", rejection.code, rejection.detail)
    return Outcome("duplicate", earlier.code, earlier.detail, earlier.order_version,
                   original_status=earlier.status)


def _reject(session: Session, context: PushContext, raw: Any, mutation_id: uuid.UUID | None,
            digest: str, rejection: Rejected) -> Outcome:
    """Keep the rejected mutation (and, when it has an id, its outcome for replays)."""
    outcome = Outcome("rejected", rejection.code, rejection.detail, errors=rejection.errors)
    _store_rejection(session, context, raw, mutation_id, rejection)
    order_id = _parse_uuid(raw.get("order_id")) if isinstance(raw, dict) else None
    _store_outcome(session, context, mutation_id, digest, order_id, outcome)
    return outcome


def _parse_uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value is not None else None
    except ValueError:
        return None


def _store_rejection(session: Session, context: PushContext, raw: Any,
                     mutation_id: uuid.UUID | None, rejection: Rejected) -> None:
    is_object = isinstance(raw, dict)
    mutation_type = raw.get("type") if is_object else None
    # without_nul: PostgreSQL keeps no NUL in text or JSON, and a NUL is a reason to reject.
    session.add(MutationRejection(
        mutation_id=mutation_id, device_id=context.device_id, user_id=context.user_id,
        order_id=_parse_uuid(raw.get("order_id")) if is_object else None,
        mutation_type=without_nul(str(mutation_type))[:32] if mutation_type else None,
        code=rejection.code, detail=rejection.detail, errors=without_nul(rejection.errors),
        payload=without_nul(jsonable(raw) if is_object else {"value": jsonable(raw)}),
        created_at=context.now,
    ))


def _apply_valid(session: Session, context: PushContext, mutation: dict[str, Any],
                 raw: dict[str, Any]) -> Outcome:
    stamp, bounded = context.clock.receive(hlc.parse(mutation["hlc"]), _ms(context.now),
                                           context.skew_bound_ms)
    if mutation["type"] == "report_location":
        return _report_location(session, context, mutation)
    return _merge_into_order(session, context, mutation, raw, str(stamp), bounded)


def _report_location(session: Session, context: PushContext, mutation: dict[str, Any]) -> Outcome:
    """Keep the newest position by its `at` (an older report changes nothing: merged)."""
    at = _corrected(context, mutation["data"]["at"])
    location = jsonable(mutation["data"]["location"])
    changed = cast("CursorResult[Any]", session.execute(
        update(Device)
        .where(Device.id == context.device_id,
               (Device.last_location_at.is_(None)) | (Device.last_location_at < at))
        .values(last_location=location, last_location_at=at)
        .execution_options(synchronize_session=False)
    )).rowcount
    if changed:
        return Outcome("applied")
    return Outcome("merged", detail="A newer location of this device is already stored.")


def _locked_order(context: PushContext, order_id: uuid.UUID) -> LockedOrder:
    """The order, as the batch's lock read it (every valid mutation's order is locked up
    front, so one missing here does not exist)."""
    order = context.locked.get(order_id)
    if order is None:
        raise Rejected("order_not_found", "No such order.")
    return order


def _merge_into_order(session: Session, context: PushContext, mutation: dict[str, Any],
                      raw: dict[str, Any], stamp: str, bounded: bool) -> Outcome:
    order = _locked_order(context, mutation["order_id"])
    if not ever_assigned_to(session, order, context.team_id):
        raise Rejected("not_in_scope", "This order was never assigned to this device's team.")
    foreign = foreign_work_kind(order, context.team_id)
    state = merge.state_from_field_state(order.field_state or {}, order.status,
                                         order.needs_review, order.notes or [])
    event_field = EVENT_TIME_FIELDS.get(mutation["type"])
    event_time = mutation["data"][event_field] if event_field else mutation["at"]
    plain = {
        "id": str(mutation["id"]), "type": mutation["type"], "hlc": stamp,
        "at": to_rfc3339(mutation["at"]), "device_id": str(context.device_id),
        "data": jsonable(mutation["data"]),
        "corrected_at": to_rfc3339(_corrected(context, event_time)),
        "foreign": foreign is not None,
    }
    new_state, decision = merge.apply(state, plain)
    if foreign:
        new_state["needs_review"] = True

    before = {name: getattr(order, name) for name in MERGED_COLUMNS}
    write_merged_columns(session, order, merge.project(new_state))
    order.field_state = merge.field_state_from_state(order.field_state or {}, new_state)
    changes = {name: [before[name], getattr(order, name)] for name in MERGED_COLUMNS
               if before[name] != getattr(order, name)}
    if bounded:
        decision["hlc_sent"] = mutation["hlc"]
    if foreign:
        decision["foreign"] = foreign
    record_order_change(
        session, order, action=mutation["type"], source="device", actor=context.actor,
        changes=changes, mutation_id=mutation["id"], hlc=stamp, decision=decision,
        event_time=event_time, bump_version=bool(changes), into=context.rows.audit,
        details={"base_version": mutation.get("base_version"), "skew_ms": context.skew_ms}
        if mutation.get("base_version") is not None or context.skew_ms else None,
    )
    _record_conflicts(session, context, order, new_state, decision, raw, foreign)
    context.rows.orders[order.id] = order
    context.rules.append(decision["rule"])
    status = decision["outcome"]
    detail = None if status == "applied" else _merge_detail(decision)
    return Outcome(status, None, detail, order.version)


def _parse_time(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def write_merged_columns(session: Session, order: Order | LockedOrder,
                         view: dict[str, Any]) -> None:
    """Project the merge state onto the order's columns, keeping a landed signature's link."""
    order.arrival = view["arrival"]
    order.cause = view["cause"]
    order.eta = view["eta"]
    completion = view["completion"]
    if completion and completion.get("signature_media_id"):
        link = signature_reference(session, completion["signature_media_id"])
        if link:
            completion = {**completion, "signature": link}
    order.completion = completion
    order.notes = view["notes"]
    order.status = view["status"]
    order.needs_review = view["needs_review"]
    order.arrived_at = _parse_time(view["arrived_at"])
    order.completed_at = _parse_time(view["completed_at"])


def _merge_detail(decision: dict[str, Any]) -> str:
    if decision.get("foreign"):
        return (f"Stored for review ({decision['foreign']}): the order changed hands while the "
                "crew was offline.")
    if decision["rule"] == "stamped_before_reopen":
        return "Stamped before the order was reopened: kept in the audit trail only."
    return f"{decision['rule']}: the order keeps mutation {decision.get('winner')}."


def _record_conflicts(session: Session, context: PushContext, order: LockedOrder, state: dict,
                      decision: dict[str, Any], raw: dict[str, Any], foreign: str | None) -> None:
    """One conflict row per losing completion with other content, and per foreign mutation."""
    mutation_id = uuid.UUID(str(raw["id"]))
    rows = []
    for loser in decision["conflicts"]:
        completion = state["completions"][loser]
        payload = raw if loser == str(mutation_id) else {
            "id": loser, "type": "complete", "order_id": str(order.id),
            "hlc": completion["hlc"], "data": completion,
        }
        rows.append(("second_completion", uuid.UUID(loser),
                     _parse_uuid(completion.get("device_id")), payload,
                     {"winner": decision.get("winner"), "loser": loser}))
    if foreign:
        rows.append((foreign, mutation_id, context.device_id, raw, {
            "order_status": order.status, "order_team_id": order.team_id,
            "device_team_id": context.team_id}))
    for kind, loser_id, device_id, payload, details in rows:
        record_conflict(session, order, kind=kind, item_id=loser_id, device_id=device_id,
                        payload=payload, details=details, now=context.now)
