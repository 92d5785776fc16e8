"""HTTP with the retry policy of a tablet on a bad network.

Network errors and 5xx are retried with exponential backoff and full jitter, 429 waits for
`Retry-After`. Retrying is safe for every call the SDK makes: pushes are deduplicated by
mutation id on the server, pulls and HEADs read only.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

import requests

from clients.python.errors import AuthenticationFailed, DeviceRevoked, SyncError

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})


class Transport:
    """A requests session bound to one server, with a bearer token supplied on each call."""

    def __init__(self, base_url: str, *, token: Callable[[], str | None] = lambda: None,
                 attempts: int = 6, backoff_base: float = 0.2, backoff_cap: float = 5.0,
                 max_retry_after: float = 30.0, timeout: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.attempts = attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_retry_after = max_retry_after
        self.timeout = timeout
        self.sleep = sleep
        self.session = requests.Session()

    def close(self) -> None:
        self.session.close()

    def url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.base_url}{path}"

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
        return random.uniform(0, min(self.backoff_cap, self.backoff_base * 2 ** attempt))

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = dict(extra or {})
        token = self.token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def request(self, method: str, path: str, *, retry: bool = True,
                expect: tuple[int, ...] = (200, 201), **kwargs: Any) -> requests.Response:
        """The response with a status in `expect`; raises SyncError (or a subclass) otherwise."""
        extra_headers = kwargs.pop("headers", None)
        last_error = "no attempt made"
        attempts = self.attempts if retry else 1
        for attempt in range(attempts):
            try:
                response = self.session.request(
                    method, self.url(path), headers=self.headers(extra_headers),
                    timeout=self.timeout, **kwargs)
            except requests.RequestException as error:
                last_error = f"{method} {path}: {type(error).__name__}"
                log.info("retrying after network error: %s", last_error)
                if attempt + 1 < attempts:
                    self.sleep(self.backoff(attempt))
                continue
            if response.status_code in expect:
                return response
            if response.status_code == 429:
                wait = _retry_after(response.headers.get("Retry-After"))
                last_error = f"{method} {path}: 429 rate_limited"
                if attempt + 1 < attempts:
                    self.sleep(min(self.max_retry_after, wait) + random.uniform(0, 0.05))
                continue
            if response.status_code in RETRYABLE_STATUSES:
                last_error = f"{method} {path}: {response.status_code}"
                if attempt + 1 < attempts:
                    self.sleep(self.backoff(attempt))
                continue
            raise problem_error(response)
        raise SyncError(f"gave up after {attempts} attempts ({last_error})")


def _retry_after(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value else 1.0
    except ValueError:
        return 1.0


def problem_error(response: requests.Response) -> SyncError:
    """The problem document of a failed response as the matching exception."""
    try:
        problem = response.json()
    except ValueError:
        problem = {}
    code = problem.get("code") if isinstance(problem, dict) else None
    detail = (problem.get("detail") or problem.get("title")) if isinstance(problem, dict) else None
    message = " ".join(str(part) for part in (response.request.method, response.url,
                                              response.status_code, code, detail) if part)
    if response.status_code == 401 and code == "device_revoked":
        return DeviceRevoked()
    if response.status_code == 401:
        return AuthenticationFailed(message, status=401, code=code)
    return SyncError(message, status=response.status_code, code=code)
