"""A run's data in files other programs read: CSV tables and JCAMP-DX spectra.

``csv`` writes three files:

* ``spectra.csv`` — wide layout, one row per sample spectrum in journal order: ``step``,
  ``phase``, ``time_s`` (lab time of the read), then one column per detector pixel named
  ``absorbance_AU@<wavelength>nm``. Wide because every read of a run shares the spectrometer's
  axis, so a row is a spectrum and a column a wavelength, which is what spreadsheets and
  ``pandas.read_csv`` want; a run whose reads do not share one axis cannot be written this way
  and raises (use ``jcamp``, one file per spectrum).
* ``verdicts.csv`` — one row per verdict: ``step``, ``time_s``, ``stage``, ``state``, ``action``,
  ``reasons`` (joined by ``; ``), ``numbers_json`` (the verdict's numbers, as JSON).
* ``steps.csv`` — one row per journaled step: ``n``, ``kind``, ``status``, ``started_time_s``,
  ``ended_time_s``, ``attempts``, ``error``, ``params_json``, ``outcome_json``, then
  ``volume_uL@<vessel>`` after the step for steps that report volumes.

``jcamp`` writes ``step<NNNN>-<phase>.jdx`` per sample spectrum: JCAMP-DX 5.01, UV/VIS SPECTRUM,
absorbance against nm as ``##XYPOINTS=(XY..XY)`` (the axis is not evenly spaced, which
``(X++(Y..Y))`` would require), a non-finite absorbance written as ``?`` as the standard says.

Numbers are written with Python's shortest round-trip repr, so reading a file back gives the
absorbance the report and the plan computed, bit for bit.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mscrobot.report.data import Measurement, RunData, read_run


def export_run(run_dir: Path, fmt: str, out_dir: Path) -> list[Path]:
    """Write the run's data in ``fmt`` ('csv' or 'jcamp') into ``out_dir`` (made if missing);
    returns the files written. Raises ValueError for another format, before reading anything."""
    if fmt not in _WRITERS:
        raise ValueError(f"unknown export format {fmt!r}: choose one of "
                         f"{', '.join(sorted(_WRITERS))}")
    data = read_run(run_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return _WRITERS[fmt](data, out_dir)


def _num(x: float | None) -> str:
    return "" if x is None else repr(float(x))


# --- CSV -----------------------------------------------------------------------------------------


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def _spectra_rows(ms: list[Measurement]) -> tuple[list[str], list[list[str]]]:
    header = ["step", "phase", "time_s"]
    if not ms:
        return header, []
    axis = ms[0].wavelengths_nm
    for m in ms[1:]:
        if m.wavelengths_nm.shape != axis.shape or not np.array_equal(m.wavelengths_nm, axis):
            raise ValueError(f"step {m.step} was read on another wavelength axis than step "
                             f"{ms[0].step}; a wide spectra.csv needs one axis, export jcamp "
                             "instead")
    header += [f"absorbance_AU@{w!r}nm" for w in axis.tolist()]
    rows = [[str(m.step), m.phase, _num(m.time_s), *map(repr, m.absorbance.tolist())]
            for m in ms]
    return header, rows


def _csv(data: RunData, out: Path) -> list[Path]:
    spectra = _write_csv(out / "spectra.csv", *_spectra_rows(data.measurements))
    verdicts = _write_csv(
        out / "verdicts.csv",
        ["step", "time_s", "stage", "state", "action", "reasons", "numbers_json"],
        [[str(v["step"]), _num(v["lab_t"]), v["stage"], v["state"], v["action"],
          "; ".join(v["reasons"]), json.dumps(v["numbers"])] for v in data.verdicts])
    vessels = list(dict.fromkeys(k for r in data.steps
                                 for k in ((r.outcome or {}).get("vessels") or {})))
    rows = []
    for r in data.steps:
        outcome = dict(r.outcome or {})
        volumes = outcome.pop("vessels", None) or {}
        rows.append([str(r.n), r.kind, r.status, _num(r.started_t), _num(r.ended_t),
                     str(r.attempts), r.error or "", json.dumps(r.params),
                     "" if r.outcome is None else json.dumps(outcome),
                     *(_num(volumes.get(v)) for v in vessels)])
    steps = _write_csv(out / "steps.csv",
                       ["n", "kind", "status", "started_time_s", "ended_time_s", "attempts",
                        "error", "params_json", "outcome_json",
                        *(f"volume_uL@{v}" for v in vessels)], rows)
    return [spectra, verdicts, steps]


# --- JCAMP-DX ------------------------------------------------------------------------------------


def _label(value: object) -> str:
    """A header value on one ASCII line (JCAMP-DX is ASCII; a newline would end the label)."""
    text = " ".join(str(value).split())
    return text.encode("ascii", "replace").decode("ascii")


def _jcamp_text(data: RunData, m: Measurement, blank: str) -> str:
    x, y = m.wavelengths_nm.tolist(), m.absorbance.tolist()
    finite = [v for v in y if np.isfinite(v)]
    meta = data.meta
    run_id = meta.get("id", data.run_dir.name)
    labels = [
        ("TITLE", f"{meta.get('recipe_name')} - run {run_id}, step {m.step}, {m.phase} phase, "
                  f"lab time {m.time_s:g} s"),
        ("JCAMP-DX", "5.01"),
        ("DATA TYPE", "UV/VIS SPECTRUM"),
        ("ORIGIN", f"mscrobot run {run_id} on lab {meta.get('lab_name')}, seed {meta.get('seed')}"),
        ("OWNER", ""),
        ("SAMPLE DESCRIPTION", f"{m.phase} phase of the reaction vial, against blank {blank}"),
        ("$MSCROBOT RUN", run_id),
        ("$MSCROBOT STEP", m.step),
        ("$MSCROBOT PHASE", m.phase),
        ("$MSCROBOT LAB TIME S", _num(m.time_s)),
        ("$MSCROBOT RUN CREATED", meta.get("created")),
        ("$INTEGRATION TIME MS", _num(m.sample.integration_ms)),
        ("$SCANS AVERAGED", m.sample.scans_averaged),
        ("XUNITS", "NANOMETERS"),
        ("YUNITS", "ABSORBANCE"),
        ("XFACTOR", "1"),
        ("YFACTOR", "1"),
        ("FIRSTX", _num(x[0]) if x else ""),
        ("LASTX", _num(x[-1]) if x else ""),
        ("FIRSTY", _num(y[0]) if y and np.isfinite(y[0]) else "?"),
        ("MINX", _num(min(x)) if x else ""),
        ("MAXX", _num(max(x)) if x else ""),
        ("MINY", _num(min(finite)) if finite else "?"),
        ("MAXY", _num(max(finite)) if finite else "?"),
        ("NPOINTS", len(x)),
        ("XYPOINTS", "(XY..XY)"),
    ]
    lines = [f"##{k}={_label(v)}" for k, v in labels]
    lines += [f"{xi!r}, {yi!r}" if np.isfinite(yi) else f"{xi!r}, ?" for xi, yi in zip(x, y,
                                                                                     strict=True)]
    lines.append("##END=")
    return "\n".join(lines) + "\n"


def _jcamp(data: RunData, out: Path) -> list[Path]:
    blanks = {r.n: str(r.params.get("blank", "")) for r in data.steps if r.kind == "measure"}
    paths = []
    for m in data.measurements:
        path = out / f"step{m.step:04d}-{m.phase}.jdx"
        path.write_text(_jcamp_text(data, m, blanks.get(m.step, "")), encoding="ascii")
        paths.append(path)
    return paths


_WRITERS: dict[str, Callable[[RunData, Path], list[Path]]] = {"csv": _csv, "jcamp": _jcamp}
