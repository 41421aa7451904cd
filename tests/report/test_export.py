"""Exports read back to the absorbance the report computed, with units in every header."""

from __future__ import annotations

import csv
from pathlib import Path

import jcamp
import numpy as np
import pytest

from mscrobot.report.data import Measurement, read_run
from mscrobot.report.export import export_run
from tests.report.conftest import Runs

#: jcamp < 1.3 calls it jcamp_readfile, 1.3 renamed it readfile
readfile = getattr(jcamp, "jcamp_readfile", None) or jcamp.readfile


@pytest.fixture(scope="module")
def measurements(runs: Runs) -> list[Measurement]:
    ms = read_run(runs.awaiting).measurements
    assert len(ms) > 10
    return ms


def test_every_jcamp_file_reads_back(runs: Runs, measurements: list[Measurement],
                                     tmp_path: Path) -> None:
    files = export_run(runs.awaiting, "jcamp", tmp_path)
    assert [f.name for f in files] == [f"step{m.step:04d}-{m.phase}.jdx" for m in measurements]
    for f, m in zip(files, measurements, strict=True):
        d = readfile(str(f))
        assert d["jcamp-dx"] == 5.01
        assert d["data type"] == "UV/VIS SPECTRUM"
        assert (d["xunits"], d["yunits"]) == ("NANOMETERS", "ABSORBANCE")
        assert d["npoints"] == len(d["x"]) == len(d["y"]) == m.wavelengths_nm.size
        assert d["firstx"] == d["x"][0] and d["lastx"] == d["x"][-1]
        assert d["$mscrobot step"] == m.step and d["$mscrobot lab time s"] == m.time_s
        np.testing.assert_allclose(d["x"], m.wavelengths_nm, rtol=0, atol=1e-6)
        np.testing.assert_allclose(d["y"], m.absorbance, rtol=0, atol=1e-6)
        assert f.read_text(encoding="ascii").rstrip().endswith("##END=")
        assert "##PATH LENGTH=0.2\n" in f.read_text(encoding="ascii")  # the lab's cell, in cm


def test_csv_headers_carry_units_and_rows_match(runs: Runs, measurements: list[Measurement],
                                                tmp_path: Path) -> None:
    bands, spectra, verdicts, steps = export_run(runs.awaiting, "csv", tmp_path)
    data = read_run(runs.awaiting, spectra=False)
    with spectra.open(newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    assert header[:3] == ["step", "phase", "time_s"]
    assert all(h.startswith("absorbance_AU@") and h.endswith("nm") for h in header[3:])
    axis = np.array([float(h.removeprefix("absorbance_AU@").removesuffix("nm"))
                     for h in header[3:]])
    assert len(body) == len(measurements)
    assert all(len(h.split("@")[1].removesuffix("nm").split(".")[1]) == 2 for h in header[3:])
    for row, m in zip(body, measurements, strict=True):
        assert (int(row[0]), row[1], float(row[2])) == (m.step, m.phase, m.time_s)
        np.testing.assert_allclose(axis, m.wavelengths_nm, rtol=0, atol=0.005)
        np.testing.assert_allclose(np.array(row[3:], float), m.absorbance, rtol=0, atol=1e-6)
    with verdicts.open(newline="") as f:
        vrows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in vrows] == [v["step"] for v in data.verdicts]
    assert "time_s" in vrows[0] and vrows[-1]["action"] == "stop_for_operator"
    assert not any(c.endswith("_json") for c in vrows[0])  # numbers are columns
    later = next(r for r, v in zip(vrows, data.verdicts, strict=True) if "remaining" in
                 v["numbers"])
    v = next(v for v in data.verdicts if "remaining" in v["numbers"])
    assert float(later["remaining"]) == v["numbers"]["remaining"]
    with steps.open(newline="") as f:
        srows = list(csv.DictReader(f))
    assert len(srows) == len(data.steps)
    assert {"started_time_s", "ended_time_s", "volume_uL@reaction"} <= srows[0].keys()
    first_dispense = next(r for r in srows if r["kind"] == "dispense")
    assert float(first_dispense["volume_uL@reaction"]) == 1500.0
    assert srows[-1]["status"] == "intent" and srows[-1]["kind"] == "ask_operator"
    assert "outcome_json" not in srows[0] and "params_json" not in srows[0]
    assert first_dispense["param:source"] == "salt_stock"
    assert all("[" not in value for r in srows for value in r.values())  # no JSON in a cell
    with bands.open(newline="") as f:
        brows = list(csv.DictReader(f))
    decided = [r for r in data.steps if r.kind == "decide"]
    assert len(brows) == sum(len(r.params["bands"]) for r in decided)
    own = [r for r in brows if r["phase"] == r["band_set"] and r["fraction"]]
    assert own and all(0.0 <= float(r["fraction"]) <= 1.5 for r in own)
    alkane = [r for r in own if r["phase"] == "nonpolar"]
    assert float(alkane[-1]["amount_nmol"]) == pytest.approx(
        float(alkane[-1]["fraction"]) * 30.0)  # of the recipe's 30 nmol of clusters


def test_a_run_without_spectra_exports_empty_tables(runs: Runs, tmp_path: Path) -> None:
    assert export_run(runs.fresh, "jcamp", tmp_path / "j") == []
    bands, spectra, verdicts, steps = export_run(runs.fresh, "csv", tmp_path / "c")
    assert spectra.read_text().splitlines() == ["step,phase,time_s"]
    assert len(bands.read_text().splitlines()) == 1
    assert len(verdicts.read_text().splitlines()) == len(steps.read_text().splitlines()) == 1


def test_an_unknown_format_is_refused_before_anything_is_written(runs: Runs,
                                                                 tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown export format 'xlsx': choose one of csv, jcamp"):
        export_run(runs.completed, "xlsx", tmp_path / "out")
    assert not (tmp_path / "out").exists()
