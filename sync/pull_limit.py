"""Pull rate limiting: a token bucket per device, kept on the device row so every worker shares it.

A device may pull `burst` times in a row, then once every `min_interval` seconds; the bucket
refills continuously. The check runs in its own short transaction with the device row locked,
so concurrent pulls of one device cannot spend the same token twice.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models.people import Device


def take_pull_token(session: Session, device_id: uuid.UUID, now: dt.datetime, *,
                    min_interval: float, burst: int) -> int | None:
    """Spend one pull token; None when allowed, else the seconds to wait (`Retry-After`)."""
    device = session.scalars(
        select(Device).where(Device.id == device_id).with_for_update()
    ).one_or_none()
    if device is None:
        return None
    if device.pull_checked_at is None:
        allowance = float(burst)
    else:
        elapsed = max(0.0, (now - device.pull_checked_at).total_seconds())
        allowance = min(float(burst), device.pull_allowance + elapsed / min_interval)
    if allowance < 1.0:
        return max(1, math.ceil((1.0 - allowance) * min_interval))
    device.pull_allowance = allowance - 1.0
    device.pull_checked_at = now
    return None
