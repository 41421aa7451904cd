"""An Ocean FLAME-S on USB, at the device side of Ocean's OOI protocol, behind a pyusb backend.

USB cannot run here (no device, no kernel gadget), so the fake sits where libusb would: a pyusb
``IBackend`` (``EmulatedUsbBackend``) that enumerates one device with the FLAME-S's descriptors
(vendor 0x2457, product 0x101E, bulk endpoints 0x01 out, 0x81/0x82/0x86 in) and hands its bulk
transfers to ``OoiFlameEmulator``. Everything above it is seabreeze's own: its USB transport,
its OOI protocol, its USB2000+/FLAMES model classes and features, which is what this is for:
the two dark controls the HDX does not have in seabreeze, answered the way the model answers
them.

What the device answers (written from seabreeze 2.11's OOI messages, independently of it):
``0x01`` initialise; ``0x02`` integration time (µs, "<I"); ``0x03`` the lamp-enable line
("<H": 1 high, lamp on; seabreeze's ``continuous_strobe.set_enable``; low at power-up, so the
lamp is off until enabled); ``0x05`` EEPROM slot N → 17 bytes (``0x05``, N, 15 bytes of ASCII):
0 serial, 1-4 wavelength coefficients, 6-13 nonlinearity coefficients, 14 their order, 17 the
saturation level (bytes 4-5 of the data); ``0x09`` a spectrum → 2048 little-endian uint16 and
the sync byte 0x69 on endpoint 0x82, after the integration time; ``0x0A`` trigger mode;
``0x6A``/``0x6B`` FPGA registers (register 0x04, the firmware version: major 3, which makes
seabreeze call it a FLAMES); ``0xFE`` the status (16 bytes, byte 14 0x80: a USB 2.0 port).
Unknown commands are ignored, as the device does (the next read then times out).

The device runs in this process (tests) or in its own (``mscrobot emulate flame``), its bulk
transfers then carried over TCP (``UsbLinkServer``, ``RemoteUsbDevice``) as a USB cable would.

Pixels 6-20 are masked (electric dark: they see no light, only the detector's offset and
noise), as seabreeze's FLAMES class declares. ``nonlinear`` a: the detector reads c/(1 + a·c)
of c counts above its offset and stores the coefficients that undo it.
"""

from __future__ import annotations

import contextlib
import errno
import queue
import socket
import struct
import threading
import time
from collections.abc import Iterator, Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np
import usb.core
from usb.backend import IBackend

from mscrobot.lab.spectrometer.source import TwinSpectrumSource
from mscrobot.spectra.types import FULL_SCALE_COUNTS

OCEAN_VID, FLAME_PID = 0x2457, 0x101E
EP_OUT, EP_LOW, EP_HIGH, EP_HIGH2 = 0x01, 0x81, 0x82, 0x86
FLAME_PIXELS = 2048
#: seabreeze's FLAMES: masked pixels 6..20
DARK_PIXELS = range(6, 21)
#: assumed: a FLAME-S UV-VIS calibration, ≈190-820 nm over 2048 pixels
FLAME_COEFFICIENTS = (190.0, 0.34, -1.6e-5, 0.0)
FPGA_VERSION = (3 << 12) | (1 << 4)  # 3.1.0
ITIME_MIN_US, ITIME_MAX_US = 1_000, 655_350_000


def flame_source(source: TwinSpectrumSource) -> TwinSpectrumSource:
    """The same twin looking through a FLAME-S's 2048 pixels and calibration."""
    return TwinSpectrumSource(
        source.model,
        source._contents,
        source.instrument,
        coefficients=FLAME_COEFFICIENTS,
        n_pixels=FLAME_PIXELS,
    )


class OoiFlameEmulator:
    """The device: one command in on EP_OUT, its reply queued on an IN endpoint."""

    def __init__(
        self,
        source: TwinSpectrumSource,
        *,
        serial: str = "FLMS-EMU-0001",
        speed: float = 1.0,
        nonlinear: float = 0.0,
    ) -> None:
        self.source, self.speed, self.nonlinear = source, speed, nonlinear
        self.serial = serial
        self.integration_us = 100_000
        self.lamp_enabled = False
        self.lamp_switches = 0
        #: the lamp's TTL input is wired to the lamp-enable line (False: a lamp left on)
        self.lamp_wired = True
        self.spectra_served = 0
        self.received: list[int] = []
        self.registers: dict[int, int] = {0x04: FPGA_VERSION}
        self._out: dict[int, queue.Queue[tuple[float, bytes]]] = {
            ep: queue.Queue() for ep in (EP_LOW, EP_HIGH, EP_HIGH2)
        }
        source.shutter_closed = True  # the lamp-enable line is low at power-up
        nl = (1.0, -nonlinear) if nonlinear else (1.0, 0.0)
        self.eeprom = {
            0: serial,
            **{1 + i: f"{c:.6e}" for i, c in enumerate(FLAME_COEFFICIENTS)},
            **{6 + i: f"{c:.6e}" for i, c in enumerate((*nl, 0, 0, 0, 0, 0, 0))},
            14: "7",
        }

    # --- the wire -----------------------------------------------------------------------

    def write(self, data: bytes) -> int:
        if not data:
            return 0
        command, args = data[0], bytes(data[1:])
        self.received.append(command)
        if command == 0x02 and len(args) == 4:
            (us,) = struct.unpack("<I", args)
            if ITIME_MIN_US <= us <= ITIME_MAX_US:
                self.integration_us = us
        elif command == 0x03 and len(args) == 2:
            on = struct.unpack("<H", args)[0] != 0
            self.lamp_switches += on != self.lamp_enabled
            self.lamp_enabled = on
            if self.lamp_wired:  # the lamp's TTL input follows the line
                self.source.shutter_closed = not on
        elif command == 0x05 and len(args) == 1:
            self._reply(EP_LOW, self._slot(args[0]))
        elif command == 0x09:
            self._spectrum()
        elif command == 0x6A and len(args) == 3:
            register, value = struct.unpack("<BH", args)
            self.registers[register] = value
        elif command == 0x6B and len(args) == 1:
            self._reply(EP_LOW, struct.pack("<BH", args[0], self.registers.get(args[0], 0)))
        elif command == 0xFE:
            status = bytearray(16)
            status[0:2] = struct.pack("<H", 0)
            status[14] = 0x80  # USB 2.0 high speed
            self._reply(EP_LOW, bytes(status))
        return len(data)

    def read(self, endpoint: int, size: int, timeout_s: float) -> bytes | None:
        """The reply waiting on ``endpoint`` once it is ready, or None within ``timeout_s``."""
        try:
            ready, data = self._out[endpoint].get(timeout=timeout_s)
        except queue.Empty:
            return None
        delay = ready - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        return data[:size]

    def _reply(self, endpoint: int, data: bytes, ready: float = 0.0) -> None:
        self._out[endpoint].put((ready, data))

    def _slot(self, slot: int) -> bytes:
        if slot == 17:
            data = bytes(4) + struct.pack("<H", 65535)  # saturation at full scale
        else:
            data = self.eeprom.get(slot, "").encode("ascii")[:14]
        return bytes([0x05, slot]) + data.ljust(15, b"\x00")

    def _spectrum(self) -> None:
        t_ms = self.integration_us / 1000.0
        counts = self.source.counts(t_ms)
        light = self.source.light(t_ms)
        masked = list(DARK_PIXELS)
        counts[masked] = counts[masked] - light[masked]  # masked: offset and noise only
        if self.nonlinear:
            offset = float(np.mean(counts[masked]))
            above = counts - offset
            counts = offset + above / (1.0 + self.nonlinear * above)
        raw = np.clip(np.rint(counts), 0, FULL_SCALE_COUNTS).astype("<u2").tobytes()
        self.spectra_served += 1
        self._reply(EP_HIGH, raw + b"\x69", time.monotonic() + t_ms / 1000.0 / self.speed)


# --- pyusb's side: the backend where libusb would be ------------------------------------------


def _descriptor(**fields: Any) -> SimpleNamespace:
    return SimpleNamespace(extra_descriptors=[], **fields)


class EmulatedUsbBackend(IBackend):  # type: ignore[misc]
    """A pyusb backend (the ``usb.backend.IBackend`` interface) with emulated devices plugged
    in: enumeration, descriptors, configuration and bulk transfers, failing as libusb does
    (``USBTimeoutError`` when nothing arrives in time)."""

    def __init__(self, *devices: OoiFlameEmulator | RemoteUsbDevice) -> None:
        self.devices = list(devices)

    def enumerate_devices(self) -> Iterator[OoiFlameEmulator]:
        yield from self.devices

    def get_parent(self, dev: Any) -> None:
        return None

    def get_device_descriptor(self, dev: OoiFlameEmulator) -> SimpleNamespace:
        index = self.devices.index(dev)
        return _descriptor(
            bLength=18,
            bDescriptorType=1,
            bcdUSB=0x0200,
            bDeviceClass=0xFF,
            bDeviceSubClass=0,
            bDeviceProtocol=0,
            bMaxPacketSize0=64,
            idVendor=OCEAN_VID,
            idProduct=FLAME_PID,
            bcdDevice=0x0100,
            iManufacturer=0,
            iProduct=0,
            iSerialNumber=0,
            bNumConfigurations=1,
            address=index + 2,
            bus=1,
            port_number=index + 1,
            port_numbers=(index + 1,),
            speed=3,
        )

    def get_configuration_descriptor(self, dev: Any, config: int) -> SimpleNamespace:
        return _descriptor(
            bLength=9,
            bDescriptorType=2,
            wTotalLength=46,
            bNumInterfaces=1,
            bConfigurationValue=1,
            iConfiguration=0,
            bmAttributes=0x80,
            bMaxPower=250,
        )

    def get_interface_descriptor(
        self, dev: Any, intf: int, alt: int, config: int
    ) -> SimpleNamespace:
        if intf != 0 or alt != 0:
            raise IndexError("no such interface")  # how pyusb learns there are no more
        return _descriptor(
            bLength=9,
            bDescriptorType=4,
            bInterfaceNumber=0,
            bAlternateSetting=0,
            bNumEndpoints=4,
            bInterfaceClass=0xFF,
            bInterfaceSubClass=0,
            bInterfaceProtocol=0,
            iInterface=0,
        )

    def get_endpoint_descriptor(
        self, dev: Any, ep: int, intf: int, alt: int, config: int
    ) -> SimpleNamespace:
        address = (EP_OUT, EP_LOW, EP_HIGH, EP_HIGH2)[ep]  # IndexError past the fourth
        return _descriptor(
            bLength=7,
            bDescriptorType=5,
            bEndpointAddress=address,
            bmAttributes=0x02,
            wMaxPacketSize=512,
            bInterval=0,
            bRefresh=0,
            bSynchAddress=0,
        )

    def open_device(self, dev: OoiFlameEmulator) -> OoiFlameEmulator:
        return dev

    def close_device(self, handle: Any) -> None:
        pass

    def set_configuration(self, handle: Any, config_value: int) -> None:
        pass

    def get_configuration(self, handle: Any) -> int:
        return 1

    def set_interface_altsetting(self, handle: Any, intf: int, alt: int) -> None:
        pass

    def claim_interface(self, handle: Any, intf: int) -> None:
        pass

    def release_interface(self, handle: Any, intf: int) -> None:
        pass

    def bulk_write(
        self, handle: OoiFlameEmulator, ep: int, intf: int, data: Sequence[int], timeout: int
    ) -> int:
        return handle.write(bytes(data))

    def bulk_read(
        self, handle: OoiFlameEmulator, ep: int, intf: int, buff: Any, timeout: int
    ) -> int:
        data = handle.read(ep, len(buff), (timeout or 1000) / 1000.0)
        if data is None:
            raise usb.core.USBTimeoutError("Operation timed out", -7, errno.ETIMEDOUT)
        buff[: len(data)] = type(buff)("B", data) if hasattr(buff, "typecode") else data
        return len(data)

    def clear_halt(self, handle: Any, ep: int) -> None:
        pass

    def reset_device(self, handle: Any) -> None:
        pass

    def is_kernel_driver_active(self, handle: Any, intf: int) -> bool:
        return False

    def detach_kernel_driver(self, handle: Any, intf: int) -> None:
        pass


# --- the device in its own process: its bulk transfers over TCP ----------------------------
#
# One frame each way: ``op`` (1 byte), length ("<I"), payload. ``W`` data → ``K``; ``R`` with
# "<BId" (endpoint, size, timeout s) → ``D`` and the bytes, or ``T`` when nothing came in time.


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionResetError("the emulated USB device went away")
        buf += chunk
    return bytes(buf)


def _send_frame(sock: socket.socket, op: bytes, payload: bytes = b"") -> None:
    sock.sendall(op + struct.pack("<I", len(payload)) + payload)


def _recv_frame(sock: socket.socket) -> tuple[bytes, bytes]:
    head = _recv_exact(sock, 5)
    (length,) = struct.unpack("<I", head[1:])
    return head[:1], _recv_exact(sock, length)


class UsbLinkServer:
    """Serves ``device``'s bulk transfers on TCP, one client at a time (the USB cable)."""

    def __init__(self, device: OoiFlameEmulator, host: str = "127.0.0.1", port: int = 0) -> None:
        self.device = device
        self._server = socket.create_server((host, port))
        self._stop = threading.Event()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.getsockname()[:2]
        return str(host), int(port)

    def start(self) -> UsbLinkServer:
        threading.Thread(target=self.serve_forever, name="usb-link", daemon=True).start()
        return self

    def serve_forever(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with conn:
                try:
                    while True:
                        op, payload = _recv_frame(conn)
                        if op == b"W":
                            self.device.write(payload)
                            _send_frame(conn, b"K")
                        elif op == b"R":
                            ep, size, timeout_s = struct.unpack("<BId", payload)
                            data = self.device.read(ep, size, timeout_s)
                            _send_frame(conn, b"T" if data is None else b"D", data or b"")
                        else:
                            return
                except OSError:
                    continue

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()


class RemoteUsbDevice:
    """The computer's end of ``UsbLinkServer``: what ``EmulatedUsbBackend`` transfers to."""

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        self.address = (host or "127.0.0.1", int(port))
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    def _exchange(self, op: bytes, payload: bytes, timeout_s: float) -> tuple[bytes, bytes]:
        with self._lock:
            try:
                if self._sock is None:
                    self._sock = socket.create_connection(self.address, timeout=5.0)
                    self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._sock.settimeout(timeout_s + 5.0)
                _send_frame(self._sock, op, payload)
                return _recv_frame(self._sock)
            except OSError as e:
                if self._sock is not None:
                    self._sock.close()
                self._sock = None
                raise usb.core.USBError(
                    f"emulated USB device at {self.address}: {e}", None, errno.EIO
                ) from None

    def write(self, data: bytes) -> int:
        self._exchange(b"W", data, 1.0)
        return len(data)

    def read(self, endpoint: int, size: int, timeout_s: float) -> bytes | None:
        op, data = self._exchange(b"R", struct.pack("<BId", endpoint, size, timeout_s), timeout_s)
        return None if op == b"T" else data


def run(
    *,
    tcp: int,
    host: str = "127.0.0.1",
    speed: float = 1.0,
    contents: str = "blank",
    recipe: str | None = None,
    seed: int = 0,
    serial: str = "FLMS-EMU-0001",
    physics: int | None = None,
    nonlinear: float = 0.0,
    lamp: str = "line",
) -> None:
    """``mscrobot emulate flame``: a FLAME-S whose USB transfers arrive over TCP; prints
    HOST:PORT (then ``physics HOST:PORT`` with ``physics``), serves until killed. ``lamp``:
    "line" (its TTL input on the lamp-enable line) or "on" (not wired: always lit)."""
    if lamp not in ("line", "on"):
        raise ValueError(f"lamp {lamp!r}: line or on")
    from mscrobot.lab.spectrometer.source import blank_cell, cluster_cell, recipe_or_default

    cells = {"blank": blank_cell(), "clusters": cluster_cell()}
    if contents not in cells:
        raise ValueError(f"contents {contents!r}: one of {', '.join(cells)}")
    twin = TwinSpectrumSource.for_recipe(recipe_or_default(recipe), cells[contents], seed=seed)
    device = OoiFlameEmulator(flame_source(twin), serial=serial, speed=speed, nonlinear=nonlinear)
    if lamp == "on":
        device.lamp_wired, device.source.shutter_closed = False, False
    link = UsbLinkServer(device, host, tcp)
    print("{}:{}".format(*link.address), flush=True)
    closers = [link.close]
    if physics is not None:
        from mscrobot.lab.spectrometer.physics import PhysicsServer

        world = PhysicsServer(device.source, host, physics).start()
        closers.append(world.close)
        print("physics {}:{}".format(*world.address), flush=True)
    try:
        link.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        for close in closers:
            close()
