"""The wall clock of a lab with any real or emulated device: real seconds since the run first
started.

Virtual time belongs to the simulated world (``mscrobot.lab.simulated.devices.VirtualClock``)
and only a lab whose every device is simulated keeps it; a lab with a real or emulated device
waits in real time (a simulated vial beside emulators is kept at this clock's time:
``WorldOnWallClock``). The moment the run first started is kept in
``clock.jsonl`` in the run folder, so a resumed run's clock goes on from there: the time the
process was down has passed, and a wait keeps its deadline.

``speedup`` is for a lab of emulators all started with ``--speed X``: lab time runs X times
faster than real time, for every device at once (a per-device speedup would let the stirrer's
four minutes pass while the spectrometer's integration took real seconds). A resumed run's
downtime counts sped up too, as the emulators kept running at their speed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mscrobot.storage.eventlog import EventLog

LOG_NAME = "clock.jsonl"


class WallClock:
    real_time = True

    def __init__(self, path: Path | None, now: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep, speedup: float = 1.0) -> None:
        self._now, self._sleep, self.speedup = now, sleep, speedup
        self._start: float | None = None
        self._log = EventLog(path, self._apply)
        if self._start is None:
            self._log.write({"start": now()})

    def _apply(self, event: dict[str, Any]) -> None:
        if self._start is None:
            self._start = float(event["start"])

    def now(self) -> float:
        assert self._start is not None
        return (self._now() - self._start) * self.speedup

    def sleep_until(self, t: float) -> None:
        delay = t - self.now()
        if delay > 0:
            self._sleep(delay / self.speedup)

    def close(self) -> None:
        self._log.close()
