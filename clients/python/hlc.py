"""Hybrid logical clock stamps `<wall ms 13 digits>-<counter 4 hex>-<device id>` (PROTOCOL.md 4)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

MAX_COUNTER = 0xFFFF


@dataclass(frozen=True)
class ClockState:
    """The last stamp issued: the clock never hands out anything at or below it."""

    wall_ms: int = 0
    counter: int = 0


def format_stamp(state: ClockState, device_id: str) -> str:
    return f"{state.wall_ms:013d}-{state.counter:04x}-{device_id}"


def parse_stamp(stamp: str) -> tuple[int, int, str]:
    wall, counter, device_id = stamp.split("-", 2)
    return int(wall), int(counter, 16), device_id


def tick(state: ClockState, physical_ms: int) -> ClockState:
    """The next local event: physical time if it moved on, else the same wall with counter + 1."""
    if physical_ms > state.wall_ms:
        return ClockState(physical_ms, 0)
    if state.counter < MAX_COUNTER:
        return ClockState(state.wall_ms, state.counter + 1)
    # The counter is exhausted: borrow the next millisecond rather than go backwards.
    return ClockState(state.wall_ms + 1, 0)


def observe(state: ClockState, remote_ms: int) -> ClockState:
    """Advance on a time seen from the server, so later local stamps sort after it."""
    if remote_ms > state.wall_ms:
        return ClockState(remote_ms, 0)
    return state


def wall_clock_ms(clock: Callable[[], float] = time.time) -> int:
    return int(clock() * 1000)
