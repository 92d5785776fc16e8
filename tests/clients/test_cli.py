"""The command line a crew member uses at a terminal, against the real server."""

from __future__ import annotations

import io

import requests

from clients.python.cli import main


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def test_enroll_list_act_sync_and_show_from_the_command_line(server_url, factory, tmp_path):
    team = factory.team()
    user = factory.user("crew", team=team)
    order = factory.order(team=team, title="Streetlight out")
    code = requests.post(server_url + "/api/v1/devices", headers=factory.staff_headers("admin"),
                         json={"name": "Tablet", "platform": "android", "user_id": str(user.id)},
                         timeout=10).json()["enrollment_code"]
    store = str(tmp_path / "cli.db")

    assert run("--store", store, "enroll", server_url, code)[0] == 0
    status, output = run("--store", store, "sync")
    assert status == 0 and "digest ok" in output
    status, output = run("--store", store, "orders")
    assert "Streetlight out" in output and order.number in output
    arrived = run("--store", store, "arrive", order.number, "--lat", "28.68", "--lon", "115.86")
    assert arrived[0] == 0
    assert run("--store", store, "note", order.number, "Lamp replaced")[0] == 0
    assert "2 mutations" in run("--store", store, "status")[1]
    status, output = run("--store", store, "sync")
    assert status == 0 and "applied 2" in output
    status, output = run("--store", store, "show", order.number)
    assert "on_site" in output and "Lamp replaced" in output
    assert "0 rejected mutations" in run("--store", store, "rejections")[1]
