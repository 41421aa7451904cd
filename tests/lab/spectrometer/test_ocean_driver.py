"""The guarded seabreeze driver against the emulator over real TCP: calibration, auto-ranging,
every fault kind recovered or reported within a deadline, and spectra the analysis can read."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from mscrobot.lab.protocols import (
    DeviceFaultError,
    LabRefusalError,
    Spectrometer,
    TransientDeviceError,
)
from mscrobot.lab.spectrometer.obp_emulator import ObpEmulator
from mscrobot.lab.spectrometer.ocean import OceanLabSpectrometer, OceanSettings, OceanSpectrometer
from mscrobot.lab.spectrometer.source import TwinSpectrumSource, cluster_cell
from mscrobot.procedure.reading import analysis_windows, read_sample
from mscrobot.recipe.models import Recipe
from mscrobot.twin.optics import Instrument, hdx_wavelength_coefficients, wavelengths

#: far beyond any healthy call here: a hang shows up as a failure, not a stuck suite
NO_HANG_S = 10.0


def _settings(address: str, **kw: object) -> OceanSettings:
    options: dict[str, object] = {"io_timeout_s": 0.2, "backoff_s": 0.01, "scans": 2, **kw}
    return OceanSettings(address=address, **options)  # type: ignore[arg-type]


@pytest.fixture
def spectrometer(address: str) -> Iterator[OceanSpectrometer]:
    device = OceanSpectrometer(_settings(address))
    yield device.open()
    device.close()


def test_driver_reads_the_device_calibration_and_averages(
        spectrometer: OceanSpectrometer, emulator: ObpEmulator) -> None:
    assert spectrometer.serial_number == "HDX-EMU-0001"
    np.testing.assert_allclose(spectrometer.wavelengths_nm,
                               wavelengths(hdx_wavelength_coefficients()), atol=1e-3)
    assert spectrometer.limits_ms == (6.0, 10_000.0)
    assert emulator.integration_us == 10_000
    before = emulator.spectra_served
    s = spectrometer.read(scans=3)
    assert emulator.spectra_served - before == 3
    assert s.scans_averaged == 3 and s.integration_ms == 10.0 and s.counts.shape == (2068,)
    assert not s.meta["saturated"]


def test_auto_ranging_brings_a_saturated_read_under_full_scale(
        source: TwinSpectrumSource, spectrometer: OceanSpectrometer) -> None:
    source.instrument = Instrument(lamp_peak_counts_per_ms=8_000.0)
    assert spectrometer.read(scans=1).meta["saturated"]
    t = spectrometer.auto_range(0.8)
    assert 6.0 <= t < 10.0
    peak = float(np.max(spectrometer.read(scans=1).counts))
    assert 0.7 * 65535 < peak < 0.9 * 65535


@pytest.mark.filterwarnings("ignore:WARNING OBP. The checksums differ")
@pytest.mark.parametrize("kind", ["garbage", "checksum", "footer", "disconnect", "partial",
                                  "timeout"])
def test_transport_faults_are_recovered_on_a_fresh_link(
        kind: str, spectrometer: OceanSpectrometer, emulator: ObpEmulator) -> None:
    emulator.inject(kind)
    t0 = time.monotonic()
    counts = spectrometer.read_raw()
    assert time.monotonic() - t0 < NO_HANG_S
    assert counts.shape == (2068,) and counts.max() < 65535
    assert spectrometer.reconnects == 1


def test_a_transient_saturation_is_read_again(address: str, emulator: ObpEmulator,
                                              source: TwinSpectrumSource) -> None:
    device = OceanSpectrometer(_settings(address), shutter=_shutter(source)).open()
    try:
        lab = OceanLabSpectrometer(device)
        _, reference = lab.reference("op-0", "nonpolar")
        emulator.inject("saturate")
        before = emulator.spectra_served
        sample = lab.measure("op-1", reference.integration_ms)
        assert not sample.meta["saturated"]
        assert emulator.spectra_served - before == 2 * device.settings.scans  # read again
    finally:
        device.close()


def test_persistent_silence_becomes_a_transient_error_not_a_hang(
        spectrometer: OceanSpectrometer, emulator: ObpEmulator) -> None:
    emulator.inject("timeout", count=10)
    t0 = time.monotonic()
    with pytest.raises(TransientDeviceError, match="3 times"):
        spectrometer.read_raw()
    assert time.monotonic() - t0 < NO_HANG_S


def test_a_device_reported_error_is_never_retried(
        spectrometer: OceanSpectrometer, emulator: ObpEmulator) -> None:
    emulator.inject("nack", count=1)
    before = emulator.spectra_served
    with pytest.raises(DeviceFaultError, match="Int Device Error"):
        spectrometer.read_raw()
    assert emulator.spectra_served == before  # no second try reached the detector


def test_a_dead_emulator_never_hangs_the_caller(spectrometer: OceanSpectrometer,
                                                emulator: ObpEmulator) -> None:
    spectrometer.read_raw()
    emulator.close()
    t0 = time.monotonic()
    with pytest.raises(TransientDeviceError):
        spectrometer.read_raw()
    assert time.monotonic() - t0 < NO_HANG_S


def test_a_trickling_peer_is_cut_at_the_deadline() -> None:
    """Bytes that keep coming, too slowly to ever finish a frame, defeat any socket timeout:
    only the per-call deadline ends this."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def trickle() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(64)
            while not stop.wait(0.05):
                try:
                    conn.send(b"\xc1")
                except OSError:
                    return

    threading.Thread(target=trickle, daemon=True).start()
    host, port = server.getsockname()
    device = OceanSpectrometer(OceanSettings(address=f"{host}:{port}", io_timeout_s=0.2,
                                             attempts=1))
    t0 = time.monotonic()
    with pytest.raises(TransientDeviceError):
        device.open()
    assert time.monotonic() - t0 < NO_HANG_S
    stop.set()
    server.close()


def _shutter(source: TwinSpectrumSource) -> Callable[[bool], None]:
    def close(closed: bool) -> None:
        source.shutter_closed = closed
    return close


def test_the_engine_adapter_gives_spectra_the_analysis_reads(
        address: str, source: TwinSpectrumSource, recipe: Recipe) -> None:
    device = OceanSpectrometer(_settings(address, scans=4), shutter=_shutter(source)).open()
    lab: Spectrometer = OceanLabSpectrometer(device)
    assert isinstance(lab, Spectrometer)
    try:
        device.set_integration_ms(30.0)  # far from right: the reference step auto-ranges
        dark, reference = lab.reference("op-0", "nonpolar")
        assert float(np.mean(dark.counts)) < 2000  # shutter closed: dark offset only
        assert 0.7 * 65535 < float(np.max(reference.counts)) < 0.9 * 65535
        assert dark.integration_ms == reference.integration_ms < 30.0
        source.set_contents(cluster_cell(20.0))
        device.set_integration_ms(30.0)  # a restarted driver: the step's time is what counts
        sample = lab.measure("op-1", reference.integration_ms)
    finally:
        device.close()
    assert reference.meta["blank"] == "nonpolar" and sample.meta["op_id"] == "op-1"
    assert sample.integration_ms == reference.integration_ms
    analysis = read_sample(analysis_windows(recipe), "nonpolar", sample, dark, reference)
    bands = analysis.sets["nonpolar"]
    assert all(b.found for b in bands)
    for band, expected in zip(bands, (365.0, 335.0), strict=True):
        assert abs(band.position_nm - expected) <= 1.0
    assert bands[0].height == pytest.approx(0.4, rel=0.15)
    assert not {"saturated", "low_signal", "nonfinite"} & analysis.flags


def test_a_reference_needs_a_way_to_close_the_light_path(spectrometer: OceanSpectrometer
                                                         ) -> None:
    with pytest.raises(LabRefusalError, match="shutter"):
        OceanLabSpectrometer(spectrometer).reference("op-0", "nonpolar")
