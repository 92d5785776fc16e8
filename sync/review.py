"""Flagging an order for a person: conflict rows that a dispatcher lists and resolves."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from server.domain.order_row import OrderRow
from server.models.sync import MergeConflict
from server.plain_json import jsonable


def record_conflict(
    session: Session, order: OrderRow, *, kind: str, item_id: uuid.UUID | None,
    device_id: uuid.UUID | None, payload: dict[str, Any], details: dict[str, Any],
    now: dt.datetime,
) -> None:
    """Open a conflict of `kind` for `item_id` (a mutation or media id) once, and put the
    order under review (`needs_review`) until a dispatcher resolves it."""
    order.needs_review = True
    known = session.scalar(select(exists().where(
        MergeConflict.order_id == order.id, MergeConflict.kind == kind,
        MergeConflict.mutation_id == item_id)))
    if not known:
        session.add(MergeConflict(
            order_id=order.id, kind=kind, mutation_id=item_id, device_id=device_id,
            mutation=jsonable(payload), details=jsonable(details), created_at=now,
        ))
