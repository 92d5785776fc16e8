"""The client HLC: stamps sort as text, never go backwards, and advance on server time."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from clients.python import hlc

DEVICE = "3f1c2e9a-0000-4000-8000-000000000001"


def test_a_stamp_has_thirteen_wall_digits_four_hex_counter_digits_and_the_device_id():
    stamp = hlc.format_stamp(hlc.ClockState(1_700_000_000_123, 10), DEVICE)
    assert stamp == f"1700000000123-000a-{DEVICE}"
    assert hlc.parse_stamp(stamp) == (1_700_000_000_123, 10, DEVICE)


def test_the_counter_grows_while_the_wall_clock_stands_still_or_goes_back():
    state = hlc.tick(hlc.ClockState(), 1000)
    assert hlc.tick(state, 1000) == hlc.ClockState(1000, 1)
    assert hlc.tick(hlc.ClockState(1000, 1), 900) == hlc.ClockState(1000, 2)


def test_an_exhausted_counter_borrows_the_next_millisecond():
    assert hlc.tick(hlc.ClockState(1000, 0xFFFF), 1000) == hlc.ClockState(1001, 0)


def test_server_time_ahead_of_the_device_moves_the_clock_forward_but_never_back():
    assert hlc.observe(hlc.ClockState(1000, 5), 2000) == hlc.ClockState(2000, 0)
    assert hlc.observe(hlc.ClockState(3000, 5), 2000) == hlc.ClockState(3000, 5)


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 10**13 - 1)), min_size=1, max_size=60))
def test_stamps_strictly_increase_as_text_whatever_the_physical_and_server_clocks_do(events):
    state = hlc.ClockState()
    previous = ""
    for is_remote, millis in events:
        if is_remote:
            state = hlc.observe(state, millis)
            continue
        state = hlc.tick(state, millis)
        stamp = hlc.format_stamp(state, DEVICE)
        assert stamp > previous
        previous = stamp
