"""The two dark controls seabreeze offers for a FLAME-S and not for an HDX — the lamp-enable line
(its ``continuous_strobe`` feature) and the electric-dark pixels — on an emulated FLAME-S behind
a pyusb backend, through seabreeze's own USB transport, OOI protocol and FLAMES class, without
any physics link: the lamp's TTL input follows the line, the masked pixels see no light."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from mscrobot.lab.protocols import DeviceFaultError, LabRefusalError
from mscrobot.lab.spectrometer.ocean import OceanLabSpectrometer, OceanSettings, OceanSpectrometer
from mscrobot.lab.spectrometer.ooi_emulator import (
    DARK_PIXELS,
    EmulatedUsbBackend,
    OoiFlameEmulator,
    flame_source,
)
from mscrobot.lab.spectrometer.source import TwinSpectrumSource, cluster_cell
from mscrobot.procedure.reading import analysis_windows, read_sample
from mscrobot.recipe.models import Recipe


@pytest.fixture
def flame(source: TwinSpectrumSource) -> OoiFlameEmulator:
    return OoiFlameEmulator(flame_source(source), speed=4.0)


def _open(flame: OoiFlameEmulator, dark: str, model: str = "FLAMES") -> OceanSpectrometer:
    settings = OceanSettings(
        model=model,
        dark=dark,
        usb_backend=EmulatedUsbBackend(flame),
        io_timeout_s=0.5,
        scans=2,
        settle_s=0.0,
        attempts=1,
    )
    return OceanSpectrometer(settings).open()


@pytest.fixture
def lamp_shutter(flame: OoiFlameEmulator) -> Iterator[OceanSpectrometer]:
    device = _open(flame, "lamp_shutter")
    yield device
    device.close()


def test_seabreeze_calls_the_emulated_device_a_flames_and_finds_its_controls(
    lamp_shutter: OceanSpectrometer, flame: OoiFlameEmulator
) -> None:
    assert (lamp_shutter.model, lamp_shutter.serial_number) == ("FLAMES", "FLMS-EMU-0001")
    assert lamp_shutter.lamp_feature == "continuous_strobe"
    assert lamp_shutter.electric_dark_pixels == list(DARK_PIXELS)
    assert lamp_shutter.wavelengths_nm.shape == (2048,)
    assert flame.lamp_enabled and not flame.source.shutter_closed  # lit at open


def test_lamp_shutter_switches_the_lamp_off_through_the_spectrometer(
    lamp_shutter: OceanSpectrometer, flame: OoiFlameEmulator
) -> None:
    dark, reference = OceanLabSpectrometer(lamp_shutter).reference("op-0", "nonpolar")
    assert dark.meta["dark_mode"] == reference.meta["dark_mode"] == "lamp_shutter"
    assert float(np.percentile(dark.counts, 99)) < 0.05 * float(np.percentile(reference.counts, 99))
    assert flame.received.count(0x03) == 3 and flame.lamp_switches == 3  # on, off, on
    assert flame.lamp_enabled


def test_a_lamp_that_ignores_the_line_gives_a_fault_not_a_dark(
    lamp_shutter: OceanSpectrometer, flame: OoiFlameEmulator
) -> None:
    flame.lamp_wired = False
    with pytest.raises(DeviceFaultError, match="the light path did not close"):
        OceanLabSpectrometer(lamp_shutter).reference("op-0", "nonpolar")


def test_electric_dark_reads_the_masked_pixels_and_the_analysis_finds_the_bands(
    flame: OoiFlameEmulator, recipe: Recipe
) -> None:
    flame.lamp_wired = False  # a lamp that is simply on: nothing to switch
    flame.source.shutter_closed = False
    device = _open(flame, "electric_dark")
    try:
        lab = OceanLabSpectrometer(device)
        dark, reference = lab.reference("op-0", "nonpolar")
        assert flame.received.count(0x03) == 0  # the driver switches nothing
        flame.source.set_contents(cluster_cell(20.0))
        sample = lab.measure("op-1", reference.integration_ms)
    finally:
        device.close()
    assert np.all(dark.counts == 0) and dark.meta["dark_mode"] == "electric_dark"
    assert 500 < dark.meta["electric_dark_offset"] < 5000  # the detector's offset
    masked = reference.counts[list(DARK_PIXELS)]
    assert abs(float(np.mean(masked))) < 50  # offset removed from each read
    bands = read_sample(analysis_windows(recipe), "nonpolar", sample, dark, reference).sets[
        "nonpolar"
    ]
    assert all(b.found for b in bands)
    for band, expected in zip(bands, (365.0, 335.0), strict=True):
        assert abs(band.position_nm - expected) <= 1.5


def test_a_device_that_is_not_the_lab_files_model_is_refused(flame: OoiFlameEmulator) -> None:
    with pytest.raises(LabRefusalError, match="the device is a FLAMES, not the USB2000PLUS"):
        _open(flame, "electric_dark", model="USB2000PLUS")
