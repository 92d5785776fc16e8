"""Merge conflicts for dispatchers: list them per order or overall, and resolve one."""

from __future__ import annotations

import uuid

from schemas.base import PaginationArgs
from schemas.conflicts import ConflictList, ConflictListArgs, ConflictSchema, ResolveSchema
from server.api import Blueprint
from server.auth.principal import current_principal, require_roles
from server.db import db
from server.errors import NotFound
from server.models.orders import Order
from sync.conflicts import list_conflicts, resolve_conflict

blp = Blueprint("conflicts", __name__, description="Merge conflicts awaiting a dispatcher.")

DISPATCH = ("dispatcher", "admin")


@blp.route("/orders/<uuid:order_id>/conflicts")
@require_roles(*DISPATCH)
@blp.arguments(PaginationArgs, location="query", as_kwargs=True)
@blp.response(200, ConflictList)
def order_conflicts(order_id: uuid.UUID, limit: int, cursor: str | None):
    """List an order's conflicts (open and resolved), oldest first."""
    if db.session.get(Order, order_id) is None:
        raise NotFound("No such order.")
    return list_conflicts(db.session, order_id=order_id, limit=limit, cursor=cursor).as_dict()


@blp.route("/conflicts")
@require_roles(*DISPATCH)
@blp.arguments(ConflictListArgs, location="query", as_kwargs=True)
@blp.response(200, ConflictList)
def conflicts(limit: int, cursor: str | None, open: bool | None):  # noqa: A002 - query name
    """List conflicts, oldest first; `open=true` for those still awaiting a decision."""
    return list_conflicts(db.session, open_only=open, limit=limit, cursor=cursor).as_dict()


@blp.route("/conflicts/<uuid:conflict_id>/resolve", methods=["POST"])
@require_roles(*DISPATCH)
@blp.arguments(ResolveSchema)
@blp.response(200, ConflictSchema)
def resolve(data: dict, conflict_id: uuid.UUID):
    """Resolve a conflict; the order's needs_review clears once none of its conflicts is open.

    409 `invalid_transition` when it is already resolved.
    """
    return resolve_conflict(db.session, conflict_id, resolution=data["resolution"],
                            comment=data.get("comment"), actor=current_principal().actor)
