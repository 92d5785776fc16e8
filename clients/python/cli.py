"""`python -m clients.python.cli`: a crew member's tablet at a terminal.

    python -m clients.python.cli enroll http://server:8000 K7QX-2MPA
    python -m clients.python.cli orders
    python -m clients.python.cli arrive WO-2026-000123 --lat 28.68 --lon 115.86
    python -m clients.python.cli sync
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from clients.python.client import DeviceClient, location
from clients.python.errors import DeviceRevoked, SyncError

DEFAULT_STORE = Path(os.environ.get("FIELDSYNC_DEVICE_STORE",
                                    Path.home() / ".fieldsync" / "device.db"))


def _resolve(client: DeviceClient, ref: str) -> str:
    """An order by number (WO-...), full id or unique id prefix."""
    matches = [o for o in client.orders()
               if ref in (o.get("number"), str(o.get("id"))) or str(o.get("id")).startswith(ref)]
    if len(matches) != 1:
        raise SystemExit(f"no single order matches {ref!r} ({len(matches)} found); "
                         "run `orders` to list them")
    return str(matches[0]["id"])


def _print_order_line(order: dict[str, Any], out: TextIO) -> None:
    out.write(f"{order.get('number', '?'):<16} {order.get('priority', ''):<7} "
              f"{order.get('status', ''):<10} {order.get('title', '')}  [{order.get('id')}]\n")


def _print_order(order: dict[str, Any], out: TextIO) -> None:
    customer = order.get("customer") or {}
    rows = [
        ("number", order.get("number")), ("id", order.get("id")),
        ("title", order.get("title")), ("status", order.get("status")),
        ("priority", order.get("priority")), ("address", order.get("address")),
        ("customer", f"{customer.get('name', '')} {customer.get('phone') or ''}".strip()),
        ("sla", order.get("sla")), ("arrival", order.get("arrival")),
        ("cause", order.get("cause")), ("eta", order.get("eta")),
        ("completion", order.get("completion")), ("version", order.get("version")),
        ("needs review", order.get("needs_review")),
    ]
    for label, value in rows:
        if value not in (None, "", {}):
            out.write(f"{label:>13}: {value}\n")
    for note in order.get("notes") or []:
        out.write(f"{'note':>13}: {note.get('text')}\n")
    for media in order.get("media") or []:
        pending = " (not uploaded yet)" if media.get("pending_upload") else ""
        out.write(f"{media.get('kind', 'media'):>13}: {media.get('id')}{pending}\n")


class ProgressLine:
    """One line rewritten in place: `pull 1200 done, 3400 to go`."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.shown = False

    def __call__(self, phase: str, done: int, remaining: int) -> None:
        total = done + remaining
        percent = f" {100 * done // total:3d}%" if total else ""
        self.out.write(f"\r{phase}: {done} done, {remaining} to go{percent}   ")
        self.out.flush()
        self.shown = True

    def finish(self) -> None:
        if self.shown:
            self.out.write("\n")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m clients.python.cli",
                                     description="Fieldsync crew tablet at a terminal.")
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE,
                        help=f"device store (default {DEFAULT_STORE}, or FIELDSYNC_DEVICE_STORE)")
    commands = parser.add_subparsers(dest="command", required=True)

    enroll = commands.add_parser("enroll", help="enroll this device with a one-time code")
    enroll.add_argument("server", help="server URL, e.g. http://127.0.0.1:8000")
    enroll.add_argument("code", help="enrollment code from the admin")

    commands.add_parser("orders", help="list my orders (as of the last sync, plus my work)")
    show = commands.add_parser("show", help="show one order")
    show.add_argument("order", help="order number, id or id prefix")

    for name, helptext in (("depart", "I am on my way"), ("arrive", "I am on site")):
        action = commands.add_parser(name, help=helptext)
        action.add_argument("order")
        if name == "arrive":
            action.add_argument("--lat", type=float, required=True)
            action.add_argument("--lon", type=float, required=True)
            action.add_argument("--accuracy", type=float, default=None)
    cause = commands.add_parser("cause", help="record the fault cause")
    cause.add_argument("order")
    cause.add_argument("code")
    cause.add_argument("text", nargs="?", default="")
    eta = commands.add_parser("eta", help="expected completion time (RFC 3339)")
    eta.add_argument("order")
    eta.add_argument("eta")
    complete = commands.add_parser("complete", help="the work is done")
    complete.add_argument("order")
    complete.add_argument("resolution_code")
    complete.add_argument("resolution_text", nargs="?", default="")
    complete.add_argument("--signature", help="media id of an attached signature")
    note = commands.add_parser("note", help="add a note")
    note.add_argument("order")
    note.add_argument("text")
    for name in ("photo", "signature"):
        attach = commands.add_parser(name, help=f"attach a {name} file (uploaded on sync)")
        attach.add_argument("order")
        attach.add_argument("path", type=Path)
    where = commands.add_parser("location", help="report where I am")
    where.add_argument("--lat", type=float, required=True)
    where.add_argument("--lon", type=float, required=True)
    where.add_argument("--accuracy", type=float, default=None)
    commands.add_parser("sync", help="push my work, upload media, pull changes")
    commands.add_parser("rejections", help="work the server refused, with its reasons")
    commands.add_parser("status", help="what is waiting to be sent")
    return parser


def run(args: argparse.Namespace, out: TextIO) -> int:
    if args.command == "enroll":
        client = DeviceClient.enroll(args.server, args.code, args.store)
        out.write(f"enrolled device {client.device_id}; store {args.store}\n")
        client.close()
        return 0
    client = DeviceClient(args.store)
    try:
        return _dispatch(client, args, out)
    finally:
        client.close()


def _dispatch(client: DeviceClient, args: argparse.Namespace, out: TextIO) -> int:
    command = args.command
    if command == "orders":
        orders = client.orders()
        for order in orders:
            _print_order_line(order, out)
        out.write(f"{len(orders)} orders\n")
        return 0
    if command == "show":
        order = client.order(_resolve(client, args.order))
        _print_order(order or {}, out)
        return 0
    if command == "sync":
        progress = ProgressLine(out)
        result = client.sync(progress=progress)
        progress.finish()
        out.write(result.summary() + "\n")
        return 0 if result.ok else 1
    if command == "rejections":
        rejected = client.rejections()
        for mutation in rejected:
            out.write(f"{mutation.type:<16} order {mutation.order_id}  {mutation.code}: "
                      f"{mutation.detail or ''}  [{mutation.id}]\n")
        for upload in client.refused_uploads():
            out.write(f"{upload.kind + ' upload':<16} order {upload.order_id}  {upload.error}\n")
        out.write(f"{len(rejected)} rejected mutations\n")
        return 0
    if command == "status":
        out.write(f"{len(client.pending())} mutations and {len(client.pending_uploads())} "
                  f"uploads waiting; {len(client.rejections())} rejected\n")
        return 0
    if command == "location":
        client.report_location(location(args.lat, args.lon, args.accuracy))
        out.write("location recorded\n")
        return 0
    order_id = _resolve(client, args.order)
    if command == "depart":
        client.depart(order_id)
    elif command == "arrive":
        client.arrive(order_id, location(args.lat, args.lon, args.accuracy))
    elif command == "cause":
        client.set_cause(order_id, args.code, args.text)
    elif command == "eta":
        client.set_eta(order_id, args.eta)
    elif command == "complete":
        client.complete(order_id, args.resolution_code, args.resolution_text,
                        signature_media_id=args.signature)
    elif command == "note":
        client.add_note(order_id, args.text)
    elif command in ("photo", "signature"):
        attach = client.attach_photo if command == "photo" else client.attach_signature
        out.write(f"{command} {attach(order_id, args.path)} queued for upload\n")
        return 0
    out.write(f"{command} recorded (sync to send it)\n")
    return 0


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    args = build_parser().parse_args(argv)
    try:
        return run(args, out)
    except DeviceRevoked as error:
        out.write(f"{error} Unsent work stays in {args.store}.\n")
        return 3
    except SyncError as error:
        out.write(f"error: {error}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
