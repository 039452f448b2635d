"""Specification of coursekit.ManualClock (notebooks 12 and 13)."""

from __future__ import annotations

from coursekit import ManualClock


def test_the_clock_starts_at_1000_seconds_unless_told_otherwise():
    assert ManualClock()() == 1000.0
    assert ManualClock(0.0)() == 0.0
    assert ManualClock(start=1009.9)() == 1009.9


def test_the_time_does_not_move_by_itself():
    clock = ManualClock(50.0)
    readings = [clock() for _ in range(1000)]
    assert set(readings) == {50.0}


def test_advance_moves_the_time_by_the_given_seconds():
    clock = ManualClock(100.0)
    clock.advance(10)
    assert clock() == 110.0
    clock.advance(0.5)
    clock.advance(-0.25)
    assert clock() == 110.25 and clock.now == 110.25


def test_setting_now_sets_the_time():
    clock = ManualClock()
    clock.now = 5.0
    assert clock() == 5.0


def test_clocks_are_independent_and_say_their_time():
    first, second = ManualClock(1.0), ManualClock(1.0)
    first.advance(9)
    assert (first(), second()) == (10.0, 1.0)
    assert repr(first) == "ManualClock(now=10.0)"
    assert first() != 1.0          # a clock that ignored advance() would fail here
