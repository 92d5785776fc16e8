"""The Fieldsync device SDK: a local store, an outbox and a sync loop a tablet app embeds."""

from clients.python.client import DeviceClient
from clients.python.errors import AuthenticationFailed, DeviceRevoked, SyncError
from clients.python.result import SyncResult

__all__ = ["AuthenticationFailed", "DeviceClient", "DeviceRevoked", "SyncError", "SyncResult"]
