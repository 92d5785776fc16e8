"""Reading the server's side of things in SDK tests: orders, audit trail, rejections, media."""

from __future__ import annotations

from typing import Any

import requests


class ServerView:
    """Staff reads straight to the server, for assertions."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        self.base_url = base_url
        self.headers = headers

    def get(self, path: str, **params: Any) -> requests.Response:
        return requests.get(self.base_url + path, headers=self.headers, params=params, timeout=30)

    def post(self, path: str, body: dict | None = None) -> requests.Response:
        return requests.post(self.base_url + path, headers=self.headers, json=body or {},
                             timeout=30)

    def order(self, order_id: Any) -> dict[str, Any]:
        response = self.get(f"/api/v1/orders/{order_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def audit(self, order_id: Any) -> list[dict[str, Any]]:
        response = self.get(f"/api/v1/orders/{order_id}/audit", limit=500)
        assert response.status_code == 200, response.text
        return response.json()["items"]

    def events_of(self, order_id: Any, mutation_id: str) -> list[dict[str, Any]]:
        return [e for e in self.audit(order_id) if e.get("mutation_id") == mutation_id]

    def rejections(self, **filters: Any) -> list[dict[str, Any]]:
        response = self.get("/api/v1/sync/rejections", limit=500, **filters)
        assert response.status_code == 200, response.text
        return response.json()["items"]
