"""Authentication (JWT access and device tokens) and role checks."""

from server.auth.principal import (
    Principal,
    current_principal,
    require_device,
    require_roles,
    require_staff_or_device,
)

__all__ = [
    "Principal",
    "current_principal",
    "require_device",
    "require_roles",
    "require_staff_or_device",
]
