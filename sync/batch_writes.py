"""The rows a push batch reads and writes: its locked orders, audit events and outcomes.

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
from typing import Any

from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.orm import Session

from server import json_columns
from server.models.audit import AuditEvent
from server.models.orders import Order
from server.models.sync import ProcessedMutation

#: What a push reads of an order, and what it may change (the merge, the version and the
#: audit chain head).
WRITTEN_COLUMNS = ("status", "needs_review", "field_state", "version", "updated_at", "audit_seq",
                   "audit_head", "arrival", "cause", "eta", "completion", "notes", "arrived_at",
                   "completed_at")
READ_COLUMNS = ("id", "team_id", *WRITTEN_COLUMNS)

_ORDERS = Order.__table__
_AUDIT = AuditEvent.__table__
_PROCESSED = ProcessedMutation.__table__
_AUDIT_COLUMNS = tuple(column.name for column in _AUDIT.columns if column.name != "id")
_PROCESSED_COLUMNS = tuple(column.name for column in _PROCESSED.columns)

#: Locks in id order, so that two batches lock their common orders in the same order.
LOCK_ORDERS = (select(*(_ORDERS.c[name] for name in READ_COLUMNS))
               .where(_ORDERS.c.id.in_(bindparam("ids", expanding=True)))
               .order_by(_ORDERS.c.id).with_for_update())


class LockedOrder(SimpleNamespace):
    """An order row this transaction holds locked, changed in memory and written once.

    It has the attributes of `Order` that `READ_COLUMNS` names, so the domain functions that
    take an order (the audit chain, the feed, conflicts) take it as well.
    """


def lock_orders(session: Session, order_ids: list[uuid.UUID]) -> dict[uuid.UUID, LockedOrder]:
    """Lock and read these orders (those that exist), in id order."""
    session.flush()  # an ORM change pending in this session must reach its row first
    return {row.id: LockedOrder(**row._mapping)
            for row in session.execute(LOCK_ORDERS, {"ids": order_ids})}


def _columns_sql(columns: tuple[str, ...], prefix: str = "") -> str:
    return ", ".join(prefix + name for name in columns)


def _insert_from_json(table: str, columns: tuple[str, ...], parameter: str) -> str:
    return (f"INSERT INTO {table} ({_columns_sql(columns)}) SELECT {_columns_sql(columns)} "
            f"FROM jsonb_populate_recordset(NULL::{table}, CAST(:{parameter} AS jsonb))")


#: PostgreSQL: the batch's audit events, outcomes and order rows in one round trip (`ANY` lets
#: the planner find the orders by primary key rather than join the recordset to every order).
_WRITE_PG = text(f"""
WITH audit AS ({_insert_from_json(_AUDIT.name, _AUDIT_COLUMNS, "audit")}),
processed AS ({_insert_from_json(_PROCESSED.name, _PROCESSED_COLUMNS, "processed")})
UPDATE {_ORDERS.name} AS o SET ({_columns_sql(WRITTEN_COLUMNS)}) =
    ({_columns_sql(WRITTEN_COLUMNS, "r.")})
FROM jsonb_populate_recordset(NULL::{_ORDERS.name}, CAST(:orders AS jsonb)) AS r
WHERE o.id = r.id AND o.id = ANY(:order_ids)
""")

#: SQLite: one executemany per table.
_UPDATE_ORDER = (update(_ORDERS).where(_ORDERS.c.id == bindparam("order_id"))
                 .values({name: bindparam(name) for name in WRITTEN_COLUMNS}))


@dataclass
class BatchRows:
    """What a batch (or, on the guarded path, one mutation) writes, sent by `write`."""

    audit: list[dict[str, Any]] = field(default_factory=list)
    processed: list[dict[str, Any]] = field(default_factory=list)
    #: The orders changed, by id (an order several mutations change is written once).
    orders: dict[uuid.UUID, LockedOrder] = field(default_factory=dict)

    def write(self, session: Session) -> None:
        """Send the rows collected so far, then start empty."""
        if not (self.audit or self.processed or self.orders):
            return
        orders = [{name: getattr(order, name) for name in READ_COLUMNS}
                  for order in self.orders.values()]
        if session.get_bind().dialect.name == "postgresql":
            session.execute(_WRITE_PG, {"audit": json_columns.dumps_rows(self.audit),
                                        "processed": json_columns.dumps_rows(self.processed),
                                        "orders": json_columns.dumps_rows(orders),
                                        "order_ids": list(self.orders)})
        else:
            self._write_each_table(session, orders)
        _expire_cached(session, self.orders)
        self.audit, self.processed, self.orders = [], [], {}

    def _write_each_table(self, session: Session, orders: list[dict[str, Any]]) -> None:
        for table, rows in ((_AUDIT, self.audit), (_PROCESSED, self.processed)):
            if rows:
                session.execute(insert(table), rows)
        if orders:
            session.execute(_UPDATE_ORDER, [{**row, "order_id": row["id"]} for row in orders])


def _expire_cached(session: Session, order_ids: Any) -> None:
    """An `Order` this session loaded earlier no longer matches its row: reload it on use."""
    for order_id in order_ids:
        cached = session.identity_map.get(session.identity_key(Order, order_id))
        if cached is not None:
            session.expire(cached)
