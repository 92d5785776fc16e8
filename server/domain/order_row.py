"""What the domain functions read and change of an order, whichever way it was loaded."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Protocol


class OrderRow(Protocol):
    """An order the caller holds locked: an ORM `Order`, or a push's `LockedOrder` (a plain
    row the push batch merges into and writes once, `sync/batch_writes.py`).

    The attributes are those of `Order` that the audit chain (`append_event`), the change
    feed (`record_order_change`), the scope checks and the conflict queue use.
    """

    id: uuid.UUID
    team_id: uuid.UUID | None
    status: str
    needs_review: bool
    version: int
    updated_at: dt.datetime
    audit_seq: int
    audit_head: str
