"""An IKA stirrer as a real process on a pseudo-terminal or TCP: ``mscrobot emulate stirrer``.

The device (``EmulatedStirrer``) is pure state in emulated time: a motor ramping linearly to its
setpoint at the profile's rate, a heater (NAMUR function 1) and watchdog mode 1. Its state is
computed when asked (a silent line still trips the watchdog at the right emulated time).
``speed`` runs emulated time faster than the wall clock; wire pacing stays real (a pty has no
baud rate, so with ``pace`` each character costs 10 bits at 9600 baud in both directions: a
command is acted on only once its last character could have arrived, and replies leave one
character at a time).

Behaviour where IKA's manuals are silent is an assumption, kept plausible:
- unknown commands and out-of-range watchdog times get no reply (the device stays silent);
  ``OUT_SP_4`` outside the profile's range is clamped;
- replies: ``IN_NAME`` → the model name, ``IN_PV_4``/``IN_SP_4`` → ``"750.0 4"``,
  ``OUT_WD1@m`` → ``"m"`` (echo of the watchdog time);
- the heater: ``OUT_SP_1 n`` sets its temperature, ``START_1``/``STOP_1`` switch it (no reply),
  ``IN_SP_1`` → ``"60.0 1"``; while on, the plate (``IN_PV_2`` → ``"24.0 2"``) heats at an
  assumed 0.2 °C/s toward the setpoint and cools at 0.05 °C/s toward 22 °C; ``IN_PV_1`` (the
  external probe) answers the medium's temperature (the plate's, assumed) only when a probe is
  plugged in (``probe``), else nothing;
- watchdog mode 1 trips when ``OUT_WD1@m`` is not re-sent within m s (other traffic does not
  count): motor and heater off, display "Er 2". Until ``RESET`` the device keeps answering queries
  (``IN_PV_4`` shows the motor coasting to 0) but ignores ``OUT_SP_4`` and ``START_4``; a
  watchdog command is still echoed but does not clear the error. ``RESET`` (normal operating
  mode) clears Er 2, stops motor and heater and disarms the watchdog.

Faults (``--faults`` or ``Emulator.faults``), items separated by commas, ``KIND[:CMD][@N][xK]``:
the fault hits the N-th reply (1-based, counting replies to CMD only when given) and the K-1
after it (``x*``: every one from then on). Kinds: ``timeout`` (no reply), ``garbage`` (noise
then CR LF), ``partial`` (the first half of the reply, no line end), ``disconnect`` (TCP: drop
the client instead of replying; the device keeps its state and accepts the reconnection),
``wrong_readback`` (``IN_SP_4`` answers a setpoint 100 rpm off), ``stall`` (the motor never
turns although the setpoint is accepted; ``@``/``x`` do not apply).
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mscrobot.lab.stirrer.namur import CHAR_TIME_S, EOL
from mscrobot.lab.stirrer.profiles import StirrerProfile

FAULT_KINDS = ("timeout", "garbage", "partial", "disconnect", "wrong_readback", "stall")
_FAULT = re.compile(r"(?P<kind>[a-z_]+)(?::(?P<cmd>[A-Z0-9_]+))?(?:@(?P<at>\d+))?"
                    r"(?:x(?P<count>\d+|\*))?")


class DisconnectError(Exception):
    """The fault plan says: drop this client now."""


# --- the device -----------------------------------------------------------------------------

class EmulatedStirrer:
    """The device's state in emulated seconds (``clock``); ``handle`` answers one command."""

    #: assumed plate behaviour (°C, °C/s)
    AMBIENT_C, HEAT_C_PER_S, COOL_C_PER_S = 22.0, 0.2, 0.05

    def __init__(self, profile: StirrerProfile, clock: Callable[[], float],
                 probe: bool = False) -> None:
        self.profile = profile
        self.probe = probe
        self.heating = False
        self.temp_setpoint = 25.0
        self.plate_c = self.AMBIENT_C
        #: emulated time at which the heater was last switched off, or on (tests read it)
        self.heater_changes: list[tuple[float, bool]] = []
        self.clock = clock
        self.t = clock()
        self.setpoint = 0.0
        self.running = False
        self.actual = 0.0
        self.stalled = False
        self.error: str | None = None
        self.wd_time: float | None = None
        self.wd_last = 0.0
        self.lock = threading.Lock()
        #: told when the motor is switched on, switched off and comes to rest (the device's
        #: own log of how long it stirred; the CLI prints it)
        self.on_motor: Callable[[str], None] | None = None
        self._motor = "rest"

    def advance(self) -> None:
        """Bring the motor and the watchdog up to now, tripping the watchdog on time."""
        now = self.clock()
        if self.wd_time is not None and self.error is None:
            expiry = self.wd_last + self.wd_time
            if expiry <= now:
                self._ramp_to(max(expiry, self.t))
                self.error, self.running = "Er 2", False
                self._switch_heater(False)
        self._ramp_to(now)

    def _switch_heater(self, on: bool) -> None:
        if on != self.heating:
            self.heater_changes.append((self.t, on))
        self.heating = on

    def _ramp_to(self, t: float) -> None:
        dt = max(0.0, t - self.t)
        if self.heating and self.plate_c < self.temp_setpoint:
            self.plate_c = min(self.temp_setpoint, self.plate_c + self.HEAT_C_PER_S * dt)
        elif self.plate_c > self.AMBIENT_C:
            self.plate_c = max(self.AMBIENT_C, self.plate_c - self.COOL_C_PER_S * dt)
        target = self.setpoint if self.running and not self.stalled else 0.0
        step = self.profile.ramp_rpm_per_s * dt
        if abs(target - self.actual) <= step:
            self.actual = target
        else:
            self.actual += step if target > self.actual else -step
        self.t = max(self.t, t)

    def handle(self, command: str) -> str | None:
        """The reply to one command (None: the device sends nothing)."""
        with self.lock:
            try:
                return self._handle(command)
            finally:
                self._note()

    def _note(self) -> None:
        """A ``motor on|at-speed|off|rest`` line for ``on_motor`` when the motor's state
        changed (seen when a command comes): on once started, at-speed once within the
        profile's tolerance of its setpoint, off once stopped (or tripped), rest once it reads
        0 rpm after that."""
        if self.on_motor is None:
            return
        if self.running and self.error is None:
            reached = abs(self.actual - self.setpoint) <= self.profile.tolerance_rpm
            state = "at-speed" if reached else "on"
        else:
            state = "rest" if self.actual == 0.0 else "off"
        if state == self._motor or (state == "off" and self._motor == "rest"):
            return
        self._motor = state
        self.on_motor(f"motor {state} setpoint={self.setpoint:g} actual={self.actual:g} "
                      f"t={self.t:.3f} wall={time.time():.3f}")

    def _handle(self, command: str) -> str | None:
        self.advance()
        head, _, arg = command.partition(" ")
        p = self.profile
        if command == "IN_NAME":
            return p.model
        if command == "IN_PV_4":
            return f"{self.actual:.1f} 4"
        if command == "IN_SP_4":
            return f"{self.setpoint:.1f} 4"
        if head == "OUT_SP_4" and arg:
            value = _number(arg)
            if value is not None and self.error is None:
                self.setpoint = min(max(value, p.min_rpm), p.max_rpm)
            return None
        if command == "START_4":
            if self.error is None:
                self.running = True
            return None
        if command == "STOP_4":
            self.running = False
            return None
        if command == "IN_PV_1":
            return f"{self.plate_c:.1f} 1" if self.probe else None
        if command == "IN_PV_2":
            return f"{self.plate_c:.1f} 2"
        if command == "IN_SP_1":
            return f"{self.temp_setpoint:.1f} 1"
        if head == "OUT_SP_1" and arg:
            value = _number(arg)
            if value is not None and self.error is None:
                self.temp_setpoint = min(max(value, 0.0), 310.0)
            return None
        if command == "START_1":
            if self.error is None:
                self._switch_heater(True)
            return None
        if command == "STOP_1":
            self._switch_heater(False)
            return None
        if command == "RESET":
            self.running, self.error, self.wd_time = False, None, None
            self._switch_heater(False)
            return None
        if command.startswith("OUT_WD1@"):
            m = _number(command.partition("@")[2])
            if m is None or not 20 <= m <= 1500:
                return None
            if self.error is None:
                self.wd_time, self.wd_last = m, self.clock()
            return f"{m:g}"
        return None


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


# --- faults ---------------------------------------------------------------------------------

@dataclass
class Fault:
    kind: str
    command: str | None = None
    at: int = 1
    count: int | None = 1          # None: from ``at`` on, forever

    def hits(self, n: int) -> bool:
        return n >= self.at and (self.count is None or n < self.at + self.count)


@dataclass
class FaultPlan:
    """Which replies go wrong; the Python test API (``add``) and ``--faults`` fill it."""

    faults: list[Fault] = field(default_factory=list)
    replies: int = 0
    per_command: dict[str, int] = field(default_factory=dict)
    #: told of each fault as it fires (the CLI prints it: an operator sees what was injected)
    on_fire: Callable[[str], None] | None = None

    @classmethod
    def parse(cls, spec: str) -> FaultPlan:
        plan = cls()
        for item in filter(None, (s.strip() for s in spec.split(","))):
            found = _FAULT.fullmatch(item)
            if not found or found["kind"] not in FAULT_KINDS:
                raise ValueError(f"bad fault {item!r}: expected KIND[:CMD][@N][xK] with KIND "
                                 f"one of {', '.join(FAULT_KINDS)}")
            count = found["count"]
            plan.add(found["kind"], command=found["cmd"], at=int(found["at"] or 1),
                     count=None if count in ("*", "0") else int(count or 1))
        return plan

    def add(self, kind: str, *, command: str | None = None, at: int = 1,
            count: int | None = 1) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}")
        if kind == "wrong_readback":
            command = command or "IN_SP_4"
        self.faults.append(Fault(kind, command, at, count))

    def clear(self) -> None:
        """No more faults from now on (counts keep running)."""
        self.faults.clear()

    @property
    def stall(self) -> bool:
        return any(f.kind == "stall" for f in self.faults)

    def for_reply(self, command: str) -> str | None:
        """Count this reply and say which fault (if any) it suffers."""
        self.replies += 1
        key = command.partition(" ")[0].partition("@")[0]
        n_cmd = self.per_command[key] = self.per_command.get(key, 0) + 1
        for f in self.faults:
            if f.kind == "stall":
                continue
            if ((f.command is None and f.hits(self.replies))
                    or (f.command is not None and f.command.partition("@")[0] == key
                        and f.hits(n_cmd))):
                if self.on_fire is not None:
                    self.on_fire(f"fault {f.kind} on {key} (reply {self.replies})")
                return f.kind
        return None


# --- the process ----------------------------------------------------------------------------

class Emulator:
    """A stirrer behind a pty or a TCP port, served from a thread (tests) or the CLI."""

    def __init__(self, profile: StirrerProfile, *, speed: float = 1.0, pace: bool = True,
                 faults: FaultPlan | None = None, seed: int = 0, probe: bool = False) -> None:
        self.speed = speed
        self.pace = pace
        self.faults = faults or FaultPlan()
        t0 = time.monotonic()
        self.device = EmulatedStirrer(profile, lambda: (time.monotonic() - t0) * speed, probe)
        self.received: list[str] = []
        self.address = ""
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closers: list[Callable[[], None]] = []

    # transports

    def start_pty(self) -> str:
        """Serve on a new pseudo-terminal; returns the path a driver opens."""
        import tty

        master, slave = os.openpty()
        tty.setraw(slave)
        self.address = os.ttyname(slave)
        self._closers += [lambda: os.close(master), lambda: os.close(slave)]
        self._start(lambda: self._serve_fd(master))
        return self.address

    def start_tcp(self, port: int = 0, host: str = "127.0.0.1") -> tuple[str, int]:
        """Serve on TCP, one client at a time (like a serial server); returns the address."""
        server = socket.create_server((host, port))
        self._closers.append(server.close)
        bound = server.getsockname()[:2]
        self.address = f"{bound[0]}:{bound[1]}"
        self._start(lambda: self._serve_tcp(server))
        return bound[0], bound[1]

    def _start(self, target: Callable[[], None]) -> None:
        self._thread = threading.Thread(target=target, daemon=True, name="ika-emulator")
        self._thread.start()

    def wait(self) -> None:
        """Block until ``stop`` (the CLI's main loop)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(0.5)

    def request_stop(self) -> None:
        """Ask the serving thread to end (safe from a signal handler)."""
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        for close in self._closers:
            with contextlib.suppress(OSError):
                close()
        self._closers.clear()

    def _serve_tcp(self, server: socket.socket) -> None:
        server.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with conn:
                self._serve_fd(conn.fileno(), send=conn.sendall)

    def _serve_fd(self, fd: int, send: Callable[[bytes], object] | None = None) -> None:
        """Read lines from ``fd`` and answer them until stopped or the client goes away."""
        write = send or (lambda data: os.write(fd, data))
        buf, first_byte = b"", 0.0
        while not self._stop.is_set():
            ready, _, _ = select.select([fd], [], [], 0.1)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:          # pty with no client open yet: wait for one
                time.sleep(0.05)
                continue
            if not chunk:
                return               # TCP client gone
            if not buf:
                first_byte = time.monotonic()
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if self.pace:        # the command's last character arrives only now
                    _sleep_until(first_byte + (len(line) + 1) * CHAR_TIME_S)
                first_byte = time.monotonic()
                try:
                    self._answer(line, write)
                except DisconnectError:
                    return
                except OSError:
                    return

    def _answer(self, line: bytes, write: Callable[[bytes], object]) -> None:
        text = line.rstrip(b"\r").rstrip(b" ")
        if any(b > 0x7E or b < 0x20 for b in text):
            return                   # a 7-bit device sees parity errors: ignores the line
        command = text.decode("ascii")
        self.received.append(command)
        self.device.stalled = self.faults.stall
        reply = self.device.handle(command)
        if reply is None:
            return
        fault = self.faults.for_reply(command)
        if fault == "timeout":
            return
        if fault == "disconnect":
            raise DisconnectError
        data = reply.encode("ascii") + EOL
        if fault == "garbage":
            noise = [self._rng.randrange(0x00, 0x7F) for _ in range(8)]
            data = bytes(b for b in noise if b not in (10, 13)) + b"\x15\r\n"
        elif fault == "partial":
            data = data[:max(1, len(reply) // 2)]
        elif fault == "wrong_readback":
            p = self.device.profile
            off = self.device.setpoint + (100 if self.device.setpoint + 100 <= p.max_rpm
                                          else -100)
            data = f"{off:.1f} 4".encode("ascii") + EOL
        self._send(data, write)

    def _send(self, data: bytes, write: Callable[[bytes], object]) -> None:
        if not self.pace:
            write(data)
            return
        start = time.monotonic()
        for i in range(len(data)):
            _sleep_until(start + (i + 1) * CHAR_TIME_S)
            write(data[i:i + 1])


def _sleep_until(t: float) -> None:
    delay = t - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def run(*, pty: bool, tcp: int | None, host: str, speed: float, pace: bool, faults: str,
        profile: str, probe: bool = False, heating: bool = False) -> None:
    """``mscrobot emulate stirrer``: serve until SIGTERM or Ctrl-C; first stdout line is the
    address a driver opens (a pty path, or HOST:PORT for ``socket://HOST:PORT``)."""
    import signal
    import sys

    from mscrobot.lab.stirrer.profiles import load_profile

    if pty == (tcp is not None):
        raise ValueError("give exactly one of --pty or --tcp PORT")
    if speed <= 0:
        raise ValueError("--speed must be positive")
    plan = FaultPlan.parse(faults)
    plan.on_fire = lambda what: print(what, file=sys.stderr, flush=True)
    if pty and any(f.kind == "disconnect" for f in plan.faults):
        raise ValueError("the disconnect fault needs --tcp (a pty cannot be unplugged)")
    emulator = Emulator(load_profile(profile), speed=speed, pace=pace, faults=plan, probe=probe)
    emulator.device.on_motor = lambda line: print(line, file=sys.stderr, flush=True)
    emulator.device.heating = heating
    if pty:
        emulator.start_pty()
    else:
        emulator.start_tcp(tcp or 0, host)
    print(emulator.address, flush=True)
    print(f"IKA {emulator.device.profile.model} emulator on {emulator.address} "
          f"(speed ×{speed:g}, pacing {'on' if pace else 'off'}, faults: {faults or 'none'}, "
          f"heater {'on' if heating else 'off'}, probe {'in' if probe else 'none'})",
          file=sys.stderr, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: emulator.request_stop())
    try:
        emulator.wait()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
