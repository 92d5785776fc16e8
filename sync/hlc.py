"""Hybrid logical clock stamps: `<wall ms, 13 digits>-<counter, 4 hex>-<node>`, sortable as text.

The server derives its clock per request from its wall time and every stamp it receives, so
no shared row has to be locked by concurrent pushes; a stamp more than `max_ahead_ms` ahead of
the server is replaced by the server's own time, so a fast tablet cannot win every later merge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

STAMP_PATTERN = re.compile(r"^(\d{13})-([0-9a-f]{4})-([A-Za-z0-9][A-Za-z0-9_.:-]{0,63})$")
MAX_COUNTER = 0xFFFF


@dataclass(frozen=True, order=True)
class Stamp:
    """A parsed stamp; ordering the dataclass equals ordering the text."""

    wall_ms: int
    counter: int
    node: str

    def __str__(self) -> str:
        return f"{self.wall_ms:013d}-{self.counter:04x}-{self.node}"


def parse(text: object) -> Stamp:
    """Parse a stamp; ValueError when it is not `<13 digits>-<4 hex>-<node>` (or not text)."""
    match = STAMP_PATTERN.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError("Not a valid HLC stamp: expected <13-digit wall ms>-<4 hex>-<node id>.")
    return Stamp(int(match.group(1)), int(match.group(2), 16), match.group(3))


def wall_ms(text: object) -> int:
    """The wall-clock part of a stamp, in ms since the epoch."""
    return parse(text).wall_ms


@dataclass
class Clock:
    """The server's hybrid logical clock for one request (started from the server's wall time)."""

    wall_ms: int
    counter: int = 0

    def _tick(self, now_ms: int) -> None:
        if now_ms > self.wall_ms:
            self.wall_ms, self.counter = now_ms, 0
        elif self.counter < MAX_COUNTER:
            self.counter += 1
        else:
            self.wall_ms, self.counter = self.wall_ms + 1, 0

    def receive(self, stamp: Stamp, now_ms: int, max_ahead_ms: int) -> tuple[Stamp, bool]:
        """Advance past `stamp` and return the stamp the merge should use.

        Returns `(stamp, False)` for a stamp within the bound, or a server-time stamp with the
        device's node and `True` when the stamp ran more than `max_ahead_ms` ahead.
        """
        if stamp.wall_ms > now_ms + max_ahead_ms:
            self._tick(now_ms)
            return Stamp(self.wall_ms, self.counter, stamp.node), True
        if (stamp.wall_ms, stamp.counter) > (self.wall_ms, self.counter):
            self.wall_ms, self.counter = stamp.wall_ms, stamp.counter
        self._tick(now_ms)
        return stamp, False
