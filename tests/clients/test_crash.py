"""The app is killed (SIGKILL) inside sync(), between push and pull: the next sync() finishes
the job with nothing lost and nothing applied twice."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from clients.python import DeviceClient
from clients.python.client import CRASH_ENV

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("crash_at", "state_after_crash", "next_push"), [
    ("after_push", "applied", {"pushed": 0, "duplicates": 0}),
    ("before_settle", "pending", {"pushed": 4, "duplicates": 4}),
])
def test_a_client_killed_between_push_and_pull_loses_and_doubles_nothing(
        factory, crew, server_url, make_client, server_view, crash_at, state_after_crash,
        next_push):
    orders = [factory.order(team=crew.team) for _ in range(2)]
    first = make_client(server_url, crew.token)
    assert first.sync().ok
    first.close()
    script = textwrap.dedent(f"""
        from clients.python import DeviceClient
        from clients.python.client import location
        client = DeviceClient({str(first.store.path)!r})
        for order_id in {[str(o.id) for o in orders]!r}:
            client.arrive(order_id, location(28.68, 115.86, 5))
            client.add_note(order_id, "Before the crash")
        client.sync()
        raise SystemExit("sync() returned: the crash hook did not fire")
    """)
    process = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                             text=True, env={**_env(), CRASH_ENV: crash_at}, timeout=120,
                             check=False)
    assert process.returncode == -signal.SIGKILL, process.stderr

    survivor = DeviceClient(first.store.path)
    try:
        mutations = survivor.store.mutations()
        assert len(mutations) == 4 and {m.state for m in mutations} == {state_after_crash}
        cursor_before = survivor.store.get("cursor")
        result = survivor.sync()
        assert result.ok, result.errors
        assert (result.pushed, result.duplicates) == (next_push["pushed"],
                                                      next_push["duplicates"])
        assert result.pulled >= 2
        assert survivor.store.get("cursor") != cursor_before
        for order in orders:
            served = server_view.order(order.id)
            view = survivor.order(str(order.id))
            assert view["version"] == served["version"] and view["status"] == "on_site"
            assert [n["text"] for n in served["notes"]] == ["Before the crash"]
        for mutation in mutations:
            assert len(server_view.events_of(mutation.order_id, mutation.id)) == 1
    finally:
        survivor.close()


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != CRASH_ENV}
