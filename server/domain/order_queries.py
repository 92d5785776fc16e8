"""Reading orders and audit trails page by page: staff filters and keyset cursors.

Order pages are keyed on `(created_at, id)` (server.domain.pagination), which never change, so
walking the pages returns every order that existed when the walk began exactly once, whatever is
created meanwhile. Audit pages are keyed on the event's `seq`. Cursors are opaque base64url.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import uuid
from dataclasses import dataclass

from sqlalchemy import Select, String, cast, or_, select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from server.config import Settings
from server.domain import sla
from server.domain.pagination import Page, keyset_page
from server.errors import InvalidCursor
from server.models.audit import AuditEvent
from server.models.base import utcnow
from server.models.orders import Order

#: What `overdue=True` means: late on the work itself. Follow-ups are customer service's list.
WORK_TARGETS = ("arrival", "completion")
#: The columns `q` searches: PROTOCOL.md section 3's number, title, customer and address.
TEXT_COLUMNS = (Order.number, Order.title, Order.customer_name, Order.customer_phone,
                Order.customer_account, Order.address)


def encode_seq_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"seq": seq}).encode()).rstrip(b"=").decode()


def decode_seq_cursor(cursor: str) -> int:
    """The `seq` inside an audit cursor; 400 `invalid_cursor` for anything we did not make."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        seq = json.loads(raw.decode("utf-8"))["seq"]
    except (binascii.Error, ValueError, UnicodeDecodeError, KeyError, TypeError) as error:
        raise InvalidCursor("The cursor is malformed.") from error
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise InvalidCursor("The cursor is malformed.")
    return seq


@dataclass(frozen=True)
class OrderFilters:
    statuses: list[str] | None = None
    team_id: uuid.UUID | None = None
    assignee: uuid.UUID | None = None
    priorities: list[str] | None = None
    #: One SLA target's name, or True / False for overdue on any / none of the WORK_TARGETS.
    overdue: str | bool | None = None
    updated_since: dt.datetime | None = None
    text: str | None = None


def filtered(
    query: Select, filters: OrderFilters, settings: Settings, now: dt.datetime | None = None
) -> Select:
    """Narrow `select(Order)` by the staff list filters; every filter is ANDed."""
    if filters.statuses:
        query = query.where(Order.status.in_(filters.statuses))
    if filters.team_id is not None:
        query = query.where(Order.team_id == filters.team_id)
    if filters.assignee is not None:
        # user_ids is a JSON array of canonical UUID strings; the quoted form matches one whole
        # element and nothing else, on SQLite's text and PostgreSQL's jsonb rendering alike.
        query = query.where(
            cast(Order.user_ids, String).contains(f'"{filters.assignee}"', autoescape=True)
        )
    if filters.priorities:
        query = query.where(Order.priority.in_(filters.priorities))
    if filters.overdue is not None:
        query = query.where(_overdue(filters.overdue, now or utcnow(), settings))
    if filters.updated_since is not None:
        query = query.where(Order.updated_at >= filters.updated_since)
    if filters.text:
        query = query.where(or_(*(
            column.icontains(filters.text, autoescape=True) for column in TEXT_COLUMNS
        )))
    return query


def _overdue(overdue: str | bool, now: dt.datetime, settings: Settings) -> ColumnElement[bool]:
    if isinstance(overdue, str):
        return sla.overdue_condition(overdue, now, settings)
    late = or_(*(sla.overdue_condition(kind, now, settings) for kind in WORK_TARGETS))
    # IS NOT TRUE, not NOT: a missing deadline makes `late` NULL, and such an order is on time.
    return late if overdue else late.is_not(true())


def page_of_orders(session: Session, query: Select, *, limit: int, cursor: str | None) -> Page:
    """One page of `query` in creation order, after `cursor`."""
    return keyset_page(session, query, Order, limit=limit, cursor=cursor)


def page_of_events(
    session: Session, order_id: uuid.UUID, *, limit: int, cursor: str | None
) -> Page:
    """One page of an order's audit trail in `seq` order, after `cursor`."""
    after = decode_seq_cursor(cursor) if cursor is not None else 0
    rows = list(session.scalars(
        select(AuditEvent)
        .where(AuditEvent.order_id == order_id, AuditEvent.seq > after)
        .order_by(AuditEvent.seq)
        .limit(limit + 1)
    ))
    if len(rows) <= limit:
        return Page(rows, None)
    return Page(rows[:limit], encode_seq_cursor(rows[limit - 1].seq))
