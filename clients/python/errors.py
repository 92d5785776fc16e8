"""What the SDK raises: a revoked device, failed authentication, a sync that cannot go on."""

from __future__ import annotations


class SyncError(Exception):
    """The server or the network refused to cooperate after every retry."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class AuthenticationFailed(SyncError):
    """The device token was refused (expired, invalid); a person must enroll the tablet again."""


class DeviceRevoked(AuthenticationFailed):
    """An admin revoked this tablet: it stops syncing; its unsent work stays in the store."""

    def __init__(self, message: str = "This device has been revoked by an administrator.") -> None:
        super().__init__(message, status=401, code="device_revoked")
