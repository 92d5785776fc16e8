"""The rows a push batch reads and writes: its locked orders, mutation ids, audit events and
outcomes.

A push merges into up to 500 orders, and on this path the ORM's unit of work (identity map,
attribute history, a flush per table) cost more than the merge itself. So the batch's orders
are read with one Core `SELECT ... FOR UPDATE` into plain `LockedOrder` rows that the merge
changes in memory, and everything the batch wrote is sent at the end: on PostgreSQL as one
statement whose rows travel as JSON arrays (one bind parameter each, encoded by orjson), on
SQLite as one executemany per table.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Table, Uuid, bindparam, column, insert, select, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from server import json_columns
from server.models.audit import AuditEvent
from server.models.orders import Order
from server.models.sync import ProcessedMutation
from sync import feed

#: What a push reads of an order, and what it may change (the merge, the version and the
#: audit chain head).
WRITTEN_COLUMNS = ("status", "needs_review", "field_state", "version", "updated_at", "audit_seq",
                   "audit_head", "arrival", "cause", "eta", "completion", "notes", "arrived_at",
                   "completed_at")
READ_COLUMNS = ("id", "team_id", *WRITTEN_COLUMNS)

# `__table__` is typed as a FromClause (a class may be mapped to a join); these are tables.
_ORDERS = cast(Table, Order.__table__)
_AUDIT = cast(Table, AuditEvent.__table__)
_PROCESSED = cast(Table, ProcessedMutation.__table__)
_AUDIT_COLUMNS = tuple(column.name for column in _AUDIT.columns if column.name != "id")
#: A claimed mutation id's placeholder, and what its outcome fills in.
_CLAIM_COLUMNS = ("id", "device_id", "content_hash", "status", "processed_at")
_OUTCOME_COLUMNS = ("order_id", "status", "code", "detail", "order_version")
_PROCESSED_COLUMNS = tuple(column.name for column in _PROCESSED.columns)

#: Locks in id order, so that two batches lock their common orders in the same order.
LOCK_ORDERS = (select(*(_ORDERS.c[name] for name in READ_COLUMNS))
               .where(_ORDERS.c.id.in_(bindparam("ids", expanding=True)))
               .order_by(_ORDERS.c.id).with_for_update())


class LockedOrder(SimpleNamespace):
    """An order row this transaction holds locked, changed in memory and written once.

    It has the attributes of `Order` that `READ_COLUMNS` names, so the domain functions that
    take an order (the audit chain, the feed, conflicts) take it as well: they are typed with
    `server.domain.order_row.OrderRow`, which both satisfy.
    """


def lock_and_claim(session: Session, order_ids: list[uuid.UUID], claims: list[dict[str, Any]]
                   ) -> tuple[dict[uuid.UUID, LockedOrder], set[uuid.UUID]]:
    """Lock and read these orders (those that exist, in id order), then insert these
    placeholder outcomes (in id order) where the mutation id is free: the orders locked, and
    the ids inserted. On PostgreSQL both in one round trip.

    A request inserting an id another uncommitted transaction holds waits for it, then finds
    the id taken: two requests never both apply a mutation, and no unique violation (which
    would abort a PostgreSQL transaction) can happen. `BatchRows.write` fills in the outcomes.
    """
    session.flush()  # an ORM change pending in this session must reach its row first
    if session.get_bind().dialect.name == "postgresql" and order_ids and claims:
        locked, claimed = {}, set()
        for row in session.execute(_LOCK_AND_CLAIM_PG, {
                "ids": order_ids, "rows": json_columns.dumps_rows(claims)}):
            if row.claimed_id is not None:
                claimed.add(row.claimed_id)
            else:
                locked[row.id] = LockedOrder(**dict(zip(READ_COLUMNS, row, strict=False)))
        return locked, claimed
    locked = {row.id: LockedOrder(**row._mapping)
              for row in session.execute(LOCK_ORDERS, {"ids": order_ids})} if order_ids else {}
    return locked, _claim(session, claims) if claims else set()


def _claim(session: Session, rows: list[dict[str, Any]]) -> set[uuid.UUID]:
    if session.get_bind().dialect.name == "postgresql":
        result = session.execute(_CLAIM_PG, {"rows": json_columns.dumps_rows(rows)})
    else:
        result = session.execute(_CLAIM_SQLITE, rows)
    return set(result.scalars())


def _columns_sql(columns: tuple[str, ...], prefix: str = "") -> str:
    return ", ".join(prefix + name for name in columns)


def insert_from_json(table: str, columns: tuple[str, ...], parameter: str) -> str:
    """PostgreSQL `INSERT` of rows given as a JSON array in bind parameter `parameter`."""
    return (f"INSERT INTO {table} ({_columns_sql(columns)}) SELECT {_columns_sql(columns)} "
            f"FROM jsonb_populate_recordset(NULL::{table}, CAST(:{parameter} AS jsonb))")


def upsert_from_json(table: str, columns: tuple[str, ...], updated: tuple[str, ...],
                     parameter: str) -> str:
    """PostgreSQL `INSERT ... ON CONFLICT (id) DO UPDATE` of rows given as a JSON array: rows
    that exist get the `updated` columns. The conflict is found through the primary key
    whatever the planner believes of the table's size, which an `UPDATE ... FROM` joined to
    the recordset does not promise (with statistics older than the table's growth, a cached
    plan scanned the whole table)."""
    return (f"{insert_from_json(table, columns, parameter)} ON CONFLICT (id) DO UPDATE SET "
            f"({_columns_sql(updated)}) = ({_columns_sql(updated, 'EXCLUDED.')})")


def update_from_json(table: str, columns: tuple[str, ...], parameter: str) -> str:
    """PostgreSQL `UPDATE` from rows given as a JSON array, matched on `id` (the ids also come
    as `<parameter>_ids`: `ANY` lets the planner find them by primary key rather than join the
    recordset to the whole table)."""
    return (f"UPDATE {table} AS t SET ({_columns_sql(columns)}) = ({_columns_sql(columns, 'r.')}) "
            f"FROM jsonb_populate_recordset(NULL::{table}, CAST(:{parameter} AS jsonb)) AS r "
            f"WHERE t.id = r.id AND t.id = ANY(:{parameter}_ids)")


_CLAIM_PG = text(f"""{insert_from_json(_PROCESSED.name, _CLAIM_COLUMNS, "rows")}
ORDER BY id ON CONFLICT (id) DO NOTHING RETURNING id""")
#: PostgreSQL: the lock, then the claim, in one statement. The claim's `WHERE` reads the locked
#: rows first (an InitPlan runs before the insert's first row), so the locks are always taken
#: before the claim, as two statements would take them: a retry racing its first attempt waits
#: on the orders, never holds an id the first attempt then waits for.
_READ_SQL = _columns_sql(READ_COLUMNS)
_LOCK_AND_CLAIM_PG = text(f"""
WITH locked AS MATERIALIZED (
    SELECT {_READ_SQL} FROM {_ORDERS.name} WHERE id = ANY(:ids) ORDER BY id FOR UPDATE
), claimed AS (
    {insert_from_json(_PROCESSED.name, _CLAIM_COLUMNS, "rows")}
    WHERE (SELECT count(*) FROM locked) >= 0
    ORDER BY id ON CONFLICT (id) DO NOTHING RETURNING id
)
SELECT {_READ_SQL}, NULL AS claimed_id FROM locked
UNION ALL SELECT {", ".join("NULL" for _ in READ_COLUMNS)}, id FROM claimed
""").columns(*(_ORDERS.c[name] for name in READ_COLUMNS), column("claimed_id", Uuid))
_CLAIM_SQLITE = (sqlite_insert(_PROCESSED).on_conflict_do_nothing(index_elements=["id"])
                 .returning(_PROCESSED.c.id))

#: PostgreSQL: the batch's audit events, outcomes and order rows in one round trip ...
_WRITES_PG = f"""
WITH audit AS ({insert_from_json(_AUDIT.name, _AUDIT_COLUMNS, "audit")}),
processed AS ({upsert_from_json(_PROCESSED.name, _PROCESSED_COLUMNS, _OUTCOME_COLUMNS,
                                "processed")})"""
_WRITE_PG = text(f"{_WRITES_PG} {update_from_json(_ORDERS.name, WRITTEN_COLUMNS, 'orders')}")
#: ... and, when the batch changed something, its change-feed entries too (`sync.feed`: the
#: feed's row lock, taken here rather than just before commit, is held a statement longer).
_WRITE_AND_PUBLISH_PG = text(f"""{_WRITES_PG},
written AS ({update_from_json(_ORDERS.name, WRITTEN_COLUMNS, "orders")}),
{feed.TAKE_POSITIONS_PG} {feed.INSERT_ENTRIES_PG}""")

#: SQLite: one executemany per table.
_UPDATE_ORDER = (update(_ORDERS).where(_ORDERS.c.id == bindparam("row_id"))
                 .values({name: bindparam(name) for name in WRITTEN_COLUMNS}))
_UPDATE_OUTCOME = (update(_PROCESSED).where(_PROCESSED.c.id == bindparam("row_id"))
                   .values({name: bindparam(name) for name in _OUTCOME_COLUMNS}))


@dataclass
class BatchRows:
    """What a batch writes, sent once by `write` at its end."""

    audit: list[dict[str, Any]] = field(default_factory=list)
    #: The outcomes of the mutation ids claimed (`claim_mutation_ids`).
    processed: list[dict[str, Any]] = field(default_factory=list)
    #: The orders changed, by id (an order several mutations change is written once).
    orders: dict[uuid.UUID, LockedOrder] = field(default_factory=dict)

    def write(self, session: Session) -> None:
        """Send the rows collected."""
        if not (self.audit or self.processed or self.orders):
            return
        orders = [{name: getattr(order, name) for name in READ_COLUMNS}
                  for order in self.orders.values()]
        if session.get_bind().dialect.name == "postgresql":
            parameters = {
                "audit": json_columns.dumps_rows(self.audit),
                "processed": json_columns.dumps_rows(self.processed),
                "orders": json_columns.dumps_rows(orders), "orders_ids": list(self.orders)}
            changes = feed.take_pending(session)
            if changes:
                session.execute(_WRITE_AND_PUBLISH_PG,
                                parameters | feed.publish_parameters(changes))
            else:
                session.execute(_WRITE_PG, parameters)
        else:
            self._write_each_table(session, orders)
        _expire_cached(session, self.orders)

    def _write_each_table(self, session: Session, orders: list[dict[str, Any]]) -> None:
        if self.audit:
            session.execute(insert(_AUDIT), self.audit)
        for statement, rows in ((_UPDATE_OUTCOME, self.processed), (_UPDATE_ORDER, orders)):
            if rows:
                session.execute(statement, [{**row, "row_id": row["id"]} for row in rows])


def _expire_cached(session: Session, order_ids: Any) -> None:
    """An `Order` this session loaded earlier no longer matches its row: reload it on use."""
    for order_id in order_ids:
        cached = session.identity_map.get(session.identity_key(Order, order_id))
        if cached is not None:
            session.expire(cached)
