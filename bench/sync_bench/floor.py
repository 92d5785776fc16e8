"""The floor of each figure: the same database reads and writes done in-process with SQLAlchemy
Core and orjson, no HTTP, no Flask, no schema layer. Server time / floor time is the overhead."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import multiprocessing
import time
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    Column,
    Engine,
    MetaData,
    String,
    Table,
    bindparam,
    case,
    insert,
    or_,
    select,
    text,
    update,
)

from bench.sync_bench.device import rfc3339, scope_digest
from server import json_columns
from server.db import make_engine
from server.domain.scope import COMPLETED_RETENTION, scope_condition
from server.models.audit import AuditEvent
from server.models.base import UTCDateTime, utcnow
from server.models.feed import ChangeLog, FeedState
from server.models.orders import PRIORITY_RANK, Order
from sync import digest_query
from sync.batch_writes import insert_from_json, update_from_json
from sync.digest import DIGEST_BYTES
from sync.feed import INSERT_ENTRIES_PG, TAKE_POSITIONS_PG
from sync.pull import SCOPE_DIGEST_PG

orders = Order.__table__
MUTATION_LOG = Table(
    "bench_floor_mutations", MetaData(),
    Column("id", String(36), primary_key=True),
    Column("device_id", String(36), nullable=False),
    Column("order_id", String(36), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("result", JSON, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
)
HIDDEN_COLUMNS = ("field_state", "audit_seq", "audit_head")
ORDER_COLUMNS = [c for c in orders.columns if c.name not in HIDDEN_COLUMNS]
URGENCY = (case(PRIORITY_RANK, value=orders.c.priority, else_=9), orders.c.sla_arrive_by)


def _begin_write(engine: Engine):
    """A write transaction as the app opens it (BEGIN IMMEDIATE on SQLite)."""
    return engine.connect().execution_options(sqlite_begin="IMMEDIATE")


def _order_json(row: Any) -> dict[str, Any]:
    data = dict(row._mapping)
    return {
        "id": str(data["id"]), "number": data["number"], "source": data["source"],
        "kind": data["kind"], "priority": data["priority"], "title": data["title"],
        "description": data["description"],
        "customer": {"name": data["customer_name"], "phone": data["customer_phone"],
                     "account": data["customer_account"]},
        "address": data["address"], "location": {"lat": data["lat"], "lon": data["lon"]},
        "asset_ref": data["asset_ref"], "required_skills": data["required_skills"],
        "sla": {"arrive_by": data["sla_arrive_by"], "complete_by": data["sla_complete_by"]},
        "status": data["status"],
        "assignment": {"team_id": str(data["team_id"]), "user_ids": data["user_ids"]},
        "arrival": data["arrival"], "cause": data["cause"], "eta": data["eta"],
        "completion": data["completion"], "notes": data["notes"], "media": data["media"],
        "needs_review": data["needs_review"], "cancel_reason": data["cancel_reason"],
        "reopen_count": data["reopen_count"], "version": data["version"],
        "created_at": data["created_at"], "updated_at": data["updated_at"],
    }


def _digest(conn, team_id: uuid.UUID) -> str:
    """The scope digest, read as the server reads it for a delta (one row on PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        summary = digest_query.summary_of(*conn.execute(SCOPE_DIGEST_PG, {
            "team_id": team_id, "completed_since": utcnow() - COMPLETED_RETENTION}).one())
        return summary.value.to_bytes(DIGEST_BYTES, "big").hex()
    rows = conn.execute(select(orders.c.id, orders.c.version).where(scope_condition(team_id)))
    return scope_digest({("order", str(i)): v for i, v in rows})


def initial_sync(engine: Engine, team_id: uuid.UUID) -> bytes:
    """A: select the crew's scope, most urgent first, as JSON with its digest."""
    with engine.connect() as conn:
        rows = conn.execute(select(*ORDER_COLUMNS).where(scope_condition(team_id))
                            .order_by(*URGENCY).limit(501)).all()
        changes = [{"type": "order", "op": "upsert", "id": str(r.id), "version": r.version,
                    "data": _order_json(r)} for r in rows]
        digest = scope_digest({("order", c["id"]): c["version"] for c in changes})
    return orjson.dumps({"cursor": "0", "has_more": False, "remaining": 0,
                         "scope_digest": digest, "server_time": utcnow(), "changes": changes})


def delta_pull(engine: Engine, team_id: uuid.UUID, after: int, *,
               digest: bool = True) -> tuple[bytes, int]:
    """B (and the pull half of D): the change-log lookup after a cursor, the changed orders and,
    when something changed, the scope digest (an empty pull reuses the one its cursor carries)."""
    with engine.connect() as conn:
        entries = conn.execute(
            select(ChangeLog.pos, ChangeLog.entity_id).where(
                or_(ChangeLog.team_id == team_id, ChangeLog.prev_team_id == team_id),
                ChangeLog.pos > after,
            ).order_by(ChangeLog.pos).limit(501)
        ).all()
        changes = []
        if entries:
            ids = list(dict.fromkeys(uuid.UUID(e.entity_id) for e in entries))
            rows = conn.execute(select(*ORDER_COLUMNS).where(orders.c.id.in_(ids))).all()
            changes = [{"type": "order", "op": "upsert", "id": str(r.id), "version": r.version,
                        "data": _order_json(r)} for r in rows]
        scope = _digest(conn, team_id) if digest else None
    last = entries[-1].pos if entries else after
    return orjson.dumps({"cursor": str(last), "has_more": False, "remaining": 0,
                         "scope_digest": scope, "server_time": utcnow(), "changes": changes}), last


def _field_update(kind: str, now: dt.datetime) -> dict[str, Any]:
    stamp = rfc3339(now)
    if kind == "arrive":
        return {"arrival": {"arrived_at": stamp, "location": {"lat": 28.68, "lon": 115.86}},
                "arrived_at": now, "status": "on_site"}
    if kind == "set_cause":
        return {"cause": {"code": "cable_fault", "text": "Underground cable joint failed"}}
    if kind == "set_eta":
        return {"eta": {"eta": stamp}}
    return {"completion": {"completed_at": stamp, "resolution_code": "repaired"},
            "completed_at": now, "status": "completed"}


#: What the floor's push changes in an order, and the statement that writes a batch on
#: PostgreSQL the way the server does (rows as JSON arrays, one round trip).
FLOOR_ORDER_COLUMNS = ("arrival", "cause", "eta", "completion", "arrived_at", "completed_at",
                       "status", "version", "updated_at", "audit_seq", "audit_head")
FLOOR_AUDIT_COLUMNS = ("order_id", "seq", "at", "source", "action", "changes", "mutation_id",
                       "prev_hash", "hash", "actor_device_id")
_WRITE_PG = text(f"""
WITH audit AS ({insert_from_json("audit_events", FLOOR_AUDIT_COLUMNS, "audit")}),
logged AS ({insert_from_json(MUTATION_LOG.name, tuple(MUTATION_LOG.c.keys()), "logged")}),
written AS ({update_from_json("orders", FLOOR_ORDER_COLUMNS, "orders")}),
{TAKE_POSITIONS_PG} {INSERT_ENTRIES_PG}""")


def push_batch(engine: Engine, device_id: str, order_ids: list[str], kinds: list[str]) -> None:
    """C (and the push half of D), written the way the server writes a batch: lock the batch's
    orders with one query, merge each mutation in memory with its chained audit event, then the
    orders, audit events and mutation log in one statement (one per table on SQLite), feed
    positions under the feed lock and one commit."""
    now = utcnow()
    with _begin_write(engine) as conn, conn.begin():
        ids = sorted({uuid.UUID(order_id) for order_id in order_ids})
        state = {row.id: dict(row._mapping) for row in conn.execute(
            select(orders).where(orders.c.id.in_(ids)).order_by(orders.c.id).with_for_update())}
        events, logged, changed = [], [], {}
        for order_id, kind in zip(order_ids, kinds, strict=True):
            oid = uuid.UUID(order_id)
            row = state[oid]
            values = _field_update(kind, now)
            document = {"order_id": order_id, "seq": row["audit_seq"] + 1, "at": rfc3339(now),
                        "action": kind, "changes": orjson.loads(orjson.dumps(values, default=str)),
                        "prev_hash": row["audit_head"]}
            chained = hashlib.sha256((row["audit_head"] + json.dumps(
                document, sort_keys=True, separators=(",", ":"))).encode()).hexdigest()
            events.append({"order_id": oid, "seq": row["audit_seq"] + 1, "at": now,
                           "source": "device", "action": kind, "changes": document["changes"],
                           "mutation_id": uuid.uuid4(), "prev_hash": row["audit_head"],
                           "hash": chained, "actor_device_id": uuid.UUID(device_id)})
            row.update(values, version=row["version"] + 1, updated_at=now,
                       audit_seq=row["audit_seq"] + 1, audit_head=chained)
            changed[oid] = {"id": oid, **{name: row[name] for name in FLOOR_ORDER_COLUMNS}}
            logged.append({"id": str(uuid.uuid4()), "device_id": device_id, "order_id": order_id,
                           "payload": {"type": kind, "data": document["changes"]},
                           "result": {"status": "applied", "order_version": row["version"]},
                           "at": now})
        _write(conn, list(changed.values()), events, logged,
               _feed_entries([state[oid] for oid in changed]), now)
    orjson.dumps({"results": [{"id": str(uuid.uuid4()), "status": "applied"}] * len(kinds)})


def _feed_entries(rows: list[dict]) -> list[dict]:
    return [{"entity_type": "order", "entity_id": str(row["id"]), "order_id": row["id"],
             "team_id": row["team_id"], "prev_team_id": row["team_id"],
             "version": row["version"]} for row in rows]


def _write(conn, changed: list[dict], events: list[dict], logged: list[dict],
           entries: list[dict], now: dt.datetime) -> None:
    """On PostgreSQL one statement, feed positions and entries included, as the server writes."""
    if conn.dialect.name == "postgresql":
        conn.execute(_WRITE_PG, {
            "audit": json_columns.dumps_rows(events), "logged": json_columns.dumps_rows(logged),
            "orders": json_columns.dumps_rows(changed),
            "orders_ids": [row["id"] for row in changed], "feed_count": len(entries),
            "feed_at": now, "feed_entries": json_columns.dumps_rows(
                [{"number": n, **entry} for n, entry in enumerate(entries, start=1)])})
        return
    conn.execute(update(orders).where(orders.c.id == bindparam("row_id")).values(
        {name: bindparam(name) for name in FLOOR_ORDER_COLUMNS}),
        [{**row, "row_id": row["id"]} for row in changed])
    conn.execute(insert(AuditEvent.__table__), events)
    conn.execute(insert(MUTATION_LOG), logged)
    last = conn.execute(update(FeedState).where(FeedState.id == 1)
                        .values(last_pos=FeedState.last_pos + len(entries))
                        .returning(FeedState.last_pos)).scalar_one()
    first = last - len(entries) + 1
    conn.execute(insert(ChangeLog.__table__),
                 [{**entry, "pos": first + n, "at": now} for n, entry in enumerate(entries)])


@dataclass(frozen=True)
class Crew:
    team_id: str
    device_id: str
    order_ids: list[str]


@dataclass(frozen=True)
class FloorJob:
    """What one floor process loops on for a fixed time (picklable for spawn)."""

    url: str
    op: str
    seconds: float
    crews: list[Crew]
    batch: int = 0


KINDS = ("arrive", "set_cause", "set_eta", "complete")


@dataclass
class FloorResult:
    rate: float
    latencies: list[float]
    cpu_per_op: float


def run_job(job: FloorJob) -> tuple[int, list[float], float]:
    """Loop one floor operation for `job.seconds`, crews in turn: count, latencies, CPU seconds."""
    engine = make_engine(job.url)
    latencies: list[float] = []
    with engine.connect() as conn:
        head = conn.execute(select(FeedState.last_pos)).scalar_one()
    cursors = {crew.team_id: head for crew in job.crews}
    served = {crew.team_id: 0 for crew in job.crews}
    count = 0
    cpu = time.process_time()
    deadline = time.perf_counter() + job.seconds
    try:
        while time.perf_counter() < deadline:
            crew = job.crews[count % len(job.crews)]
            team = uuid.UUID(crew.team_id)
            start = time.perf_counter()
            if job.op == "initial":
                initial_sync(engine, team)
            elif job.op == "empty_pull":
                delta_pull(engine, team, head, digest=False)
            else:
                if job.op == "cycle":
                    _, cursors[crew.team_id] = delta_pull(engine, team, cursors[crew.team_id])
                base = served[crew.team_id]
                served[crew.team_id] += job.batch
                ids = [crew.order_ids[(base + n) // 4 % len(crew.order_ids)]
                       for n in range(job.batch)]
                kinds = [KINDS[(base + n) % 4] for n in range(job.batch)]
                push_batch(engine, crew.device_id, ids, kinds)
            latencies.append(time.perf_counter() - start)
            count += 1
    finally:
        engine.dispose()
    return count, latencies, time.process_time() - cpu


def run_parallel(jobs: list[FloorJob]) -> FloorResult:
    """Run jobs in separate processes (as many as gunicorn has workers); ops/s and latencies."""
    if len(jobs) == 1:
        results = [run_job(jobs[0])]
    else:
        with multiprocessing.get_context("spawn").Pool(len(jobs)) as pool:
            results = pool.map(run_job, jobs)
    seconds = max(job.seconds for job in jobs)
    count = sum(r[0] for r in results)
    return FloorResult(count / seconds, [x for r in results for x in r[1]],
                       sum(r[2] for r in results) / count if count else float("nan"))


def create_mutation_log(url: str) -> None:
    engine = make_engine(url)
    try:
        MUTATION_LOG.create(engine, checkfirst=True)
    finally:
        engine.dispose()
