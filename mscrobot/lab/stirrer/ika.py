"""IKA magnetic stirrer over NAMUR (RCT basic, C-MAG HS 7 …): the production ``Stirrer`` driver.

Why it is built the way it is:
- Any pyserial URL works (``/dev/ttyUSB0``, ``socket://host:port``, ``rfc2217://``, ``loop://``),
  so the same code drives the real device, a serial server and the emulator.
- Setters (``OUT_SP_4 n``, ``START_4``, ``STOP_4``, ``RESET``) get no reply, so every change is
  read back (``IN_SP_4``, then ``IN_PV_4`` until the ramp is done). A setter is re-sent only after
  a read-back showed it did not take, never blindly on a timeout.
- Queries that time out or come back garbled are re-sent with backoff a bounded number of times,
  then the engine gets a one-line ``TransientDeviceError`` (nothing answered: worth retrying
  later) or ``DeviceFaultError`` (the device answers nonsense, or the motor does not reach its
  speed: magnet decoupled, load too viscous; the motor is stopped first).
- Watchdog mode 1 (``OUT_WD1@m``) is armed on open and re-sent by ``refresh()``, which the
  engine calls from its own loop (each step, and every ``WAKE_S`` of a wait) and which sends
  it at most every m/4 s: no background thread keeps it alive, so if this process dies *or its
  engine hangs*, the device switches motor and heater off by itself after m seconds. Only that
  command resets the device's timer; other traffic does not.
- mscrobot never heats: the heater (NAMUR function 1: ``OUT_SP_1``, ``START_1``, ``STOP_1``; the
  motor is function 4) is switched off (``STOP_1``) at open, with every motor stop and on
  close. NAMUR has no read-back of the heater's on/off state, so ``STOP_1`` is sent each time
  rather than believed once. ``IN_PV_1`` reads the external probe (``temperature()``), where
  the lab says one is in the vial; ``IN_PV_2`` the plate.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

from mscrobot.lab.protocols import DeviceFaultError, LabRefusalError, TransientDeviceError
from mscrobot.lab.stirrer.namur import BAUD, frame, unframe
from mscrobot.lab.stirrer.profiles import StirrerProfile

log = logging.getLogger(__name__)
T = TypeVar("T")

_LINK_ERRORS: tuple[type[Exception], ...] = (OSError,)
try:  # pyserial's posix ports raise termios.error (not an OSError) when a pty goes away
    import termios

    _LINK_ERRORS += (termios.error,)
except ImportError:  # Windows
    pass

#: A motor reading at most this is stopped (rpm): the engine's own bar for "set to 0".
STOPPED_RPM = 0.05

_SPEED = re.compile(r"(-?\d+(?:\.\d*)?) 4")
_TEMPERATURE = re.compile(r"(-?\d+(?:\.\d*)?) [12]")
_ECHO = re.compile(r"(?:OUT_WD1@)?(\d+(?:\.\d*)?)")


class Port(Protocol):
    """The part of a pyserial ``Serial`` the driver uses (a fake can stand in for replay)."""

    timeout: float | None

    def write(self, data: bytes, /) -> int | None: ...

    def read(self, size: int = 1, /) -> bytes: ...

    @property
    def in_waiting(self) -> int: ...

    def reset_input_buffer(self) -> None: ...

    def close(self) -> None: ...


PortFactory = Callable[[str, float], Port]


def open_serial(url: str, timeout: float) -> Port:
    """Open ``url`` as an IKA line: 9600 baud, 7 data bits, even parity, 1 stop bit."""
    import serial

    port = serial.serial_for_url(url, baudrate=BAUD, bytesize=serial.SEVENBITS,
                                 parity=serial.PARITY_EVEN, stopbits=serial.STOPBITS_ONE,
                                 timeout=timeout, write_timeout=max(timeout, 1.0))
    sock = getattr(port, "_socket", None)   # socket:// and rfc2217:// (serial servers)
    if sock is not None:
        # A setter has no reply, so the device side delays its ACK; with Nagle on, the query
        # written right after the setter would wait for that ACK (tens of ms).
        import socket

        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return port


class _GarbledError(Exception):
    """A reply arrived but is not what the query answers."""


class IkaStirrer:
    """One IKA stirrer on one port. Thread-safe; ``close()`` stops motor and heater.

    ``speedup`` is for emulators running faster than real time (``--speed``): ramp waits, polls
    and the watchdog period are divided by it. ``keepalive=False``: ``refresh()`` never re-sends
    the watchdog (replays, probes). ``clock``/``sleep`` and ``port_factory`` let a byte-level
    replay run without waiting.
    """

    def __init__(self, url: str, profile: StirrerProfile, *, watchdog_s: int | None = None,
                 timeout_s: float = 0.5, retries: int = 3, backoff_s: float = 0.05,
                 poll_s: float = 0.25, speedup: float = 1.0, keepalive: bool = True,
                 port_factory: PortFactory = open_serial,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.url = url
        self.profile = profile
        self.watchdog_s = profile.watchdog_s if watchdog_s is None else watchdog_s
        if not 20 <= self.watchdog_s <= 1500:
            raise ValueError(f"watchdog time {self.watchdog_s} s is outside 20–1500 s")
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.poll_s = poll_s
        self.speedup = speedup
        self._keepalive_on = keepalive
        self._factory = port_factory
        self._clock = clock
        self._sleep = sleep
        self._port: Port | None = None
        self._io = threading.Lock()      # one exchange at a time on the line
        self._op = threading.RLock()     # one speed change at a time
        self._opened_once = False
        #: when the watchdog was last armed (``clock``), None before open
        self._armed_at: float | None = None
        self.refreshes = 0
        self.label = f"stirrer {profile.model} at {url}"

    # --- life cycle -------------------------------------------------------------------------

    def open(self) -> str:
        """Connect, identify, reset to a known state (motor and heater off) and arm the
        watchdog.

        RESET clears an Er 2 left by an earlier crashed run; the motor is off then anyway, and
        ``STOP_1`` switches off a heater an earlier user left on. Returns the device's name.
        """
        with self._op:
            name = self.identify()
            if name.replace(" ", "").lower() != self.profile.model.replace(" ", "").lower():
                log.warning("%s: device says it is %r; is the profile %s the right one?",
                            self.label, name, self.profile.name)
            self._setter("RESET")
            self.heater_off()
            self._arm_watchdog()
            self._opened_once = True
            return name

    def close(self, stop_motor: bool = True) -> None:
        """Close the port. With ``stop_motor`` (the default) motor and heater are stopped and
        the device put back in normal mode (RESET), so the watchdog does not trip later;
        without it the device is simply left alone, as a crash would (its watchdog, no longer
        refreshed, then stops it)."""
        if stop_motor and self._opened_once:
            try:
                self._setter("STOP_4")
                self._setter("STOP_1")
                self._setter("RESET")
            except TransientDeviceError as e:
                log.warning("%s: could not stop the motor on close: %s", self.label, e)
        with self._io:
            self._drop_port()

    def __enter__(self) -> IkaStirrer:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the Stirrer protocol ---------------------------------------------------------------

    def set_speed(self, rpm: float) -> float:
        """Set the speed (0 stops), wait for the ramp and return the speed read back."""
        p = self.profile
        if rpm != 0 and not p.min_rpm <= rpm <= p.max_rpm:
            raise LabRefusalError(f"{self.label}: {rpm:g} rpm is outside "
                                  f"{p.min_rpm:g}–{p.max_rpm:g} rpm (or 0 to stop)")
        with self._op:
            if rpm == 0:
                self._setter("STOP_4")
                self.heater_off()
                return self._await_speed(0.0)
            self._set_setpoint(rpm)
            self._setter("START_4")
            return self._await_speed(rpm)

    def speed(self) -> float:
        """The actual speed (``IN_PV_4``)."""
        return self._query("IN_PV_4", self._parse_speed)

    # --- more of the device -----------------------------------------------------------------

    def heater_off(self) -> None:
        """``STOP_1``: heating off (no reply; NAMUR cannot read the heater's state back)."""
        self._setter("STOP_1")

    def temperature(self) -> float:
        """The external probe's temperature, °C (``IN_PV_1``; only with a probe attached)."""
        return self._query("IN_PV_1", _parse_temperature)

    def plate_temperature(self) -> float:
        """The hotplate's own temperature, °C (``IN_PV_2``)."""
        return self._query("IN_PV_2", _parse_temperature)

    def identify(self) -> str:
        return self._query("IN_NAME", _parse_name)

    def setpoint(self) -> float:
        """The set speed the device holds (``IN_SP_4``)."""
        return self._query("IN_SP_4", self._parse_speed)

    def reset(self) -> None:
        """Back to normal mode: clears an Er 2 (tripped watchdog); the motor is off after it.
        Re-arms the watchdog if this driver keeps one."""
        with self._op:
            self._setter("RESET")
            if self._opened_once:
                self._arm_watchdog()

    # --- speed changes ----------------------------------------------------------------------

    def _set_setpoint(self, rpm: float) -> None:
        """``OUT_SP_4`` then ``IN_SP_4``; re-sent only when the read-back shows it did not take."""
        held = None
        for attempt in range(self.retries + 1):
            if attempt:
                log.warning("%s: set speed reads back %s, not %g; re-sending",
                            self.label, held, rpm)
                self._backoff(attempt)
            try:
                self._setter(f"OUT_SP_4 {rpm:g}")
            except TransientDeviceError as e:
                log.warning("%s: %s", self.label, e)
            held = self.setpoint()
            if abs(held - rpm) < 0.5:
                return
        raise DeviceFaultError(f"{self.label}: set speed {rpm:g} rpm not accepted (reads back "
                               f"{held:g} rpm after {self.retries + 1} tries): device in an "
                               f"error state such as Er 2 (watchdog tripped; RESET needed)?")

    def _await_speed(self, target: float) -> float:
        """Poll ``IN_PV_4`` until within tolerance; past the profile's ramp time (×1.5) the
        motor is stopped and the run gets a ``DeviceFaultError``."""
        p = self.profile
        start = self._clock()
        pv = self.speed()
        allowed = 1.5 * p.ramp_time(pv, target) / self.speedup
        # a stop is over when the motor reads still, not when it is merely slow: a caller told
        # "0" must not get a motor still coasting at a few rpm
        tolerance = p.tolerance_rpm if target > 0 else STOPPED_RPM
        while abs(pv - target) > tolerance:
            waited = self._clock() - start
            if waited > allowed:
                self._stop_after_fault()
                raise DeviceFaultError(
                    f"{self.label}: motor at {pv:.0f} rpm, not {target:.0f} rpm, "
                    f"{waited * self.speedup:.1f} s after the change (ramp allows "
                    f"{allowed * self.speedup:.1f} s): magnet decoupled or load too viscous; "
                    f"motor stopped")
            self._sleep(self.poll_s / self.speedup)
            self.refresh()
            pv = self.speed()
        return pv

    def _stop_after_fault(self) -> None:
        try:
            self._setter("STOP_4")
            self.heater_off()
        except TransientDeviceError as e:
            log.error("%s: could not stop the motor after a fault: %s", self.label, e)

    # --- watchdog ---------------------------------------------------------------------------

    def _arm_watchdog(self) -> None:
        m = self.watchdog_s

        def echo(text: str) -> int:
            found = _ECHO.fullmatch(text)
            if not found or float(found.group(1)) != m:
                raise _GarbledError(text)
            return m

        self._query(f"OUT_WD1@{m}", echo)
        self._armed_at = self._clock()

    def refresh(self) -> bool:
        """Re-send the watchdog if m/4 s (emulated: divided by ``speedup``) have passed since it
        was last armed; the engine calls this from its own loop, so a hung engine lets the
        device trip. Cheap when not due. Returns whether it was sent; a failure is logged (the
        next call tries again, and past m s the device stops by itself)."""
        if not self._keepalive_on or self._armed_at is None:
            return False
        if self._clock() - self._armed_at < self.watchdog_s / 4 / self.speedup:
            return False
        try:
            with self._op:
                self._arm_watchdog()
        except (TransientDeviceError, DeviceFaultError) as e:
            log.error("%s: watchdog not re-sent: %s", self.label, e)
            return False
        self.refreshes += 1
        return True

    # --- exchanges --------------------------------------------------------------------------

    def _parse_speed(self, text: str) -> float:
        found = _SPEED.fullmatch(text)
        if not found:
            raise _GarbledError(text)
        value = float(found.group(1))
        if not 0 <= value <= 1.2 * self.profile.max_rpm + 50:
            raise _GarbledError(text)
        return value

    def _query(self, command: str, parse: Callable[[str], T]) -> T:
        """Send a query and parse its reply; re-send it with backoff on silence or garbage."""
        timeouts = garbled = lost = 0
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self._backoff(attempt)
            with self._io:
                try:
                    port = self._connected()
                    port.reset_input_buffer()
                    port.write(frame(command))
                    raw = self._read_line(port)
                except _LINK_ERRORS as e:
                    self._drop_port()
                    lost += 1
                    last = f"connection lost ({e})"
                    continue
            if raw is None:
                timeouts += 1
                last = f"no reply within {self.timeout_s:g} s"
                continue
            text = unframe(raw)
            try:
                if text is None:
                    raise _GarbledError(raw)
                return parse(text)
            except _GarbledError:
                garbled += 1
                last = f"garbled reply {raw!r}"
        tries = self.retries + 1
        if garbled == tries:
            raise DeviceFaultError(f"{self.label}: {command}: every reply garbled (last "
                                   f"{last.removeprefix('garbled reply ')}) in {tries} tries: "
                                   f"check 9600 baud 7E1 and the cable")
        raise TransientDeviceError(f"{self.label}: {command}: {last} ({tries} tries: "
                                   f"{timeouts} silent, {garbled} garbled, {lost} link lost)")

    def _setter(self, command: str) -> None:
        """Send a command that has no reply, once (callers read back what it changed)."""
        with self._io:
            try:
                port = self._connected()
                port.write(frame(command))
            except _LINK_ERRORS as e:
                self._drop_port()
                raise TransientDeviceError(f"{self.label}: {command} not sent, connection "
                                           f"lost ({e})") from None

    def _read_line(self, port: Port) -> bytes | None:
        """Bytes up to LF, or None when the line is not complete within ``timeout_s``."""
        deadline = self._clock() + self.timeout_s
        buf = b""
        while True:
            end = buf.find(b"\n")
            if end >= 0:
                return buf[:end + 1]
            if self._clock() >= deadline:
                return None
            buf += port.read(max(1, port.in_waiting))

    def _connected(self) -> Port:
        """The open port, reconnecting if the link was lost (the device kept its state,
        watchdog included; the next ``refresh()`` re-sends it as usual)."""
        if self._port is None:
            try:
                self._port = self._factory(self.url, min(self.timeout_s, 0.05))
            except ValueError as e:
                raise DeviceFaultError(f"{self.label}: cannot open: {e}") from None
            if self._opened_once:
                log.warning("%s: reconnected", self.label)
        return self._port

    def _drop_port(self) -> None:
        if self._port is not None:
            with contextlib.suppress(*_LINK_ERRORS):
                self._port.close()
            self._port = None

    def _backoff(self, attempt: int) -> None:
        self._sleep(self.backoff_s * 2 ** (attempt - 1))


def _parse_temperature(text: str) -> float:
    found = _TEMPERATURE.fullmatch(text)
    if not found or not -100 <= float(found.group(1)) <= 600:
        raise _GarbledError(text)
    return float(found.group(1))


def _parse_name(text: str) -> str:
    if not text:
        raise _GarbledError(text)
    return text


def open_stirrer(url: str, profile: str | StirrerProfile = "ika-rct-basic",
                 **options: object) -> IkaStirrer:
    """Connect to the stirrer at ``url`` with a profile (name in hardware/devices/, a path, or
    a loaded profile), open it (identify, RESET, watchdog armed) and return it. What a lab's
    ``stirrer:`` section turns into; the lab's closers should call ``close()``."""
    from mscrobot.lab.stirrer.profiles import load_profile

    loaded = profile if isinstance(profile, StirrerProfile) else load_profile(profile)
    stirrer = IkaStirrer(url, loaded, **options)  # type: ignore[arg-type]
    stirrer.open()
    return stirrer
