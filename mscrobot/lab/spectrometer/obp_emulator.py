"""An Ocean HDX at the device side of the Ocean Binary Protocol (OBP) over TCP.

Written from the OBP message layout (44-byte header, immediate data up to 16 bytes or a payload,
16-byte checksum, 4-byte footer 0xC5C4C3C2 on the wire), independently of seabreeze, so that
seabreeze's own HDX class talking to it is a real test of both sides. It answers what seabreeze
2.11's HDX asks on open and use (serial number, wavelength and nonlinearity coefficients,
integration time with ACK, trigger mode, raw spectrum 0x00101000 of 2068 little-endian uint16)
and NACKs anything else with "unknown message type", as the device does.

An acquisition takes the integration time (divided by ``speed``) of wall time, so the emulator
cannot deliver spectra faster than the detector could. ``acquisition="free-running"`` (default)
models the normal trigger mode as Ocean describes it: the detector integrates continuously and a
request gets the next scan to complete (assumed timing: scan boundaries every integration time
since it was last set). ``"on-request"`` starts a fresh integration per request, the pessimistic
case in which all host and network overhead adds to the integration time. Faults are injected
per spectrum request (``FaultPlan`` from ``--faults``, or ``inject`` from tests).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import random
import re
import socket
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from mscrobot.lab.spectrometer.source import SpectrumSource
from mscrobot.spectra.types import FULL_SCALE_COUNTS
from mscrobot.twin.optics import HDX_PIXELS, hdx_wavelength_coefficients

START = 0xC0C1
VERSION = 0x1100
FOOTER = 0xC2C3C4C5
HEADER = struct.Struct("<HHHHLL6sBB16sL")
FOOTER_STRUCT = struct.Struct("<16sL")

FLAG_RESPONSE, FLAG_ACK, FLAG_REQUEST_ACK, FLAG_NACK, FLAG_HW_EXCEPTION = 1, 2, 4, 8, 16
ERR_BAD_PROTOCOL, ERR_UNKNOWN_MESSAGE, ERR_BAD_CHECKSUM = 1, 2, 3
ERR_PAYLOAD_LENGTH, ERR_PAYLOAD_INVALID, ERR_CHECKSUM_TYPE, ERR_DEVICE = 5, 6, 8, 13
CHECKSUM_NONE, CHECKSUM_MD5 = 0, 1

GET_SERIAL, GET_SERIAL_LENGTH = 0x00000100, 0x00000101
GET_SPECTRUM_HDX, GET_SPECTRUM = 0x00101000, 0x00101100
SET_ITIME_US, SET_TRIGGER_MODE = 0x00110010, 0x00110110
GET_WL_COUNT, GET_WL_COEFF = 0x00180100, 0x00180101
GET_NL_COUNT, GET_NL_COEFF = 0x00181100, 0x00181101
GET_MULTICAST_ENABLED = 0x00000A80
GET_VID, GET_PID = 0x00000E00, 0x00000E01

#: HDX integration limits (µs) as seabreeze 2.11 declares them for the model.
ITIME_MIN_US, ITIME_MAX_US = 6_000, 10_000_000
OCEAN_VID, HDX_PID = 0x2457, 0x2003

FAULT_KINDS = ("timeout", "garbage", "partial", "checksum", "footer", "disconnect",
               "saturate", "nack")


class ObpError(Exception):
    """A malformed request the device answers with a NACK carrying ``code``."""

    def __init__(self, code: int, msg_type: int = 0) -> None:
        super().__init__(code)
        self.code, self.msg_type = code, msg_type


def frame(msg_type: int, data: bytes = b"", *, flags: int = FLAG_RESPONSE, error: int = 0,
          regarding: int = 0, checksum: bool = True) -> bytes:
    """One OBP message; ≤16 bytes of data go in the header's immediate field."""
    immediate, payload = (data, b"") if len(data) <= 16 else (b"", data)
    head = HEADER.pack(START, VERSION, flags, error, msg_type, regarding, b"",
                       CHECKSUM_MD5 if checksum else CHECKSUM_NONE, len(immediate), immediate,
                       len(payload) + FOOTER_STRUCT.size)
    body = head + payload
    digest = hashlib.md5(body).digest() if checksum else b""
    return body + FOOTER_STRUCT.pack(digest, FOOTER)


@dataclass
class FaultPlan:
    """Which spectrum requests misbehave, and how.

    Spec: comma-separated ``KIND@N`` (the N-th spectrum request, 1-based, over the emulator's
    life), ``KIND@N*K`` (K requests from the N-th on) or ``KIND~P`` (each request with
    probability P, seeded). KIND is one of ``FAULT_KINDS``.
    """

    at: dict[int, str] = field(default_factory=dict)
    chance: list[tuple[str, float]] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    seed: int = 0
    #: told of each fault as it fires (the CLI prints it: an operator sees what was injected)
    on_fire: Callable[[str], None] | None = None
    _rng: random.Random = field(init=False, repr=False)
    _count: int = field(default=0, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    @classmethod
    def parse(cls, spec: str | None, seed: int = 0) -> FaultPlan:
        plan = cls(seed=seed)
        for item in filter(None, (s.strip() for s in (spec or "").split(","))):
            m = re.fullmatch(r"([a-z]+)(?:@(\d+)(?:\*(\d+))?|~([0-9.]+))", item)
            if m is None or m.group(1) not in FAULT_KINDS:
                raise ValueError(f"bad fault {item!r}: want KIND@N, KIND@N*K or KIND~P with "
                                 f"KIND in {', '.join(FAULT_KINDS)}")
            kind = m.group(1)
            if m.group(4) is not None:
                plan.chance.append((kind, float(m.group(4))))
            else:
                start, repeat = int(m.group(2)), int(m.group(3) or 1)
                plan.at.update({n: kind for n in range(start, start + repeat)})
        return plan

    def inject(self, kind: str, count: int = 1) -> None:
        """Make the next ``count`` spectrum requests fail with ``kind``."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {', '.join(FAULT_KINDS)}")
        with self._lock:
            self.pending.extend([kind] * count)

    def next(self) -> str | None:
        """The fault (or None) for the spectrum request now arriving."""
        with self._lock:
            self._count += 1
            kind = self._pick()
        if kind is not None and self.on_fire is not None:
            self.on_fire(f"fault {kind} on spectrum request {self._count}")
        return kind

    def _pick(self) -> str | None:
        if self.pending:
            return self.pending.pop(0)
        if self._count in self.at:
            return self.at[self._count]
        for kind, p in self.chance:
            if self._rng.random() < p:
                return kind
        return None


class ObpEmulator:
    """The device: a TCP server, one thread per connection, one detector shared by all."""

    def __init__(self, source: SpectrumSource, *, host: str = "127.0.0.1", port: int = 0,
                 speed: float = 1.0, faults: FaultPlan | None = None,
                 serial: str = "HDX-EMU-0001",
                 coefficients: Sequence[float] | None = None,
                 nonlinearity: Sequence[float] = (1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
                 n_pixels: int = HDX_PIXELS, stall_s: float = 30.0,
                 acquisition: str = "free-running", nonlinear: float = 0.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        if acquisition not in ("free-running", "on-request"):
            raise ValueError(f"acquisition {acquisition!r}: free-running or on-request")
        self.acquisition = acquisition
        self.source, self.speed = source, speed
        self.faults = faults or FaultPlan()
        self.serial = serial.encode("ascii")[:16]
        self.coefficients = tuple(coefficients or hdx_wavelength_coefficients())
        #: the detector's response: it reads c/(1 + a·c) for c counts of light and dark, and
        #: stores the coefficients of 1 - a·x that give c back (seabreeze divides by them)
        self.nonlinear = nonlinear
        self.nonlinearity = (tuple(nonlinearity) if not nonlinear
                             else (1.0, -nonlinear, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0))
        self.n_pixels = n_pixels
        #: how long a "timeout"/"partial" fault keeps silent before the device recovers
        self.stall_s = stall_s
        self.integration_us = 100_000
        self._scan_origin = time.perf_counter()
        self.spectra_served = 0
        self._detector = threading.Lock()
        self._server = socket.create_server((host, port))
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.getsockname()[:2]
        return str(host), int(port)

    def start(self) -> ObpEmulator:
        """Serve in a background thread (tests); ``serve_forever`` blocks (the CLI)."""
        self._thread = threading.Thread(target=self.serve_forever, name="obp-emulator",
                                        daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._server.accept()
            except OSError:
                break
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._conns_lock:
                self._conns.add(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def drop_connections(self) -> None:
        """Cut every open connection (the device rebooting); new ones are accepted."""
        with self._conns_lock:
            conns, self._conns = list(self._conns), set()
        for conn in conns:
            _hard_close(conn)

    def close(self) -> None:
        """Stop listening and cut every connection (a dead device)."""
        self._closed.set()
        _hard_close(self._server)
        self.drop_connections()
        if self._thread is not None:
            self._thread.join(timeout=2.0)

    def __enter__(self) -> ObpEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def inject(self, kind: str, count: int = 1) -> None:
        self.faults.inject(kind, count)

    # --- one connection ------------------------------------------------------------------------

    def _serve(self, conn: socket.socket) -> None:
        try:
            while not self._closed.is_set():
                head = _recv_exact(conn, HEADER.size)
                if head is None:
                    return
                reply = self._handle(conn, head)
                if reply is None:
                    return
                if reply:
                    conn.sendall(reply)
        except OSError:
            return
        finally:
            with self._conns_lock:
                self._conns.discard(conn)
            _hard_close(conn)

    def _handle(self, conn: socket.socket, head: bytes) -> bytes | None:
        """The reply bytes for one request; b'' for none, None to drop the connection."""
        (start, version, flags, _err, msg_type, _reg, _res, ck_type, imm_len, imm,
         remaining) = HEADER.unpack(head)
        if start != START:
            # not a frame start: a device cannot resynchronise mid-stream, it drops the link
            return None
        if remaining < FOOTER_STRUCT.size or remaining > 1 << 20:
            return frame(msg_type, flags=FLAG_RESPONSE | FLAG_NACK, error=ERR_PAYLOAD_LENGTH,
                         regarding=msg_type)
        rest = _recv_exact(conn, remaining)
        if rest is None:
            return None
        payload, (digest, footer) = rest[:-20], FOOTER_STRUCT.unpack(rest[-20:])
        try:
            if version != VERSION:
                raise ObpError(ERR_BAD_PROTOCOL)
            if footer != FOOTER:
                raise ObpError(ERR_PAYLOAD_LENGTH)
            if ck_type == CHECKSUM_MD5 and hashlib.md5(head + payload).digest() != digest:
                raise ObpError(ERR_BAD_CHECKSUM)
            if ck_type not in (CHECKSUM_NONE, CHECKSUM_MD5):
                raise ObpError(ERR_CHECKSUM_TYPE)
            data = imm[:imm_len] if imm_len else payload
            return self._dispatch(conn, msg_type, data, bool(flags & FLAG_REQUEST_ACK))
        except ObpError as e:
            return frame(msg_type, flags=FLAG_RESPONSE | FLAG_NACK, error=e.code,
                         regarding=msg_type)

    def _dispatch(self, conn: socket.socket, msg_type: int, data: bytes,
                  want_ack: bool) -> bytes | None:
        reply_flags = FLAG_RESPONSE | (FLAG_ACK if want_ack else 0)

        def answer(value: bytes) -> bytes:
            return frame(msg_type, value, flags=reply_flags)

        def ack() -> bytes:
            return frame(msg_type, flags=FLAG_RESPONSE | FLAG_ACK, regarding=msg_type) \
                if want_ack else b""

        def index(values: Sequence[float]) -> int:
            if len(data) != 1:
                raise ObpError(ERR_PAYLOAD_LENGTH)
            if data[0] >= len(values):
                raise ObpError(ERR_PAYLOAD_INVALID)
            return data[0]

        if msg_type == GET_SERIAL_LENGTH:
            return answer(bytes([len(self.serial)]))
        if msg_type == GET_SERIAL:
            return answer(self.serial)
        if msg_type == GET_WL_COUNT:
            return answer(bytes([len(self.coefficients)]))
        if msg_type == GET_WL_COEFF:
            return answer(struct.pack("<f", self.coefficients[index(self.coefficients)]))
        if msg_type == GET_NL_COUNT:
            return answer(bytes([len(self.nonlinearity)]))
        if msg_type == GET_NL_COEFF:
            return answer(struct.pack("<f", self.nonlinearity[index(self.nonlinearity)]))
        if msg_type == GET_MULTICAST_ENABLED:
            return answer(b"\x00")
        if msg_type == GET_VID:
            return answer(struct.pack("<H", OCEAN_VID))
        if msg_type == GET_PID:
            return answer(struct.pack("<H", HDX_PID))
        if msg_type == SET_ITIME_US:
            if len(data) != 4:
                raise ObpError(ERR_PAYLOAD_LENGTH)
            (us,) = struct.unpack("<L", data)
            if not ITIME_MIN_US <= us <= ITIME_MAX_US:
                raise ObpError(ERR_PAYLOAD_INVALID)
            with self._detector:
                self.integration_us = us
                self._scan_origin = time.perf_counter()
            return ack()
        if msg_type == SET_TRIGGER_MODE:
            if len(data) != 1:
                raise ObpError(ERR_PAYLOAD_LENGTH)
            return ack()
        if msg_type in (GET_SPECTRUM_HDX, GET_SPECTRUM):
            return self._spectrum(conn, msg_type, reply_flags)
        raise ObpError(ERR_UNKNOWN_MESSAGE)

    def _spectrum(self, conn: socket.socket, msg_type: int, flags: int) -> bytes | None:
        fault = self.faults.next()
        if fault == "disconnect":
            return None
        if fault == "nack":
            return frame(msg_type, flags=FLAG_RESPONSE | FLAG_NACK | FLAG_HW_EXCEPTION,
                         error=ERR_DEVICE, regarding=msg_type)
        if fault == "timeout":
            self._closed.wait(self.stall_s / self.speed)
            return b""
        with self._detector:
            t_ms = self.integration_us / 1000.0
            period, now = t_ms / 1000.0 / self.speed, time.perf_counter()
            if self.acquisition == "on-request":
                ready = now + period
            else:
                ready = self._scan_origin + (math.floor((now - self._scan_origin) / period)
                                             + 1) * period
            # a flash or room light on the open port: fiftyfold light, clipped like the ADC
            counts = self.source.counts(t_ms * (50.0 if fault == "saturate" else 1.0))
            if self.nonlinear:
                counts = counts / (1.0 + self.nonlinear * counts)
            raw = np.clip(np.rint(counts), 0, FULL_SCALE_COUNTS).astype("<u2").tobytes()
            delay = ready - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            self.spectra_served += 1
        message = frame(msg_type, raw, flags=flags)
        if fault == "garbage":
            noise = bytearray(random.Random(self.spectra_served).randbytes(128))
            noise[0:2] = b"\x00\x00"
            return bytes(noise)
        if fault == "checksum":
            return message[:-20] + bytes(16) + message[-4:]
        if fault == "footer":
            return message[:-4] + b"\x00\x00\x00\x00"
        if fault == "partial":
            conn.sendall(message[: len(message) // 2])
            self._closed.wait(self.stall_s / self.speed)
            return b""
        return message


def _recv_exact(conn: socket.socket, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def _hard_close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def run(*, tcp: int, host: str = "127.0.0.1", speed: float = 1.0, faults: str = "",
        contents: str = "blank", recipe: str | None = None, micromolar: float = 20.0,
        phase: str = "nonpolar", seed: int = 0, serial: str = "HDX-EMU-0001",
        acquisition: str = "free-running", physics: int | None = None,
        shutter: int | None = None, nonlinear: float = 0.0) -> None:
    """The ``mscrobot emulate spectrometer`` process: print HOST:PORT (then, with ``physics``,
    ``physics HOST:PORT``, and with ``shutter``, ``shutter rfc2217://HOST:PORT`` on the next
    lines), serve until killed. ``shutter``: the lamp's shutter on a TTL line behind an RFC 2217
    server (RTS high closes it). ``nonlinear``: the detector reads counts/(1 + a·counts), a = this
    value, and reports the coefficients that undo it."""
    from mscrobot.lab.spectrometer.source import (
        TwinSpectrumSource,
        blank_cell,
        cluster_cell,
        recipe_or_default,
    )

    cells = {"blank": lambda: blank_cell(phase),
             "clusters": lambda: cluster_cell(micromolar, phase)}
    if contents not in cells:
        raise ValueError(f"contents {contents!r}: one of {', '.join(cells)}")
    source = TwinSpectrumSource.for_recipe(recipe_or_default(recipe), cells[contents](),
                                           seed=seed)
    import sys

    plan = FaultPlan.parse(faults, seed)
    plan.on_fire = lambda what: print(what, file=sys.stderr, flush=True)
    emulator = ObpEmulator(source, host=host, port=tcp, speed=speed, faults=plan,
                           serial=serial, acquisition=acquisition, nonlinear=nonlinear)
    bound_host, bound_port = emulator.address
    print(f"{bound_host}:{bound_port}", flush=True)
    closers: list[Callable[[], None]] = []
    if physics is not None:
        from mscrobot.lab.spectrometer.physics import PhysicsServer

        link = PhysicsServer(source, host, physics).start()
        closers.append(link.close)
        print("physics {}:{}".format(*link.address), flush=True)
    if shutter is not None:
        from mscrobot.lab.spectrometer.shutter_server import ShutterServer

        def follow(closed: bool) -> None:
            source.shutter_closed = closed

        line = ShutterServer(follow, host=host, port=shutter).start()
        closers.append(line.close)
        print("shutter rfc2217://{}:{}".format(*line.address), flush=True)
    try:
        emulator.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.close()
        for close in closers:
            close()
