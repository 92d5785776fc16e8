"""Reference data tablets sync (cause and resolution codes): read, and change through the feed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import Row, String, bindparam, cast, func, select
from sqlalchemy.orm import Session

from server.models.base import utcnow
from server.models.sync import ReferenceData
from sync import feed

#: The lists every installation starts with (the migration seeds the same ones).
DEFAULT_REFERENCE_DATA: dict[str, dict[str, Any]] = {
    "cause_codes": {"codes": [
        {"code": "cable_fault", "label": "Cable fault"},
        {"code": "transformer_failure", "label": "Transformer failure"},
        {"code": "breaker_tripped", "label": "Breaker tripped"},
        {"code": "fuse_blown", "label": "Fuse blown"},
        {"code": "meter_fault", "label": "Meter fault"},
        {"code": "vegetation", "label": "Vegetation contact"},
        {"code": "weather", "label": "Storm or lightning damage"},
        {"code": "third_party_damage", "label": "Third-party damage"},
        {"code": "overload", "label": "Overload"},
        {"code": "customer_side", "label": "Fault on the customer's side"},
        {"code": "other", "label": "Other"},
    ]},
    "resolution_codes": {"codes": [
        {"code": "repaired", "label": "Repaired"},
        {"code": "replaced", "label": "Part replaced"},
        {"code": "reset", "label": "Reset or re-energised"},
        {"code": "temporary_fix", "label": "Temporary fix, follow-up needed"},
        {"code": "referred", "label": "Referred to another team"},
        {"code": "no_fault_found", "label": "No fault found"},
        {"code": "customer_responsibility", "label": "Customer's responsibility"},
        {"code": "other", "label": "Other"},
    ]},
}


_reference = ReferenceData.__table__.c
_ALL = select(_reference.id, _reference.version, _reference.data).order_by(_reference.id)
_BY_IDS = _ALL.where(_reference.id.in_(bindparam("ids", expanding=True)))
#: Every list's `id:version`, one per line, as a single value: a column of the pull's first
#: query, which saves a round trip on every pull that computes a digest (reference ids are
#: identifiers: no colon, no line break).
VERSIONS_TEXT = select(func.aggregate_strings(
    _reference.id + ":" + cast(_reference.version, String), "\n")).scalar_subquery()


class ReferenceVersion(NamedTuple):
    id: str
    version: int


def reference_rows(session: Session, ids: Sequence[str] | None = None) -> list[Row]:
    """`(id, version, data)` of every list, or of these (absent ones are left out), by id."""
    if ids is None:
        return list(session.execute(_ALL))
    return list(session.execute(_BY_IDS, {"ids": list(ids)})) if ids else []


def parse_versions(text: str | None) -> list[ReferenceVersion]:
    """The `(id, version)` of every list, from a `VERSIONS_TEXT` value (None: no lists)."""
    if not text:
        return []
    return [ReferenceVersion(reference_id, int(version))
            for reference_id, version in (line.rsplit(":", 1) for line in text.split("\n"))]


def put_reference_data(session: Session, reference_id: str, data: dict[str, Any]) -> ReferenceData:
    """Create or replace one list; every tablet receives it on its next pull (team_id NULL)."""
    row = session.scalars(
        select(ReferenceData).where(ReferenceData.id == reference_id).with_for_update()
    ).one_or_none()
    if row is None:
        row = ReferenceData(id=reference_id, version=1, data=data, updated_at=utcnow())
        session.add(row)
    else:
        row.version += 1
        row.data = data
        row.updated_at = utcnow()
    session.flush()
    feed.record(session, entity_type="reference", entity_id=reference_id, version=row.version)
    return row


def seed_defaults(session: Session) -> None:
    """Store the default lists that are missing (used by tests and empty installations)."""
    present = {row.id for row in reference_rows(session)}
    for reference_id, data in DEFAULT_REFERENCE_DATA.items():
        if reference_id not in present:
            put_reference_data(session, reference_id, data)
