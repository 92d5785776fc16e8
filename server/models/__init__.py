"""SQLAlchemy models; importing this package registers every table on `Base.metadata`."""

from server.models.base import Base
from server.models.people import Device, DeviceToken, EnrollmentCode, Team, User
from server.models.orders import IdempotencyKey, Order, OrderNumberCounter
from server.models.audit import AuditEvent
from server.models.feed import ChangeLog, FeedState
from server.models.sync import *  # noqa: F403 - sync engine tables (issue 3)
from server.models.media import *  # noqa: F403 - media tables (issue 4)
from server.models.dispatch import *  # noqa: F403 - dispatch, SLA, visits (issue 5)

__all__ = [
    "AuditEvent",
    "Base",
    "ChangeLog",
    "Device",
    "DeviceToken",
    "EnrollmentCode",
    "FeedState",
    "IdempotencyKey",
    "Order",
    "OrderNumberCounter",
    "Team",
    "User",
]
