"""Linking a customer signature to the completion that named it before the file arrived.

A crew pushes `complete` with `signature_media_id` while offline uploads are still queued;
the completion is accepted at once and the link is made here when the signature lands.
"""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from server.domain.audit import Actor
from server.domain.history import record_order_change
from server.models.media import Media
from server.models.orders import Order


def link_if_awaited(session: Session, order: Order, media: Media, *, actor: Actor,
                    source: str) -> bool:
    """Record `completion.signature` when the (locked) order's completion names this media.

    Returns True when a link was made. A new dict is assigned so SQLAlchemy sees the change.
    """
    completion = order.completion
    if not completion or str(completion.get("signature_media_id")) != str(media.id):
        return False
    if (completion.get("signature") or {}).get("media_id") == str(media.id):
        return False
    link = {"media_id": str(media.id), "sha256": media.sha256}
    order.completion = {**completion, "signature": link}
    record_order_change(
        session, order, action="signature_linked", source=source, actor=actor,
        changes={"completion.signature": [completion.get("signature"), link]},
        media_sha256=media.sha256,
        details={"media_id": media.id},
    )
    return True


def signature_reference(session: Session, media_id: object) -> dict[str, str] | None:
    """`{media_id, sha256}` when a signature with this id has landed, else None.

    For the sync engine: a `complete` pushed after its signature arrived links it at once, and
    re-projecting the completion from the merge state can keep the link.
    """
    try:
        key = media_id if isinstance(media_id, uuid.UUID) else uuid.UUID(str(media_id))
    except ValueError:
        return None
    media = session.get(Media, key)
    if media is None or media.kind != "signature":
        return None
    return {"media_id": str(media.id), "sha256": media.sha256}
