"""Ocean Insight spectrometers through seabreeze (pyseabreeze backend), guarded.

seabreeze speaks the protocol; this module only keeps it from hanging or lying:

- its IPv4 transport opens sockets without a timeout and loops forever in ``recv_into`` once the
  peer closes; our handle sets the timeout right at connect and turns end-of-stream into a
  ``ConnectionResetError``;
- its spectrum read raises the socket timeout by the integration time on every call (the timeout
  ratchets up without bound), so every read uses our timeout instead;
- it swallows a NACK to a command that asked for an ACK, and only warns on a bad MD5 checksum;
  we record the device's error codes and check checksums of data replies ourselves;
- every call runs under a deadline: over TCP the socket itself refuses to read past it (a peer
  trickling bytes defeats a plain timeout); USB calls run in a worker thread abandoned at the
  deadline. After any transport trouble the link is closed and rebuilt.

Transport trouble (timeouts, resets, garbage, bad frames) is retried with backoff on a fresh
connection a bounded number of times, then raised as ``TransientDeviceError``; an error the
device reports itself is never retried (``DeviceFaultError``).

Darks, in the ways real rigs take them (``OceanSettings.dark``, checked against what seabreeze
exposes for the model when the device opens): ``lamp_shutter`` switches the light source off
through the spectrometer's lamp-enable line (seabreeze's ``light_source``, ``strobe_lamp``,
``continuous_strobe`` or ``shutter`` feature, whichever the model has); ``ttl_shutter`` closes
a shutter on its own line (``shutter``); ``electric_dark`` subtracts the mean of the detector's
masked pixels from every read, as seabreeze's ``Spectrometer.intensities(correct_dark_counts=
True)`` does; ``operator`` asks a person to close and open the light path, with a timeout; and
``emulator`` is the emulated lab's physics link. The first scan after the light path changes is
discarded (it integrated across the change), and a dark that is as bright as the light means the
path did not close: a fault, never a dark. Every read is linearised with the device's own
nonlinearity coefficients (the correction ``intensities(correct_nonlinearity=True)`` applies).
Each spectrum records its dark mode (``meta['dark_mode']``).
"""

from __future__ import annotations

import hashlib
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from seabreeze.pyseabreeze.api import SeaBreezeAPI
from seabreeze.pyseabreeze.devices import SeaBreezeDevice
from seabreeze.pyseabreeze.exceptions import SeaBreezeError
from seabreeze.pyseabreeze.protocol import OBPProtocol
from seabreeze.pyseabreeze.transport import IPv4Transport, IPv4TransportHandle

from mscrobot.lab.protocols import (
    DeviceFaultError,
    LabRefusalError,
    TransientDeviceError,
)
from mscrobot.spectra.types import FloatArray, Spectrum, saturated

T = TypeVar("T")

#: What a broken link or a mangled frame raises inside seabreeze (retry on a fresh link).
_TRANSPORT_ERRORS = (OSError, EOFError, SeaBreezeError, AssertionError, struct.error,
                     RuntimeError, ValueError)


class CorruptReplyError(SeaBreezeError):
    """A data reply whose MD5 checksum does not match its bytes."""


@dataclass(frozen=True)
class OceanSettings:
    """How to reach the spectrometer and how patient to be (the lab config's ``spectrometer:``).

    ``address`` "host:port" selects an Ethernet model over OBP/TCP (HDX); without it the first
    USB device of ``model`` (and ``serial``, if given) is opened.
    """

    address: str | None = None
    model: str = "HDX"
    serial: str | None = None
    #: socket timeout for one reply beyond the integration time
    io_timeout_s: float = 1.0
    #: transport attempts per call before giving up (1 = no retry)
    attempts: int = 3
    #: first backoff between attempts, doubled each time
    backoff_s: float = 0.1
    integration_ms: float = 10.0
    scans: int = 4
    #: auto-ranging puts the brightest pixel here (fraction of full scale)
    target_fraction: float = 0.8
    #: how darks are taken: lamp_shutter, ttl_shutter, electric_dark, operator, emulator
    dark: str = "emulator"
    #: linearise each read with the device's nonlinearity coefficients, where it has them
    nonlinearity: bool = True
    #: dark: operator — how long to wait for the operator, s
    operator_timeout_s: float = 300.0
    #: how long the light path takes to close or open (shutter travel, lamp switching), s
    settle_s: float = 0.05
    #: a sample still saturated after this many reads is returned (the analysis flags it)
    saturation_retries: int = 2
    #: the longest integration time auto-ranging may choose (ms)
    max_auto_ms: float = 5_000.0
    #: USB: the pyusb backend to enumerate with (None: pyusb's own, i.e. libusb)
    usb_backend: Any = None

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.scans < 1 or not 0.0 < self.target_fraction < 1.0:
            raise ValueError("attempts and scans must be ≥ 1, target_fraction in (0, 1)")
        if self.dark not in DARK_MODES:
            raise ValueError(f"dark {self.dark!r}: one of {', '.join(DARK_MODES)}")


#: Dark modes this driver knows (the lab file's ``spectrometer.dark``, plus the emulator's link).
DARK_MODES = ("lamp_shutter", "ttl_shutter", "electric_dark", "operator", "emulator")

#: seabreeze features that switch the light source, tried in this order, with how to switch it.
_LAMP_FEATURES: tuple[tuple[str, Callable[[Any, bool], None]], ...] = (
    ("light_source", lambda f, on: f.set_enable(0, on)),
    ("strobe_lamp", lambda f, on: f.enable_lamp(on)),
    ("continuous_strobe", lambda f, on: f.set_enable(on)),  # the lamp-enable line (OOI: J2 pin 4)
    ("shutter", lambda f, on: f.set_shutter_open(on)),
)

#: A dark whose brightest pixels reach this fraction of the light's is lit: the path stayed open.
LIT_DARK_FRACTION = 0.5

#: What an operator is asked, and answers within a timeout (True: done, False: no answer).
Operator = Callable[[str, float], bool]


class _Deadline:
    """When the call in progress must be over (monotonic seconds), shared by handle and socket."""

    at: float | None = None


class _EofSocket(socket.socket):
    """A socket whose reads obey the call's deadline and raise at end of stream, where
    seabreeze's loop would spin on ``recv_into`` returning 0 forever."""

    deadline: _Deadline
    io_timeout_s: float

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        # our timeout per recv, whatever seabreeze set (its value ratchets up on every read)
        timeout = self.io_timeout_s
        if self.deadline.at is not None:
            left = self.deadline.at - time.monotonic()
            if left <= 0:
                raise TimeoutError("call deadline passed while reading")
            timeout = min(timeout, left)
        self.settimeout(timeout)
        n = super().recv_into(buffer, nbytes, flags)
        if n == 0 and (nbytes or len(buffer)):
            raise ConnectionResetError("the spectrometer closed the connection")
        return n


class _GuardedHandle(IPv4TransportHandle):
    """seabreeze's IPv4 handle with a connect/read timeout and a close that closes."""

    def __init__(self, address: str, port: int, timeout_s: float) -> None:
        super().__init__(address, port)
        self.timeout_s = timeout_s
        self.deadline = _Deadline()

    def open(self) -> None:
        self.socket = _EofSocket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.deadline, self.socket.io_timeout_s = self.deadline, self.timeout_s
        self.socket.settimeout(self.timeout_s)
        try:
            self.socket.connect(self.get_address())
        except OSError as e:
            self.socket.close()
            raise ConnectionError(f"could not connect to {self.get_address()}: {e}") from e
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self) -> None:
        # seabreeze's finalizer closes only the first socket; reopened ones would leak
        self.abort()
        super().close()

    def abort(self) -> None:
        """Shut the socket down: a thread blocked in recv wakes up with an error."""
        with suppress(OSError):
            self.socket.shutdown(socket.SHUT_RDWR)
        self.socket.close()


def parse_address(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"spectrometer address {address!r} is not host:port")
    return socket.gethostbyname(host or "127.0.0.1"), int(port)


class _Link:
    """One open seabreeze device plus the guards around it; rebuilt after transport trouble."""

    def __init__(self, settings: OceanSettings) -> None:
        self.settings = settings
        self.device: Any = None
        self.handle: _GuardedHandle | None = None
        self.device_errors: list[str] = []

    def open(self) -> None:
        s = self.settings
        if s.address is not None:
            host, port = parse_address(s.address)
            with suppress(ValueError):  # already registered by an earlier connection
                IPv4Transport.register_model(s.model, ipv4_address=host, ipv4_port=port)
            self.handle = _GuardedHandle(host, port, s.io_timeout_s)
            self.device = SeaBreezeDevice(self.handle)
        else:
            self.device = _find_usb(s.model, s.serial, s.usb_backend)
        self.device.open()
        protocol = self.device._transport.protocol
        if isinstance(protocol, OBPProtocol):
            self._guard_obp(protocol)

    def _guard_obp(self, protocol: OBPProtocol) -> None:
        check_header = protocol._check_incoming_message_header
        extract = protocol._extract_message_data
        device_codes = set(protocol.OBP.ERROR_CODES.values())
        errors = self.device_errors

        def checked_header(header: bytes, *, _raw: bool = False) -> Any:
            try:
                return check_header(header, _raw=_raw)
            except SeaBreezeError as e:
                if str(e) in device_codes:
                    errors.append(str(e))
                raise

        def checked_extract(msg: bytes) -> bytes:
            fields = struct.unpack(protocol.OBP.HEADER_FMT, bytes(msg[:44]))
            if (fields[7] == protocol.OBP.CHECKSUM_TYPE_MD5
                    and hashlib.md5(msg[:-20]).digest() != bytes(msg[-20:-4])):
                raise CorruptReplyError("reply checksum does not match its data")
            return extract(msg)

        protocol._check_incoming_message_header = checked_header  # type: ignore[method-assign]
        protocol._extract_message_data = checked_extract  # type: ignore[method-assign]

    def call(self, fn: Callable[[], T], deadline_s: float, what: str) -> T:
        """``fn()`` finished within ``deadline_s`` or a ``TimeoutError``. Over TCP the socket
        enforces it in this thread (no hand-off per spectrum); USB calls, whose blocking we do
        not control, run in a worker thread that is abandoned at the deadline."""
        if self.handle is None:
            return _run_with_deadline(fn, deadline_s, self.close, what)
        self.handle.deadline.at = time.monotonic() + deadline_s
        try:
            return fn()
        finally:
            self.handle.deadline.at = None

    def abort(self) -> None:
        if self.handle is not None:
            self.handle.abort()

    def close(self) -> None:
        try:
            if self.device is not None and self.device.is_open:
                self.device.close()
        except Exception:
            pass
        if self.handle is not None:
            self.handle.abort()


def _find_usb(model: str, serial: str | None, backend: Any = None) -> Any:
    """The first USB device that may be a ``model`` (seabreeze lists a FLAMES as the
    USB2000PLUS it shares a product id with until it is open), as seabreeze's own
    ``list_devices`` enumerates them, with ``backend`` if given."""
    from seabreeze.pyseabreeze import devices

    wanted = devices._model_class_registry.get(model)
    if backend is None:
        found = SeaBreezeAPI().list_devices()
    else:
        import usb.core
        from seabreeze.pyseabreeze.transport import USBTransport, USBTransportHandle

        ids = USBTransport.vendor_product_ids
        found = [SeaBreezeDevice(USBTransportHandle(d)) for d in usb.core.find(
            find_all=True, backend=backend,
            custom_match=lambda d: (d.idVendor, d.idProduct) in ids)]
    for device in found:
        if (wanted is not None and isinstance(device, SeaBreezeDevice)
                and issubclass(wanted, type(device))
                and (serial is None or device.serial_number in (serial, "?"))):
            return device
    raise ConnectionError(f"no USB {model}{' ' + serial if serial else ''} found")


def _run_with_deadline(fn: Callable[[], T], deadline_s: float, on_timeout: Callable[[], None],
                       what: str) -> T:
    """``fn()`` in a daemon thread; past ``deadline_s`` call ``on_timeout`` and raise."""
    box: dict[str, Any] = {}
    done = threading.Event()

    def work() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:
            box["error"] = e
        finally:
            done.set()

    threading.Thread(target=work, name=f"seabreeze {what}", daemon=True).start()
    if not done.wait(deadline_s):
        on_timeout()
        done.wait(1.0)
        raise TimeoutError(f"{what}: no complete reply within {deadline_s:.2f} s")
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


class OceanSpectrometer:
    """An Ocean spectrometer: calibrated axis, darks, references, auto-ranging, averaging."""

    def __init__(self, settings: OceanSettings,
                 shutter: Callable[[bool], None] | None = None,
                 operator: Operator | None = None) -> None:
        self.settings = settings
        #: ttl_shutter / emulator: closes (True) / opens (False) the light path for darks
        self.shutter = shutter
        #: operator: asks a person, waits up to the timeout
        self.operator = operator
        #: lamp_shutter: the seabreeze feature that switches the lamp (found at open)
        self.lamp_feature = ""
        self.nonlinearity_coefficients: list[float] = []
        self._link: _Link | None = None
        self._lock = threading.RLock()
        self.integration_ms = settings.integration_ms
        self.serial_number = ""
        self.model = settings.model
        self.wavelengths_nm: FloatArray = np.zeros(0)
        self.full_scale = 65535.0
        self.limits_ms = (0.0, float("inf"))
        self.electric_dark_pixels: list[int] = []
        self.darks: dict[float, Spectrum] = {}
        self.reconnects = 0
        #: open without setting anything (``devices probe``: identity and state only)
        self.read_only = False

    # --- connection -----------------------------------------------------------------------

    def open(self) -> OceanSpectrometer:
        """Connect, read identity, calibration and limits, set the integration time."""
        self._call(lambda dev: None, "open")
        return self

    def close(self) -> None:
        with self._lock:
            if self._link is not None:
                self._link.close()
                self._link = None

    def __enter__(self) -> OceanSpectrometer:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connect(self) -> _Link:
        link = _Link(self.settings)
        try:
            link.call(link.open, self.settings.io_timeout_s * 4 + 1.0, "open")
            dev = link.device
            spec = dev.f.spectrometer
            self.serial_number = str(dev.serial_number)
            self.model = str(dev.model)
            if self.model != self.settings.model:  # USB: one product id, told apart once open
                raise LabRefusalError(f"the device is a {self.model}, not the "
                                      f"{self.settings.model} the lab file names")
            self.wavelengths_nm = link.call(lambda: np.asarray(spec.get_wavelengths(), float),
                                            self.settings.io_timeout_s * 2 + 1.0, "wavelengths")
            lo, hi = spec.get_integration_time_micros_limits()
            self.limits_ms = (lo / 1000.0, hi / 1000.0)
            self.full_scale = float(spec.get_maximum_intensity())
            self.electric_dark_pixels = list(spec.get_electric_dark_pixel_indices())
            nl = dev.f.nonlinearity_coefficients
            self.nonlinearity_coefficients = [] if nl is None else link.call(
                lambda: [float(c) for c in nl.get_nonlinearity_coefficients()],
                self.settings.io_timeout_s * 2 + 1.0, "nonlinearity coefficients")
            self._check_dark_mode(dev)
            if not self.read_only:
                self._apply_integration(link, self.integration_ms)
                if self.lamp_feature:  # lamp_shutter: the lamp is lit between darks
                    feature, switch = getattr(dev.f, self.lamp_feature), \
                        dict(_LAMP_FEATURES)[self.lamp_feature]
                    link.call(lambda: switch(feature, True), self.settings.io_timeout_s * 2
                              + 1.0, f"lamp on ({self.lamp_feature})")
        except BaseException:
            link.close()
            raise
        return link

    def _check_dark_mode(self, dev: Any) -> None:
        """Refuse, at open, a dark mode this model cannot do (nothing has been read yet)."""
        mode, model = self.settings.dark, self.model
        if mode == "electric_dark" and not self.electric_dark_pixels:
            raise LabRefusalError(f"dark: electric_dark, but seabreeze lists no electric-dark "
                                  f"pixels for the {model}: use lamp_shutter, ttl_shutter or "
                                  "operator")
        if mode == "lamp_shutter":
            found = [name for name, _ in _LAMP_FEATURES if getattr(dev.f, name, None)]
            if not found:
                has = sorted(k for k, v in dev.features.items() if v)
                raise LabRefusalError(
                    f"dark: lamp_shutter, but seabreeze exposes no lamp control for the "
                    f"{model} (none of {', '.join(n for n, _ in _LAMP_FEATURES)}; it has "
                    f"{', '.join(has)}): use ttl_shutter or operator"
                    + ("" if not self.electric_dark_pixels else ", or electric_dark"))
            self.lamp_feature = found[0]

    def _apply_integration(self, link: _Link, ms: float) -> None:
        spec = link.device.f.spectrometer
        us = round(ms * 1000.0)
        link.device_errors.clear()
        link.call(lambda: spec.set_integration_time_micros(us),
                  self.settings.io_timeout_s * 2 + 1.0, "integration time")
        if link.device_errors:
            raise DeviceFaultError(f"spectrometer refused integration time {ms} ms: "
                                   f"{link.device_errors[-1]}")

    def _call(self, fn: Callable[[Any], T], what: str, extra_s: float = 0.0) -> T:
        """``fn(device)`` under a deadline, on a fresh link after transport trouble."""
        s = self.settings
        with self._lock:
            last: BaseException | None = None
            for attempt in range(s.attempts):
                if attempt:
                    time.sleep(s.backoff_s * 2 ** (attempt - 1))
                try:
                    if self._link is None:
                        self._link = self._connect()
                        self.reconnects += attempt > 0
                    link = self._link
                    link.device_errors.clear()
                    return link.call(lambda link=link: fn(link.device),
                                     extra_s + 2 * s.io_timeout_s + 1.0, what)
                except DeviceFaultError:
                    self.close()
                    raise
                except _TRANSPORT_ERRORS as e:
                    reported = self._link.device_errors[-1:] if self._link is not None else []
                    self.close()
                    if reported:
                        raise DeviceFaultError(
                            f"spectrometer {self._where()} reported an error on {what}: "
                            f"{reported[0]}") from e
                    last = e
            raise TransientDeviceError(
                f"spectrometer {self._where()}: {what} failed {s.attempts} times; last: "
                f"{type(last).__name__}: {last}") from last

    def _where(self) -> str:
        return self.settings.address or f"USB {self.settings.model}"

    # --- acquisition ------------------------------------------------------------------------

    def set_integration_ms(self, ms: float) -> float:
        """Set the integration time (clamped to the device's limits); returns what was set."""
        lo, hi = self.limits_ms
        ms = float(min(max(ms, lo), hi - 0.001))
        with self._lock:
            self.integration_ms = ms
            if self._link is not None:
                try:
                    self._apply_integration(self._link, ms)
                except _TRANSPORT_ERRORS:
                    self.close()  # the next call reconnects and applies it
        return ms

    def read_raw(self) -> FloatArray:
        """One scan, corrected as the dark mode and the device's coefficients say."""
        return self._scan()[0]

    def _scan(self) -> tuple[FloatArray, float]:
        """One scan: (corrected counts, the brightest raw count, for saturation)."""
        def get(dev: Any) -> FloatArray:
            return np.asarray(dev.f.spectrometer.get_intensities(), float)

        raw = self._call(get, "spectrum", extra_s=self.integration_ms / 1000.0)
        return self.correct(raw), float(np.max(raw))

    def correct(self, raw: FloatArray) -> FloatArray:
        """``raw`` as seabreeze's ``Spectrometer.intensities(correct_dark_counts=…,
        correct_nonlinearity=…)`` returns it (the same arithmetic, on a scan read under our
        deadline): the electric-dark offset (mean of the masked pixels) removed, then divided
        by the nonlinearity polynomial of the device's coefficients (lowest order first)
        evaluated at those counts; without electric-dark correction the offset is put back."""
        electric = self.settings.dark == "electric_dark"
        coeffs = self.nonlinearity_coefficients if self.settings.nonlinearity else []
        if not electric and not coeffs:
            return raw
        pixels = self.electric_dark_pixels
        offset = float(np.mean(raw[pixels])) if pixels else 0.0
        out = raw - offset
        if coeffs:
            out = out / np.polynomial.polynomial.polyval(out, np.asarray(coeffs, float))
        return out if electric else out + offset

    def read(self, scans: int | None = None, kind: str = "sample",
             **meta: Any) -> Spectrum:
        """The mean of ``scans`` consecutive scans, as a ``Spectrum`` on the device's axis."""
        n = scans or self.settings.scans
        with self._lock:
            if self._link is None:
                self.open()
            total = np.zeros_like(self.wavelengths_nm)
            peak = 0.0
            for _ in range(n):
                counts, raw_peak = self._scan()
                peak = max(peak, raw_peak)
                total += counts
            return Spectrum(self.wavelengths_nm.copy(), total / n, self.integration_ms, n,
                            self.full_scale,
                            {"kind": kind, "serial": self.serial_number,
                             "saturated": saturated(peak, self.full_scale),
                             "dark_mode": self.settings.dark,
                             "nonlinearity": bool(self.settings.nonlinearity
                                                  and self.nonlinearity_coefficients),
                             **meta})

    def auto_range(self, target_fraction: float | None = None, max_steps: int = 8) -> float:
        """Set the integration time that puts the brightest pixel near ``target_fraction`` of
        full scale for what is in the light path now (a saturated read shortens it 4×)."""
        target = (target_fraction or self.settings.target_fraction) * self.full_scale
        with self._lock:
            if self._link is None:
                self.open()
            for _ in range(max_steps):
                counts = self.read_raw()
                peak = float(np.max(counts))
                t = self.integration_ms
                if saturated(peak, self.full_scale):
                    self.set_integration_ms(t / 4.0)
                    continue
                dark = self.darks.get(t)
                offset = (float(np.mean(dark.counts)) if dark is not None
                          else float(np.percentile(counts, 1)))
                new = t * 4.0 if peak - offset <= 0 else t * (target - offset) / (peak - offset)
                # a dark light path (a lamp left off) must not send it to the device's limit
                # (a FLAME-S takes 655 s): at most 4× per step, and never past max_auto_ms
                new = self.set_integration_ms(min(new, 4.0 * t, self.settings.max_auto_ms))
                if abs(new - t) <= 0.03 * t:
                    return new
            return self.integration_ms

    def capture_dark(self, scans: int | None = None) -> Spectrum:
        """A dark at the current integration time, the light path closed as the dark mode
        says (electric_dark: nothing to close; the reads are already offset-free, so the dark
        is zero, with the offset the masked pixels read kept in its meta)."""
        mode = self.settings.dark
        if mode == "electric_dark":
            with self._lock:
                if self._link is None:
                    self.open()
                raw = self._call(lambda dev: np.asarray(dev.f.spectrometer.get_intensities(),
                                                        float),
                                 "spectrum", extra_s=self.integration_ms / 1000.0)
            offset = float(np.mean(raw[self.electric_dark_pixels]))
            dark = Spectrum(self.wavelengths_nm.copy(), np.zeros_like(self.wavelengths_nm),
                            self.integration_ms, 1, self.full_scale,
                            {"kind": "dark", "serial": self.serial_number, "saturated": False,
                             "dark_mode": mode, "electric_dark_offset": offset,
                             "nonlinearity": bool(self.settings.nonlinearity
                                                  and self.nonlinearity_coefficients)})
        else:
            self.light_path(closed=True)
            try:
                self.read_raw()  # integrated across the change: discarded
                dark = self.read(scans, kind="dark")
            finally:
                self.light_path(closed=False)
            self.read_raw()
        self.darks[self.integration_ms] = dark
        return dark

    def light_path(self, closed: bool) -> None:
        """Close (or open) the light path as the dark mode says, and let it settle."""
        mode = self.settings.dark
        if mode == "lamp_shutter":
            name = self.lamp_feature
            switch = dict(_LAMP_FEATURES)[name]
            self._call(lambda dev: switch(getattr(dev.f, name), not closed),
                       f"lamp {'off' if closed else 'on'} ({name})")
        elif mode == "operator":
            what = ("close the light path (the lamp's shutter) for a dark" if closed else
                    "open the light path again")
            if self.operator is None:
                raise LabRefusalError("dark: operator, but no operator can be asked here "
                                      "(run it from a terminal)")
            if not self.operator(what, self.settings.operator_timeout_s):
                raise DeviceFaultError(f"the operator did not confirm '{what}' within "
                                       f"{self.settings.operator_timeout_s:g} s")
            return
        elif self.shutter is not None:
            self.shutter(closed)
        else:
            raise LabRefusalError(f"dark: {mode}, but nothing here closes the light path")
        time.sleep(self.settings.settle_s)

    def capture_reference(self, blank: str, scans: int | None = None) -> Spectrum:
        """Read the blank now in the cell as the reference named ``blank``."""
        return self.read(scans, kind="reference", blank=blank)


class OceanLabSpectrometer:
    """The engine's ``Spectrometer`` on an ``OceanSpectrometer``.

    It keeps no references of its own: the plan journals each (dark, reference) pair and asks for
    samples at the reference's integration time, so a restarted process reads exactly as the
    one that took the reference did."""

    def __init__(self, device: OceanSpectrometer) -> None:
        self.device = device

    def reference(self, op_id: str, blank: str, integration_ms: float | None = None
                  ) -> tuple[Spectrum, Spectrum]:
        """Auto-range on the blank (or set ``integration_ms``), then its dark and reference. A
        saturated scan (a flash on the open port) would spoil every sample read against this
        reference, so it is read again; one still saturated is a fault."""
        dev = self.device
        if dev.settings.dark in ("ttl_shutter", "emulator") and dev.shutter is None:
            raise LabRefusalError("the spectrometer has no way to close the light path for a "
                                  "dark: configure the light source's shutter")
        if integration_ms is None:
            dev.auto_range()
        else:
            dev.set_integration_ms(integration_ms)
        dark = dev.capture_dark()
        reference = self._unsaturated(lambda: dev.capture_reference(blank))
        if reference.meta["saturated"]:
            raise DeviceFaultError(f"the {blank} reference saturates the detector at "
                                   f"{dev.integration_ms:g} ms on every read")
        lit, light = (float(np.percentile(x.counts, 99)) for x in (dark, reference))
        if dev.settings.dark != "electric_dark" and lit >= LIT_DARK_FRACTION * light:
            raise DeviceFaultError(
                f"the dark ({dev.settings.dark}) reads {lit:.0f} counts against the "
                f"{blank} reference's {light:.0f}: the light path did not close")
        return dark, reference

    def measure(self, op_id: str, integration_ms: float) -> Spectrum:
        dev = self.device
        if abs(dev.integration_ms - integration_ms) > 1e-6:
            dev.set_integration_ms(integration_ms)
        return self._unsaturated(lambda: dev.read(op_id=op_id))

    def _unsaturated(self, read: Callable[[], Spectrum]) -> Spectrum:
        """``read()`` again while saturated, up to ``saturation_retries`` times (a sample that
        stays saturated is returned: the analysis flags it)."""
        spectrum = read()
        for _ in range(self.device.settings.saturation_retries):
            if not spectrum.meta["saturated"]:
                break
            spectrum = read()
        return spectrum


@contextmanager
def open_ocean(settings: OceanSettings, shutter: Callable[[bool], None] | None = None,
               operator: Operator | None = None) -> Iterator[OceanSpectrometer]:
    device = OceanSpectrometer(settings, shutter, operator)
    try:
        yield device.open()
    finally:
        device.close()
