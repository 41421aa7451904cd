"""Darks without the emulator's physics link, each mode as a real rig takes it, on the HDX
emulator over real TCP with seabreeze's own HDX class: the lamp's shutter on its own TTL line
(an RFC 2217 serial server, pyserial on both sides), an operator closing the light path when
asked (with a timeout), and the modes seabreeze does not offer for an HDX (lamp-enable,
electric-dark pixels) refused at open, as they would be on the real model."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import numpy as np
import pytest

from mscrobot.app.operator import ConsoleOperator
from mscrobot.lab.protocols import DeviceFaultError, LabRefusalError
from mscrobot.lab.spectrometer.obp_emulator import ObpEmulator
from mscrobot.lab.spectrometer.ocean import OceanLabSpectrometer, OceanSettings, OceanSpectrometer
from mscrobot.lab.spectrometer.shutter import TtlShutter
from mscrobot.lab.spectrometer.shutter_server import ShutterServer
from mscrobot.lab.spectrometer.source import TwinSpectrumSource

#: pyserial's RFC 2217 client starts its reader thread the old way
pytestmark = pytest.mark.filterwarnings("ignore:setDaemon:DeprecationWarning")


def _settings(address: str, dark: str, **kw: object) -> OceanSettings:
    options: dict[str, object] = {
        "io_timeout_s": 0.3,
        "backoff_s": 0.01,
        "scans": 2,
        "settle_s": 0.0,
        **kw,
    }
    return OceanSettings(address=address, dark=dark, **options)  # type: ignore[arg-type]


@pytest.fixture
def shutter_line(source: TwinSpectrumSource) -> Iterator[ShutterServer]:
    """The emulated lamp's shutter, wired to RTS of an RFC 2217 serial server."""

    def follow(closed: bool) -> None:
        source.shutter_closed = closed

    server = ShutterServer(follow).start()
    yield server
    server.close()


def _check_dark(dark_mode: str, dark: object, reference: object) -> None:
    d, r = dark, reference
    assert d.meta["dark_mode"] == r.meta["dark_mode"] == dark_mode  # type: ignore[attr-defined]
    assert float(np.percentile(d.counts, 99)) < 0.05 * float(  # type: ignore[attr-defined]
        np.percentile(r.counts, 99)
    )  # type: ignore[attr-defined]


def test_ttl_shutter_closes_the_lamp_over_its_own_line(
    address: str, source: TwinSpectrumSource, shutter_line: ShutterServer
) -> None:
    host, port = shutter_line.address
    ttl = TtlShutter(f"rfc2217://{host}:{port}").open()
    device = OceanSpectrometer(_settings(address, "ttl_shutter"), shutter=ttl).open()
    try:
        dark, reference = OceanLabSpectrometer(device).reference("op-0", "nonpolar")
    finally:
        device.close()
        ttl.release()
    _check_dark("ttl_shutter", dark, reference)
    assert shutter_line.changes >= 3  # open at connect, closed for the dark, open
    assert not shutter_line.closed and not source.shutter_closed


def test_a_shutter_that_does_not_close_is_a_fault_not_a_dark(
    address: str, source: TwinSpectrumSource
) -> None:
    unwired = ShutterServer(lambda closed: None).start()  # the cable is not plugged in
    host, port = unwired.address
    ttl = TtlShutter(f"rfc2217://{host}:{port}").open()
    device = OceanSpectrometer(_settings(address, "ttl_shutter"), shutter=ttl).open()
    try:
        with pytest.raises(DeviceFaultError, match="the light path did not close"):
            OceanLabSpectrometer(device).reference("op-0", "nonpolar")
    finally:
        device.close()
        ttl.release()
        unwired.close()


def test_an_operator_closes_the_light_path_when_asked(
    address: str, source: TwinSpectrumSource
) -> None:
    asked: list[tuple[str, float]] = []

    def person(question: str, timeout_s: float) -> bool:
        asked.append((question, timeout_s))
        source.shutter_closed = question.startswith("close")
        return True

    device = OceanSpectrometer(
        _settings(address, "operator", operator_timeout_s=60.0), operator=person
    ).open()
    try:
        dark, reference = OceanLabSpectrometer(device).reference("op-0", "nonpolar")
    finally:
        device.close()
    _check_dark("operator", dark, reference)
    assert [q.split()[0] for q, _ in asked] == ["close", "open"] and asked[0][1] == 60.0


def test_an_operator_who_does_not_answer_stops_the_reference(address: str) -> None:
    device = OceanSpectrometer(
        _settings(address, "operator", operator_timeout_s=0.2),
        operator=lambda question, timeout_s: False,
    ).open()
    try:
        with pytest.raises(
            DeviceFaultError,
            match=r"did not confirm 'close the light path.*"
            r"within 0.2 s",
        ):
            OceanLabSpectrometer(device).reference("op-0", "nonpolar")
    finally:
        device.close()


def test_the_console_operator_waits_for_enter_and_gives_up_at_the_timeout(tmp_path) -> None:  # type: ignore[no-untyped-def]
    read_fd, write_fd = os.pipe()
    out = (tmp_path / "out.txt").open("w")
    ticks: list[int] = []
    try:
        with os.fdopen(read_fd, "r") as stdin:
            operator = ConsoleOperator(stdin, out)
            operator.keepalive = lambda: ticks.append(1)
            threading.Timer(0.6, os.write, (write_fd, b"\n")).start()
            assert operator("close the light path", 5.0)
            assert len(ticks) >= 2  # the watchdog lives on while it waits
            assert not operator("open the light path again", 0.3)
    finally:
        os.close(write_fd)
        out.close()
    said = (tmp_path / "out.txt").read_text()
    assert "operator: close the light path, then press Enter" in said
    assert "no answer within 0.3 s" in said


@pytest.mark.parametrize(
    ("dark", "why"),
    [
        ("electric_dark", "no electric-dark pixels for the HDX"),
        ("lamp_shutter", "no lamp control for the HDX.*it has .*spectrometer"),
    ],
)
def test_what_seabreeze_does_not_offer_for_the_hdx_is_refused_at_open(
    address: str, emulator: ObpEmulator, dark: str, why: str
) -> None:
    device = OceanSpectrometer(_settings(address, dark))
    before = emulator.spectra_served
    with pytest.raises(LabRefusalError, match=why):
        device.open()
    device.close()
    assert emulator.spectra_served == before  # refused before any read
