"""A clock for tests whose devices are plain fakes: time moves only when the code waits."""

from __future__ import annotations


class SteppedClock:
    """``now``/``sleep_until`` as the engine's clocks have them; a wait jumps to its deadline."""

    real_time = False

    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def sleep_until(self, t: float) -> None:
        self.t = max(self.t, t)
