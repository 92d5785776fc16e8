"""KPI report timing on a large data set: seeds N orders (default 100,000) and times the report.

Run: `.venv/bin/python -m bench.kpi_bench --database sqlite` or `--database postgresql`
(a private schema of the local test database, dropped afterwards). Seeding uses SQLAlchemy
core bulk inserts; the timings are of `GET /api/v1/reports/kpis` through the Flask test client
(JSON and CSV) over the whole range, and over one team.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import insert

from server import create_app
from server.auth import tokens
from server.db import db
from server.migrations.scratch import DEFAULT_PG_URL, scratch_database
from server.models import Order, Team, User
from server.models.dispatch import Visit

log = logging.getLogger("kpi_bench")

BENCH_SECRET = "kpi-bench-secret-key-0123456789abcdef"
PG_URL = DEFAULT_PG_URL
STATUSES = [
    "new",
    "assigned",
    "en_route",
    "on_site",
    "completed",
    "closed",
    "closed",
    "closed",
    "closed",
    "cancelled",
]
PRIORITIES = ["urgent", "high", "normal", "normal", "low"]
SLA = {"urgent": (45, 240), "high": (120, 480), "normal": (240, 1440), "low": (1440, 4320)}


@contextmanager
def database(kind: str) -> Iterator[str]:
    """A fresh database at migration head, removed afterwards."""
    with tempfile.TemporaryDirectory() as folder, scratch_database(
        kind, Path(folder), prefix="kpi_bench", pg_url=PG_URL
    ) as url:
        yield url


def seed(session, count: int, start: dt.datetime, days: int, rng: random.Random) -> User:
    """`count` orders over `days` days for 20 teams, with on-site times, deadlines and visits."""
    teams = [
        {
            "id": uuid.uuid4(),
            "name": f"Crew {i:02d}",
            "base_lat": 28.6 + i / 100,
            "base_lon": 115.8 + i / 100,
            "skills": ["electrical"],
            "active": True,
            "created_at": start,
            "updated_at": start,
        }
        for i in range(20)
    ]
    session.execute(insert(Team), teams)
    agent = User(username="bench-agent", password_hash="-", role="admin", display_name="Bench")
    session.add(agent)
    session.flush()
    batch, visits = [], []
    for n in range(count):
        created = start + dt.timedelta(seconds=rng.randrange(days * 86400))
        priority = rng.choice(PRIORITIES)
        status = rng.choice(STATUSES)
        arrive_within, complete_within = SLA[priority]
        team = rng.choice(teams)["id"] if status != "new" else None
        arrived = completed = None
        if status in ("on_site", "completed", "closed"):
            arrived = created + dt.timedelta(minutes=rng.expovariate(1 / (arrive_within * 0.8)))
        if status in ("completed", "closed"):
            completed = arrived + dt.timedelta(minutes=rng.expovariate(1 / (complete_within * 0.5)))
        order_id = uuid.uuid4()
        batch.append(
            {
                "id": order_id,
                "number": f"WO-B-{n:07d}",
                "source": "hotline",
                "kind": "fault_repair",
                "priority": priority,
                "title": "Bench order",
                "description": "",
                "customer_name": "C",
                "address": "",
                "lat": 28.68,
                "lon": 115.86,
                "required_skills": [],
                "sla_arrive_by": created + dt.timedelta(minutes=arrive_within),
                "sla_complete_by": created + dt.timedelta(minutes=complete_within),
                "status": status,
                "team_id": team,
                "user_ids": [],
                "notes": [],
                "media": [],
                "field_state": {},
                "needs_review": False,
                "arrived_at": arrived,
                "completed_at": completed,
                "reopen_count": int(rng.random() < 0.08),
                "version": 1,
                "created_at": created,
                "updated_at": created,
                "audit_seq": 0,
                "audit_head": "0" * 64,
            }
        )
        if status == "closed":
            visits.append(
                {
                    "id": uuid.uuid4(),
                    "order_id": order_id,
                    "agent_id": agent.id,
                    "contacted_at": completed + dt.timedelta(hours=rng.uniform(1, 36)),
                    "channel": "phone",
                    "reached": True,
                    "satisfaction": rng.randint(1, 5),
                    "comment": "",
                    "outcome": "resolved",
                    "due_at": completed + dt.timedelta(hours=24),
                    "created_at": completed,
                }
            )
        if len(batch) == 5000:
            session.execute(insert(Order), batch)
            batch = []
    if batch:
        session.execute(insert(Order), batch)
    for i in range(0, len(visits), 5000):
        session.execute(insert(Visit), visits[i : i + 5000])
    return agent


def timed(
    client, url: str, headers: dict[str, str], repeat: int
) -> tuple[float, float, float]:
    """(median wall, best wall, median CPU of this process) in ms of `repeat` GETs, after one
    warm-up. On SQLite the CPU time includes the database's work, so it shows the cost on a
    busy machine; on PostgreSQL the server's work is not in it."""
    assert client.get(url, headers=headers).status_code == 200
    times, cpu = [], []
    for _ in range(repeat):
        begin, begin_cpu = time.perf_counter(), time.process_time()
        response = client.get(url, headers=headers)
        times.append((time.perf_counter() - begin) * 1000)
        cpu.append((time.process_time() - begin_cpu) * 1000)
        assert response.status_code == 200, response.get_data(as_text=True)
    return statistics.median(times), min(times), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rng = random.Random(5)
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=args.days)
    with database(args.database) as url:
        app = create_app({"testing": True, "database_url": url, "secret_key": BENCH_SECRET})
        with app.app_context():
            began = time.perf_counter()
            with db.transaction() as session:
                agent = seed(session, args.orders, start, args.days, rng)
            log.info("seeded %d orders in %.1f s", args.orders, time.perf_counter() - began)
            if args.database == "postgresql":
                with db.engine.connect() as conn:
                    conn.exec_driver_sql("ANALYZE")
            keys = tokens.KeyRing(current=BENCH_SECRET, previous=(), issuer="fieldsync")
            token = tokens.issue(keys, typ="access", subject=agent.id, ttl_seconds=3600).token
            headers = {"Authorization": f"Bearer {token}"}
            client = app.test_client()
            span = f"from={start.isoformat().replace('+00:00', 'Z')}"
            team_id = db.session.scalar(Team.__table__.select().with_only_columns(Team.id).limit(1))
            db.session.close()
            for label, url_path in [
                ("json, all teams", f"/api/v1/reports/kpis?{span}"),
                ("csv, all teams", f"/api/v1/reports/kpis?{span}&format=csv"),
                ("json, one team", f"/api/v1/reports/kpis?{span}&team_id={team_id}"),
            ]:
                median, best, cpu = timed(client, url_path, headers, args.repeat)
                log.info(
                    "%s, %d orders, %s: median %.0f ms, best %.0f ms (client process CPU %.0f ms)",
                    args.database,
                    args.orders,
                    label,
                    median,
                    best,
                    cpu,
                )
        with app.app_context():
            db.engine.dispose()


if __name__ == "__main__":
    main()
