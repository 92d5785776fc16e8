"""An unsigned device-token look-alike for store-only tests that never reach a server."""

from __future__ import annotations

import base64
import json
import time
import uuid


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def fake_device_token() -> str:
    now = int(time.time())
    claims = {"did": str(uuid.uuid4()), "sub": str(uuid.uuid4()), "iat": now,
              "exp": now + 90 * 24 * 3600, "typ": "device"}
    return f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{_b64(claims)}.signature"
