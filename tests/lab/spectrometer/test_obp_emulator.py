"""seabreeze's own HDX class against the emulator over real TCP, and the device side of OBP."""

from __future__ import annotations

import socket
import struct

import numpy as np
import pytest
from seabreeze.pyseabreeze.devices import SeaBreezeDevice
from seabreeze.pyseabreeze.transport import IPv4Transport, IPv4TransportHandle

from mscrobot.lab.spectrometer import obp_emulator as obp
from mscrobot.lab.spectrometer.obp_emulator import FaultPlan, ObpEmulator
from mscrobot.twin.optics import HDX_PIXELS, hdx_wavelength_coefficients, wavelengths


def _seabreeze_hdx(emulator: ObpEmulator) -> SeaBreezeDevice:
    host, port = emulator.address
    IPv4Transport.register_model("HDX", ipv4_address=host, ipv4_port=port)
    handle = IPv4TransportHandle(host, port)
    device = SeaBreezeDevice(handle)
    device.open()
    handle.socket.settimeout(5.0)  # a broken emulator fails the test instead of hanging it
    return device


def test_seabreeze_hdx_opens_reads_wavelengths_and_spectra(emulator: ObpEmulator) -> None:
    device = _seabreeze_hdx(emulator)
    try:
        assert device.model == "HDX" and device.serial_number == "HDX-EMU-0001"
        nl = device.f.nonlinearity_coefficients.get_nonlinearity_coefficients()
        assert nl[0] == 1.0 and len(nl) == 8
        spec = device.f.spectrometer
        coeffs32 = np.float32(hdx_wavelength_coefficients()).astype(float)
        np.testing.assert_allclose(spec.get_wavelengths(), wavelengths(coeffs32), atol=1e-9)
        np.testing.assert_allclose(spec.get_wavelengths(),
                                   wavelengths(hdx_wavelength_coefficients()), atol=1e-3)
        spec.set_integration_time_micros(12_345)
        assert emulator.integration_us == 12_345  # the ACK came after the device applied it
        counts = spec.get_intensities()
        assert counts.shape == (HDX_PIXELS,)
        assert counts.min() > 1000 and counts.max() < 65535  # dark floor, lamp peak, no clip
        assert emulator.spectra_served == 1
    finally:
        device.close()


def _exchange(emulator: ObpEmulator, message: bytes) -> tuple[int, int, int]:
    with socket.create_connection(emulator.address, timeout=5.0) as s:
        s.sendall(message)
        reply = b""
        while len(reply) < 64:
            chunk = s.recv(64 - len(reply))
            assert chunk
            reply += chunk
    fields = obp.HEADER.unpack(reply[:44])
    return fields[2], fields[3], fields[5]  # flags, error, regarding


def test_unknown_message_is_nacked(emulator: ObpEmulator) -> None:
    flags, error, regarding = _exchange(emulator, obp.frame(0x00420004, flags=obp.FLAG_REQUEST_ACK,
                                                            checksum=False))
    assert flags & obp.FLAG_NACK and error == obp.ERR_UNKNOWN_MESSAGE and regarding == 0x00420004


def test_bad_request_checksum_and_bad_integration_time_are_nacked(emulator: ObpEmulator) -> None:
    good = obp.frame(obp.GET_SERIAL_LENGTH, flags=0)
    corrupt = good[:-20] + bytes(16) + good[-4:]
    assert _exchange(emulator, corrupt)[1] == obp.ERR_BAD_CHECKSUM
    too_short = obp.frame(obp.SET_ITIME_US, struct.pack("<L", 10), flags=obp.FLAG_REQUEST_ACK)
    assert _exchange(emulator, too_short)[1] == obp.ERR_PAYLOAD_INVALID
    assert emulator.integration_us == 100_000


def test_fault_plan_spec() -> None:
    plan = FaultPlan.parse("timeout@2,garbage@4*2")
    assert [plan.next() for _ in range(6)] == [None, "timeout", None, "garbage", "garbage",
                                               None]
    plan.inject("nack")
    assert plan.next() == "nack"
    always = FaultPlan.parse("saturate~1.0")
    assert always.next() == "saturate"
    with pytest.raises(ValueError, match="bad fault"):
        FaultPlan.parse("explode@1")
