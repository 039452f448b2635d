"""A clock that moves only when a test says so.

Used by the interview-questions notebook (12) and the capstone (13) to test rate limiters: code under test
asks `clock()` for the time instead of `time.monotonic()`, and the test moves the time with
`clock.advance(seconds)`. "Ten seconds later" then takes no time and never flakes.

    clock = ManualClock(1000.0)
    limiter = RateLimiter(limit=5, window=10, clock=clock)
    clock.advance(10)        # the window has passed
"""

from __future__ import annotations


class ManualClock:
    """A clock for tests: it shows the time you set and moves only when you call advance().

    `clock()` returns the current time in seconds (a float, like `time.monotonic()`); the attribute
    `clock.now` holds it, and a test may also set it directly.
    """

    def __init__(self, start: float = 1000.0) -> None:
        """Start the clock at `start` seconds (1000.0 unless told otherwise)."""
        self.now = start

    def __call__(self) -> float:
        """The current time, in seconds."""
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the time forward by `seconds` (a negative value moves it back)."""
        self.now += seconds

    def __repr__(self) -> str:
        return f"ManualClock(now={self.now!r})"
