"""What the lab file says of its spectrometer, checked against what seabreeze and the device
say: model names as seabreeze has them, the device's wavelength range against the lab's and
the recipe's bands, and each read linearised with the device's own coefficients."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mscrobot.app.labs import _check_range
from mscrobot.lab.config import LabError, lab_from_text, shipped_labs
from mscrobot.lab.protocols import LabRefusalError
from mscrobot.lab.spectrometer.obp_emulator import ObpEmulator
from mscrobot.lab.spectrometer.ocean import OceanSettings, OceanSpectrometer
from mscrobot.lab.spectrometer.source import TwinSpectrumSource
from mscrobot.recipe.loader import load_recipe
from mscrobot.report.chemistry import amount_rows, chemistry_of
from mscrobot.twin.optics import hdx_wavelength_coefficients, wavelengths

ROOT = Path(__file__).resolve().parents[3]


def _ocean_lab(spectrometer: str) -> str:
    text = shipped_labs()["twin"].replace("clock: virtual\n", "")  # a real device: the wall's
    start, end = text.index("spectrometer:"), text.index("deck:")
    return text[:start] + "spectrometer:\n  backend: ocean\n" + spectrometer + text[end:]


def test_a_label_name_becomes_seabreezes_and_an_unknown_one_lists_the_known() -> None:
    lab = lab_from_text(_ocean_lab("  model: FLAME-S\n  dark: operator\n"), "lab.yaml")
    assert lab.spectrometer.model == "FLAMES"
    assert (
        lab_from_text(_ocean_lab("  model: USB2000+\n  dark: operator\n")).spectrometer.model
        == "USB2000PLUS"
    )
    text = _ocean_lab("  model: Flame-T\n  dark: operator\n")
    with pytest.raises(LabError) as err:
        lab_from_text(text, "lab.yaml")
    line = text.splitlines().index("  model: Flame-T") + 1
    [problem] = [str(p) for p in err.value.problems]
    assert problem.startswith(f"lab.yaml:{line}:") and "spectrometer.model" in problem
    assert "'Flame-T' is not a model seabreeze knows; known: ADC1000-USB" in problem
    assert "FLAMES" in problem and "HDX" in problem and "USB2000PLUS" in problem


def test_a_usb_model_at_an_address_and_a_rig_without_darks_are_refused() -> None:
    with pytest.raises(LabError, match=r"FLAMES is reached over USB.*FX, HDX"):
        lab_from_text(_ocean_lab("  model: FLAMES\n  address: 10.0.0.9:57357\n  dark: operator\n"))
    with pytest.raises(
        LabError,
        match=r"spectrometer.dark: say how this rig takes its darks"
        r".*lamp_shutter.*ttl_shutter.*electric_dark.*operator",
    ):
        lab_from_text(_ocean_lab("  model: HDX\n  address: 10.0.0.9:57357\n"))
    with pytest.raises(LabError, match=r"ttl_shutter needs spectrometer\.shutter"):
        lab_from_text(_ocean_lab("  model: HDX\n  address: 10.0.0.9:57357\n  dark: ttl_shutter\n"))
    with pytest.raises(LabError, match=r"socket://10\.0\.0\.9:4004' carries no control line"):
        lab_from_text(
            _ocean_lab(
                "  model: HDX\n  address: 10.0.0.9:57357\n"
                "  dark: ttl_shutter\n"
                "  shutter: {url: 'socket://10.0.0.9:4004'}\n"
            )
        )


def test_the_device_range_is_checked_against_the_lab_and_the_recipe() -> None:
    hdx = wavelengths(hdx_wavelength_coefficients())  # what the emulated HDX reports
    assert (round(float(hdx[0]), 1), round(float(hdx[-1]), 1)) == (199.6, 800.2)
    recipe = load_recipe(ROOT / "recipes/cds34-zncl2.yaml").recipe
    shipped = lab_from_text((ROOT / "hardware/labs/emulated.yaml").read_text())
    _check_range(shipped, recipe, hdx)  # the shipped labs say 200-800 nm
    old = lab_from_text(
        (ROOT / "hardware/labs/emulated.yaml")
        .read_text()
        .replace("range_max: 800 nm", "range_max: 1100 nm")
    )
    with pytest.raises(
        LabRefusalError,
        match=r"the HDX reads 199.6-800.2 nm; it cannot "
        r"cover the lab file's range 200-1100 nm",
    ):
        _check_range(old, recipe, hdx)
    blue = hdx[hdx > 350.0]  # a model that starts at 350 nm
    with pytest.raises(
        LabRefusalError,
        match=r"the HDX reads 350.2-800.2 nm; it cannot cover "
        r"the recipe's bands \(327.4, 335, 356, 365 nm\) with their baseline, "
        r"297.4-600 nm",
    ):
        _check_range(
            shipped.model_copy(
                update={
                    "spectrometer": shipped.spectrometer.model_copy(
                        update={"range_min": shipped.spectrometer.range_max.__class__(360, "nm")}
                    )
                }
            ),
            recipe,
            blue,
        )


def test_the_report_says_how_darks_were_taken() -> None:
    recipe_text = (ROOT / "recipes/cds34-zncl2.yaml").read_text()
    meta = {
        "recipe_text": recipe_text,
        "recipe_source": "r.yaml",
        "lab_text": (ROOT / "hardware/labs/emulated.yaml").read_text(),
    }
    rows = dict(amount_rows(chemistry_of(meta)))
    assert rows["darks"].startswith("ttl_shutter: a shutter on its own TTL line")
    meta["lab_text"] = shipped_labs()["twin"]
    assert dict(amount_rows(chemistry_of(meta)))["darks"].startswith("simulated")


def _light(device: OceanSpectrometer, source: TwinSpectrumSource, ms: float) -> np.ndarray:
    device.set_integration_ms(ms)
    source.shutter_closed = True
    dark = device.read(scans=8).counts
    source.shutter_closed = False
    return device.read(scans=8).counts - dark


@pytest.mark.parametrize("correct", [True, False])
def test_reads_are_linearised_with_the_devices_own_coefficients(
    source: TwinSpectrumSource, correct: bool
) -> None:
    a = 2e-6  # the detector reads c/(1 + a·c): 9 % low at 50 000 counts
    with ObpEmulator(source, speed=4.0, nonlinear=a) as emulator:
        host, port = emulator.address
        device = OceanSpectrometer(
            OceanSettings(address=f"{host}:{port}", io_timeout_s=0.3, nonlinearity=correct)
        ).open()
        try:
            assert device.nonlinearity_coefficients[:2] == pytest.approx([1.0, -a])
            t = device.auto_range(0.3)  # the brightest pixel near 20 000 counts
            one, two = _light(device, source, t), _light(device, source, 2 * t)
            assert device.read(scans=1).meta["nonlinearity"] is correct
        finally:
            device.close()
    bright = one > 0.5 * one.max()  # ≈20 000 → 40 000 counts of light
    ratio = float(np.median(two[bright] / one[bright]))
    if correct:
        assert ratio == pytest.approx(2.0, rel=0.01)  # linear again: twice the time, twice
    else:
        assert ratio < 1.95  # what an uncorrected detector says
