"""Byte-level record/replay: the exact bytes of a set-speed-and-read-back exchange, recorded
once from the emulator, replayed against the driver through a fake port that behaves like
pyserial (reads return what has arrived, or nothing after the port's timeout).

Re-record after a deliberate protocol change: ``STIRRER_RECORD=1 uv run pytest
tests/lab/stirrer/test_ika_replay.py`` and review the diff of ``fixtures/``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mscrobot.lab.protocols import TransientDeviceError
from mscrobot.lab.stirrer.emulator import Emulator, FaultPlan
from mscrobot.lab.stirrer.ika import IkaStirrer
from mscrobot.lab.stirrer.profiles import StirrerProfile
from mscrobot.lab.stirrer.transcript import Transcript, load, recording, save

FIXTURES = Path(__file__).parent / "fixtures"
SETTINGS = {"speedup": 20.0, "timeout_s": 0.3, "retries": 3, "backoff_s": 0.01,
            "watchdog_s": 20, "keepalive": False}


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, dt: float) -> None:
        self.t += dt


class ReplayPort:
    """The device side of a transcript. A write must be the next recorded write; the reads
    recorded after it then arrive. Reading with nothing pending costs the port's timeout."""

    def __init__(self, transcript: Transcript, clock: FakeClock) -> None:
        self.script = transcript
        self.pos = 0
        self.pending = b""
        self.clock = clock
        self.timeout: float | None = None

    def write(self, data: bytes, /) -> int:
        assert self.pos < len(self.script), f"driver wrote {data!r} after the recording ended"
        kind, expected = self.script[self.pos]
        assert (kind, bytes(data)) == ("w", expected), (
            f"step {self.pos}: driver wrote {data!r}, the recording has {kind} {expected!r}")
        self.pos += 1
        while self.pos < len(self.script) and self.script[self.pos][0] == "r":
            self.pending += self.script[self.pos][1]
            self.pos += 1
        return len(data)

    def read(self, size: int = 1, /) -> bytes:
        if not self.pending:
            self.clock.sleep(self.timeout or 0.0)
            return b""
        out, self.pending = self.pending[:size], self.pending[size:]
        return out

    @property
    def in_waiting(self) -> int:
        return len(self.pending)

    def reset_input_buffer(self) -> None:
        self.pending = b""

    def close(self) -> None:
        pass


def _exchange(d: IkaStirrer) -> tuple[str, float, float]:
    return d.open(), d.set_speed(750), d.speed()


def _transcript(name: str, faults: str, profile: StirrerProfile) -> Transcript:
    path = FIXTURES / f"{name}.json"
    if os.environ.get("STIRRER_RECORD") or not path.exists():
        emu = Emulator(profile, speed=SETTINGS["speedup"], pace=False,  # type: ignore[arg-type]
                       faults=FaultPlan.parse(faults))
        host, port = emu.start_tcp()
        log: Transcript = []
        try:
            d = IkaStirrer(f"socket://{host}:{port}", profile, port_factory=recording(log),
                           **SETTINGS)  # type: ignore[arg-type]
            _exchange(d)
        finally:
            emu.stop()
        save(log, path)
    return load(path)


def _replay(transcript: Transcript, profile: StirrerProfile,
            **options: object) -> tuple[ReplayPort, IkaStirrer]:
    clock = FakeClock()
    port = ReplayPort(transcript, clock)
    settings = {**SETTINGS, **options}
    d = IkaStirrer("replay://", profile, port_factory=lambda url, timeout: _opened(port, timeout),
                   clock=clock.now, sleep=clock.sleep, **settings)  # type: ignore[arg-type]
    return port, d


def _opened(port: ReplayPort, timeout: float) -> ReplayPort:
    port.timeout = timeout
    return port


def test_replay_of_a_recorded_set_speed(profile: StirrerProfile) -> None:
    transcript = _transcript("set-speed-750", "", profile)
    writes = [data for kind, data in transcript if kind == "w"]
    assert writes[:6] == [b"IN_NAME \r\n", b"RESET \r\n", b"STOP_1 \r\n", b"OUT_WD1@20 \r\n",
                          b"OUT_SP_4 750 \r\n", b"IN_SP_4 \r\n"]
    assert (b"START_4 \r\n" in writes) and writes[-1] == b"IN_PV_4 \r\n"
    assert ("r", b"20 \r\n") in transcript and ("r", b"750.0 4 \r\n") in transcript
    port, d = _replay(transcript, profile)
    assert _exchange(d) == ("RCT basic", 750.0, 750.0)
    assert port.pos == len(transcript)


def test_replay_with_a_lost_reply_re_sends_the_query_not_the_setter(
        profile: StirrerProfile) -> None:
    transcript = _transcript("set-speed-750-lost-reply", "timeout:IN_SP_4", profile)
    writes = [data for kind, data in transcript if kind == "w"]
    assert writes[4:7] == [b"OUT_SP_4 750 \r\n", b"IN_SP_4 \r\n", b"IN_SP_4 \r\n"]
    assert writes.count(b"OUT_SP_4 750 \r\n") == 1
    port, d = _replay(transcript, profile)
    assert _exchange(d)[1] == 750.0
    assert port.pos == len(transcript)


def test_replay_catches_a_driver_that_gives_up_sooner(profile: StirrerProfile) -> None:
    transcript = _transcript("set-speed-750-lost-reply", "timeout:IN_SP_4", profile)
    _, d = _replay(transcript, profile, retries=0)
    d.open()
    with pytest.raises(TransientDeviceError, match=r"IN_SP_4: no reply within 0.3 s"):
        d.set_speed(750)


def test_replay_catches_a_changed_command(profile: StirrerProfile) -> None:
    _, d = _replay(_transcript("set-speed-750", "", profile), profile, watchdog_s=30)
    with pytest.raises(AssertionError, match="OUT_WD1@30"):
        d.open()
