"""The local store: actions are durable before they return, the view updates at once."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import textwrap

from clients.python.client import DeviceClient, location
from clients.python.store import Store
from tests.clients.tokens import fake_device_token

ORDER_ID = "11111111-1111-4111-8111-111111111111"


def seeded_client(tmp_path) -> DeviceClient:
    token = fake_device_token()
    client = DeviceClient.from_token("http://127.0.0.1:9", token, tmp_path / "device.db")
    client.store.upsert_entity("order", ORDER_ID, 3, None,
                               {"id": ORDER_ID, "status": "assigned", "version": 3,
                                "notes": [], "media": []})
    client.rebase()
    return client


def test_the_store_runs_in_wal_mode_with_full_synchronous_writes(tmp_path):
    store = Store(tmp_path / "s.db")
    assert store._query("PRAGMA journal_mode")[0][0] == "wal"
    assert store._query("PRAGMA synchronous")[0][0] == 2


def test_an_action_updates_the_view_at_once_and_queues_a_stamped_mutation(tmp_path):
    client = seeded_client(tmp_path)
    client.depart(ORDER_ID)
    client.arrive(ORDER_ID, location(28.6, 115.8, 10))
    client.add_note(ORDER_ID, "Transformer smells burnt")
    view = client.order(ORDER_ID)
    assert view["status"] == "on_site"
    assert [n["text"] for n in view["notes"]] == ["Transformer smells burnt"]
    pending = client.pending()
    assert [m.type for m in pending] == ["depart", "arrive", "add_note"]
    assert all(m.base_version == 3 for m in pending)
    stamps = [m.hlc for m in pending]
    assert stamps == sorted(stamps) and len(set(stamps)) == 3
    assert all(s.endswith(client.device_id) for s in stamps)


def test_status_never_moves_backwards_in_the_local_view(tmp_path):
    client = seeded_client(tmp_path)
    client.complete(ORDER_ID, "replaced_fuse")
    client.depart(ORDER_ID)
    assert client.order(ORDER_ID)["status"] == "completed"


def test_a_rebase_keeps_unsent_work_on_top_of_the_server_state(tmp_path):
    client = seeded_client(tmp_path)
    client.set_cause(ORDER_ID, "cable_fault", "Cut by digger")
    client.store.upsert_entity("order", ORDER_ID, 4, None,
                               {"id": ORDER_ID, "status": "en_route", "version": 4,
                                "notes": [], "media": []})
    client.rebase()
    view = client.order(ORDER_ID)
    assert view["version"] == 4 and view["status"] == "en_route"
    assert view["cause"]["cause_code"] == "cable_fault"


def test_an_action_survives_the_process_being_killed_right_after_it_returns(tmp_path):
    store_path = tmp_path / "device.db"
    seeded_client(tmp_path).close()
    script = textwrap.dedent(f"""
        import os, signal
        from clients.python.client import DeviceClient
        client = DeviceClient({str(store_path)!r})
        client.add_note({ORDER_ID!r}, "written before the crash")
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    process = subprocess.run([sys.executable, "-c", script], cwd=str(_root()), check=False)
    assert process.returncode == -9
    reopened = DeviceClient(store_path)
    assert [m.data["text"] for m in reopened.pending()] == ["written before the crash"]
    assert reopened.order(ORDER_ID)["notes"][0]["text"] == "written before the crash"


def test_the_clock_is_persisted_so_a_restarted_app_never_reuses_a_stamp(tmp_path):
    client = seeded_client(tmp_path)
    client.observe_server_time("2200-01-01T00:00:00.000Z")
    first = client.next_stamp()
    client.close()
    again = DeviceClient(tmp_path / "device.db")
    assert first.startswith("7258118400000-0001-")
    assert again.next_stamp() > first


def _root():
    from pathlib import Path

    return Path(__file__).resolve().parents[2]


def test_fake_tokens_carry_the_claims_the_sdk_reads():
    payload = fake_device_token().split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert {"did", "sub", "exp", "iat"} <= set(claims)
