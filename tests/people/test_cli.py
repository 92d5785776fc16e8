"""`flask --app wsgi create-user`: the first admin, and any other user, from a shell."""

from __future__ import annotations

from tests.factories import DEFAULT_PASSWORD


def test_create_user_makes_an_admin_who_can_log_in(app, client):
    result = app.test_cli_runner().invoke(args=[
        "create-user", "--username", "Root", "--password", DEFAULT_PASSWORD, "--role", "admin"])
    assert result.exit_code == 0, result.output
    assert "created admin root" in result.output
    login = client.post("/api/v1/auth/login",
                        json={"username": "root", "password": DEFAULT_PASSWORD})
    assert login.status_code == 200
    assert login.json["user"]["role"] == "admin"


def test_create_user_puts_crew_in_their_team(app, factory):
    team = factory.team()
    result = app.test_cli_runner().invoke(args=[
        "create-user", "--username", "wang", "--password", DEFAULT_PASSWORD, "--role", "crew",
        "--team-id", str(team.id), "--display-name", "Wang Fang"])
    assert result.exit_code == 0, result.output


def test_create_user_explains_what_is_wrong(app):
    runner = app.test_cli_runner()
    crew = runner.invoke(args=["create-user", "--username", "lin", "--password", DEFAULT_PASSWORD,
                               "--role", "crew"])
    assert crew.exit_code != 0 and "team_id: Crew members need a team." in crew.output
    short = runner.invoke(args=["create-user", "--username", "lin", "--password", "short",
                                "--role", "agent"])
    assert short.exit_code != 0 and "password" in short.output
    runner.invoke(args=["create-user", "--username", "lin", "--password", DEFAULT_PASSWORD,
                        "--role", "agent"])
    taken = runner.invoke(args=["create-user", "--username", "lin", "--password",
                                DEFAULT_PASSWORD, "--role", "agent"])
    assert taken.exit_code != 0 and "taken" in taken.output
