"""Demo data: `flask --app wsgi demo` loads crews around Nanchang, staff, tablets and orders.

Everything goes through the domain functions a real deployment uses (people, devices, order
creation, assignment, crew pushes through the sync engine, cancel and close), so the audit
chains, the change feed and the crews' pulls are exactly what they would be in production.
Running it again changes nothing.
"""

from __future__ import annotations

import random
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.config import Settings
from server.db import db
from server.domain.assignment import assign_order
from server.domain.audit import Actor
from server.domain.devices import issue_device_token
from server.domain.history import lock_order
from server.domain.lifecycle import cancel_order, close_order
from server.domain.orders import create_order
from server.domain.people import create_team, create_user
from server.json_provider import to_rfc3339
from server.models.base import utcnow
from server.models.orders import Order
from server.models.people import Device, Team, User
from sync.push import PushContext, apply_batch

#: name, base (lat, lon), skills: crews based around Nanchang (28.68 N, 115.86 E).
TEAMS = (
    ("Honggutan Crew", (28.692, 115.832), ["electrical", "meter"]),
    ("Qingshanhu Crew", (28.701, 115.951), ["electrical", "high_voltage"]),
    ("Xihu Crew", (28.662, 115.884), ["water", "plumbing"]),
    ("Qingyunpu Crew", (28.633, 115.921), ["gas", "inspection"]),
    ("Xinjian Crew", (28.690, 115.815), ["electrical", "cable"]),
    ("Donghu Crew", (28.683, 115.899), ["network", "installation"]),
)
CREW_NAMES = (
    "Liu Yang", "Chen Hao", "Zhang Min", "Wang Qiang", "Li Jun", "Zhao Lei", "Huang Tao",
    "Zhou Bin", "Wu Gang", "Xu Peng", "Sun Hui", "Ma Chao", "Hu Jian", "Guo Feng", "He Lin",
)
STAFF = (
    ("admin", "admin", "Site Administrator"),
    ("dispatcher1", "dispatcher", "Chen Jing"),
    ("dispatcher2", "dispatcher", "Luo Xia"),
    ("agent1", "agent", "Tang Yu"),
)
#: title, kind, source, skills, description
ORDER_TEMPLATES = (
    ("No power in apartment block", "fault_repair", "hotline", ["electrical"],
     "Residents of the whole block report no power since this morning."),
    ("Street light out", "fault_repair", "patrol", ["electrical"],
     "Patrol noticed three street lights dark on the west side."),
    ("Transformer humming loudly", "fault_repair", "monitoring", ["electrical", "high_voltage"],
     "Monitoring shows temperature alarms on the pole-mounted transformer."),
    ("Meter reading far too high", "inspection", "portal", ["meter"],
     "Customer disputes last month's reading; check the meter and its seal."),
    ("Water main leak", "fault_repair", "hotline", ["water", "plumbing"],
     "Water is running across the pavement from under the road."),
    ("Low water pressure", "fault_repair", "portal", ["water"],
     "Upper floors have had almost no pressure for two days."),
    ("Gas smell near the kitchen", "fault_repair", "hotline", ["gas"],
     "Customer smells gas near the stove; valve closed, windows open."),
    ("Annual gas safety inspection", "inspection", "followup", ["gas", "inspection"],
     "Scheduled yearly inspection of the building's gas risers."),
    ("Underground cable fault", "fault_repair", "monitoring", ["electrical", "cable"],
     "Feeder tripped twice overnight; fault locator points to this section."),
    ("New connection for a shop", "installation", "portal", ["electrical", "installation"],
     "A new tea shop needs a three-phase connection before opening."),
    ("Fibre box damaged", "fault_repair", "patrol", ["network"],
     "The street cabinet door is broken and the splice tray exposed."),
    ("Quarterly substation maintenance", "maintenance", "patrol", ["high_voltage"],
     "Clean insulators, check oil level and record readings."),
)
STREETS = (
    "Bayi Avenue", "Hongdu Middle Avenue", "Zhanqian Road", "Yangming Road",
    "Beijing West Road", "Ganjiang Middle Avenue", "Fushan Road", "Aixihu Road",
    "Ziyang Avenue", "Honggu Middle Avenue", "Qingshan South Road", "Minde Road",
)
CUSTOMERS = (
    "Wang Fang", "Li Na", "Zhang Wei", "Liu Fang", "Chen Jie", "Yang Min", "Huang Lei", "Zhao Li",
    "Wu Hao", "Zhou Xin", "Xu Jing", "Sun Tao", "Nanchang No.3 Middle School",
    "Bayi Square Mall", "Jiangxi Provincial Library", "Tengwang Pavilion Tea House",
)
#: How many demo orders end in each status (60 in all).
STATUS_PLAN = (
    ("new", 10), ("assigned", 10), ("en_route", 8), ("on_site", 8), ("completed", 10),
    ("closed", 8), ("cancelled", 6),
)
CANCEL_REASONS = ("Duplicate of an earlier call", "Customer fixed it themselves",
                  "Reported at the wrong address")


@dataclass
class DemoDevice:
    username: str
    team: str
    device_id: uuid.UUID
    token: str


@dataclass
class DemoData:
    password: str
    devices: list[DemoDevice] = field(default_factory=list)
    orders: dict[str, int] = field(default_factory=dict)


def already_loaded(session: Session) -> bool:
    return session.scalar(select(Team.id).where(Team.name == TEAMS[0][0])) is not None


def _create_people(session: Session, settings: Settings, password: str,
                   rng: random.Random) -> tuple[list[Team], dict[uuid.UUID, list[User]]]:
    teams = [
        create_team(session, {"name": name, "base_location": {"lat": lat, "lon": lon},
                              "skills": skills})
        for name, (lat, lon), skills in TEAMS
    ]
    for username, role, display_name in STAFF:
        create_user(session, settings, {"username": username, "password": password, "role": role,
                                        "display_name": display_name})
    names = iter(CREW_NAMES)
    crews: dict[uuid.UUID, list[User]] = {}
    for team in teams:
        crews[team.id] = [
            create_user(session, settings, {
                "username": (display := next(names)).lower().replace(" ", "."),
                "password": password, "role": "crew", "display_name": display,
                "phone": f"+86 139 {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}",
                "team_id": team.id,
            })
            for _ in range(rng.choice((2, 3)))
        ]
    return teams, crews


def _enrol_devices(session: Session, settings: Settings, teams: list[Team],
                   crews: dict[uuid.UUID, list[User]]) -> dict[uuid.UUID, DemoDevice]:
    """One enrolled tablet per crew member, with a device token (keyed by user id)."""
    devices: dict[uuid.UUID, DemoDevice] = {}
    for team in teams:
        for member in crews[team.id]:
            device = Device(name=f"Tablet of {member.display_name}", platform="android",
                            user_id=member.id, enrolled_at=utcnow(),
                            device_info={"model": "Galaxy Tab Active4 Pro", "app": "demo"})
            session.add(device)
            session.flush()
            issued = issue_device_token(session, settings, device)
            devices[member.id] = DemoDevice(member.username, team.name, device.id, issued.token)
    return devices


def _order_fields(rng: random.Random, template: tuple, number: int) -> dict[str, Any]:
    title, kind, source, skills, description = template
    lat, lon = 28.68 + rng.uniform(-0.06, 0.06), 115.86 + rng.uniform(-0.08, 0.08)
    return {
        "source": source, "kind": kind, "title": title, "description": description,
        "priority": rng.choices(("urgent", "high", "normal", "low"), weights=(1, 3, 5, 2))[0],
        "customer_name": rng.choice(CUSTOMERS),
        "customer_phone": f"+86 791 {rng.randint(8000, 8999)} {rng.randint(1000, 9999)}",
        "customer_account": f"NC-{rng.randint(100000, 999999)}",
        "address": f"{rng.randint(1, 388)} {rng.choice(STREETS)}, Nanchang",
        "lat": round(lat, 5), "lon": round(lon, 5), "asset_ref": f"AS-{number:05d}",
        "required_skills": skills,
    }


def _best_team(teams: list[Team], skills: list[str], rng: random.Random) -> Team:
    """A team with the most of the order's skills (ties broken at random)."""
    best = max(len(set(skills) & set(team.skills)) for team in teams)
    return rng.choice([team for team in teams if len(set(skills) & set(team.skills)) == best])


def _crew_mutations(order: Order, device: DemoDevice, status: str,
                    rng: random.Random) -> list[dict[str, Any]]:
    """What the crew's tablet would push to bring the order to `status`."""
    steps = {"en_route": 1, "on_site": 3, "completed": 4, "closed": 4}[status]
    # Spread the crew's times between the order's creation and now: never in the future.
    start = order.created_at
    step_length = (utcnow() - start) / steps
    mutations = []
    for step, (kind, data) in enumerate((
        ("depart", {"departed_at": None}),
        ("arrive", {"arrived_at": None, "location": {
            "lat": order.lat, "lon": order.lon, "accuracy_m": rng.choice((5, 8, 12))}}),
        ("set_cause", {"cause_code": rng.choice(("wear", "weather", "third_party", "overload")),
                       "cause_text": "Found on site."}),
        ("complete", {"completed_at": None,
                      "resolution_code": rng.choice(("repaired", "replaced", "adjusted")),
                      "resolution_text": "Work done, tested with the customer."}),
    )[:steps]):
        at = start + step_length * (step + 1)
        for name in ("departed_at", "arrived_at", "completed_at"):
            if name in data:
                data[name] = to_rfc3339(at)
        mutations.append({
            "id": str(uuid.uuid4()), "order_id": str(order.id), "type": kind,
            "hlc": f"{int(at.timestamp() * 1000):013d}-0000-{device.device_id}",
            "at": to_rfc3339(at), "base_version": order.version, "data": data,
        })
    return mutations


def _push(session: Session, settings: Settings, member: User, device: DemoDevice,
          mutations: list[dict[str, Any]]) -> None:
    context = PushContext(device_id=device.device_id, user_id=member.id, team_id=member.team_id,
                          now=utcnow(), skew_bound_ms=settings.clock_skew_bound_seconds * 1000)
    for result in apply_batch(session, context, mutations):
        if result["status"] not in ("applied", "merged"):
            raise click.ClickException(f"demo push was refused: {result}")


def _create_orders(session: Session, settings: Settings, teams: list[Team],
                   crews: dict[uuid.UUID, list[User]], devices: dict[uuid.UUID, DemoDevice],
                   rng: random.Random) -> dict[str, int]:
    creators = list(session.scalars(select(User).where(User.role.in_(("dispatcher", "agent")))))
    dispatchers = [Actor(user_id=user.id) for user in creators if user.role == "dispatcher"]
    plan = [status for status, count in STATUS_PLAN for _ in range(count)]
    rng.shuffle(plan)
    counts: dict[str, int] = {}
    for number, status in enumerate(plan, start=1):
        creator = Actor(user_id=rng.choice(creators).id)
        dispatcher = rng.choice(dispatchers)
        template = rng.choice(ORDER_TEMPLATES)
        order = create_order(session, settings, creator, _order_fields(rng, template, number))
        if status != "new" and not (status == "cancelled" and rng.random() < 0.5):
            team = _best_team(teams, template[3], rng)
            members = rng.sample(crews[team.id], k=rng.choice((1, 2)))
            assign_order(session, lock_order(session, order.id), team_id=team.id,
                         user_ids=[m.id for m in members], actor=dispatcher)
            if status in ("en_route", "on_site", "completed", "closed"):
                device = devices[members[0].id]
                order = lock_order(session, order.id)
                _push(session, settings, members[0], device,
                      _crew_mutations(order, device, status, rng))
        order = lock_order(session, order.id)
        if status == "closed":
            close_order(session, order, actor=dispatcher,
                        details={"reason": "Customer confirmed the repair"})
        elif status == "cancelled":
            cancel_order(session, order, actor=dispatcher, reason=rng.choice(CANCEL_REASONS))
        if order.status != status:
            raise click.ClickException(f"demo order {order.number} ended {order.status}, "
                                       f"not {status}")
        counts[status] = counts.get(status, 0) + 1
    return counts


def load_demo(session: Session, settings: Settings, *, seed: int = 2026) -> DemoData | None:
    """Load the demo data unless it is there already (then None)."""
    if already_loaded(session):
        return None
    rng = random.Random(seed)
    data = DemoData(password=settings.demo_password or secrets.token_urlsafe(12))
    teams, crews = _create_people(session, settings, data.password, rng)
    devices = _enrol_devices(session, settings, teams, crews)
    data.devices = list(devices.values())
    data.orders = _create_orders(session, settings, teams, crews, devices, rng)
    return data


@click.command("demo")
@with_appcontext
def demo() -> None:
    """Load demo data: crews around Nanchang, staff, tablets with tokens, orders in every state."""
    with db.transaction() as session:
        data = load_demo(session, current_app.config["SETTINGS"])
    if data is None:
        click.echo("demo data is already loaded; nothing changed")
        return
    click.echo(f"loaded {len(TEAMS)} teams, {len(data.devices)} crew members with tablets and "
               f"{sum(data.orders.values())} orders: "
               + ", ".join(f"{data.orders[status]} {status}" for status, _count in STATUS_PLAN))
    click.echo("")
    click.echo("admin login (shown once):")
    click.echo("  username: admin")
    click.echo(f"  password: {data.password}")
    click.echo("staff users dispatcher1, dispatcher2 and agent1, and every crew member, have the "
               "same password")
    click.echo("")
    click.echo(f"{'crew member':<14} {'team':<16} {'device id':<36}  device token")
    for device in data.devices:
        click.echo(f"{device.username:<14} {device.team:<16} {device.device_id}  {device.token}")


commands = [demo]
