"""Fixtures for SDK tests against a real gunicorn: crews with devices, orders, clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from clients.python import DeviceClient
from clients.simulator.proxy import FaultProxy

FAST_RETRIES = {"backoff_base": 0.02, "backoff_cap": 0.2, "timeout": 20.0}


@dataclass
class Crew:
    team: object
    user: object
    device_id: str
    token: str


@pytest.fixture
def server_url(gunicorn_server) -> str:
    return gunicorn_server(workers=2)


@pytest.fixture
def crew(factory) -> Crew:
    team = factory.team()
    user = factory.user("crew", team=team)
    device, token = factory.device(user)
    return Crew(team=team, user=user, device_id=str(device.id), token=token)


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Callable[..., DeviceClient]]:
    clients: list[DeviceClient] = []

    def make(base_url: str, token: str, name: str = "device") -> DeviceClient:
        client = DeviceClient.from_token(base_url, token, tmp_path / f"{name}.db",
                                         transport_options=FAST_RETRIES)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def proxy(server_url) -> Iterator[FaultProxy]:
    fault_proxy = FaultProxy(server_url, seed=7)
    fault_proxy.start()
    yield fault_proxy
    fault_proxy.stop()


@pytest.fixture
def server_view(server_url, factory):
    from tests.clients.serverview import ServerView

    return ServerView(server_url, factory.staff_headers("admin"))
