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


def test_csv_headers_carry_units_and_rows_match(runs: Runs, measurements: list[Measurement],
                                                tmp_path: Path) -> None:
    spectra, verdicts, steps = export_run(runs.awaiting, "csv", tmp_path)
    data = read_run(runs.awaiting, spectra=False)
    with spectra.open(newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    assert header[:3] == ["step", "phase", "time_s"]
    assert all(h.startswith("absorbance_AU@") and h.endswith("nm") for h in header[3:])
    axis = np.array([float(h.removeprefix("absorbance_AU@").removesuffix("nm"))
                     for h in header[3:]])
    assert len(body) == len(measurements)
    for row, m in zip(body, measurements, strict=True):
        assert (int(row[0]), row[1], float(row[2])) == (m.step, m.phase, m.time_s)
        np.testing.assert_array_equal(axis, m.wavelengths_nm)
        np.testing.assert_allclose(np.array(row[3:], float), m.absorbance, rtol=0, atol=1e-6)
    with verdicts.open(newline="") as f:
        vrows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in vrows] == [v["step"] for v in data.verdicts]
    assert "time_s" in vrows[0] and vrows[-1]["action"] == "stop_for_operator"
    with steps.open(newline="") as f:
        srows = list(csv.DictReader(f))
    assert len(srows) == len(data.steps)
    assert {"started_time_s", "ended_time_s", "volume_uL@reaction"} <= srows[0].keys()
    first_dispense = next(r for r in srows if r["kind"] == "dispense")
    assert float(first_dispense["volume_uL@reaction"]) == 1500.0
    assert srows[-1]["status"] == "intent" and srows[-1]["kind"] == "ask_operator"


def test_a_run_without_spectra_exports_empty_tables(runs: Runs, tmp_path: Path) -> None:
    assert export_run(runs.fresh, "jcamp", tmp_path / "j") == []
    spectra, verdicts, steps = export_run(runs.fresh, "csv", tmp_path / "c")
    assert spectra.read_text().splitlines() == ["step,phase,time_s"]
    assert len(verdicts.read_text().splitlines()) == len(steps.read_text().splitlines()) == 1


def test_an_unknown_format_is_refused_before_anything_is_written(runs: Runs,
                                                                 tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown export format 'xlsx': choose one of csv, jcamp"):
        export_run(runs.completed, "xlsx", tmp_path / "out")
    assert not (tmp_path / "out").exists()
