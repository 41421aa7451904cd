"""A run's data in files other programs read: CSV tables and JCAMP-DX spectra.

``csv`` writes four files, every column a plain value (no JSON in a cell):

* ``bands.csv`` — tidy, one row per judged sample, phase and band set: ``step``, ``time_s``,
  ``stage``, ``phase``, ``band_set`` (whose bands: the alkane's or the polar phase's positions),
  ``position_nm`` and ``height_AU`` of that set's strongest band, and for a phase's own band
  set the verdict's ``fraction`` of the clusters in that phase and its ``amount_nmol``. This is
  the table to plot a transfer from.
* ``spectra.csv`` — wide layout, one row per sample spectrum in journal order: ``step``,
  ``phase``, ``time_s`` (lab time of the read), then one column per detector pixel named
  ``absorbance_AU@<wavelength>nm``, the wavelength rounded to 0.01 nm (the exact axis is in
  each JCAMP-DX file). Wide because every read of a run shares the spectrometer's axis; a run
  whose reads do not share one axis cannot be written this way and raises (use ``jcamp``).
* ``verdicts.csv`` — one row per verdict: ``step``, ``time_s``, ``stage``, ``state``, ``action``,
  ``reasons`` (joined by ``; ``), then one column per number any verdict gives.
* ``steps.csv`` — one row per journaled step: ``n``, ``kind``, ``status``, ``started_time_s``,
  ``ended_time_s``, ``attempts``, ``error``, one ``param:<name>`` column per step parameter,
  what the step read back (``rpm``, ``height_mm``, ``integration_ms``, ``answer``,
  ``recovered_by``), ``robot_commands`` (how many the robot ran; their ids stay in the
  journal), then ``volume_uL@<vessel>`` after the step for steps that report volumes.

``jcamp`` writes ``step<NNNN>-<phase>.jdx`` per sample spectrum: JCAMP-DX 5.01, UV/VIS SPECTRUM,
absorbance against nm as ``##XYPOINTS=(XY..XY)`` (the axis is not evenly spaced, which
``(X++(Y..Y))`` would require), a non-finite absorbance written as ``?`` as the standard says.

Numbers are written with Python's shortest round-trip repr, so reading a file back gives the
absorbance the report and the plan computed, bit for bit.
"""

from __future__ import annotations

import csv
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
    names = [f"absorbance_AU@{w:.2f}nm" for w in axis.tolist()]
    if len(set(names)) < len(names):  # pixels closer than 0.01 nm: keep every digit
        names = [f"absorbance_AU@{w!r}nm" for w in axis.tolist()]
    header += names
    rows = [[str(m.step), m.phase, _num(m.time_s), *map(repr, m.absorbance.tolist())]
            for m in ms]
    return header, rows


#: What a device step read back, as columns of steps.csv (the vessels and robot ids apart).
READ_BACK = ("rpm", "height_mm", "integration_ms", "answer", "recovered_by")
#: Step parameters that are whole tables: verdicts.csv and bands.csv hold them as columns.
NESTED_PARAMS = frozenset({"numbers", "bands", "reasons", "refused"})
#: Which verdict number is the fraction of the clusters in each phase.
FRACTION_OF = {"nonpolar": "remaining", "polar": "polar"}


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float | int):
        return _num(value)
    if isinstance(value, list | tuple):
        return "; ".join(_cell(v) for v in value)
    return str(value)


def _bands_rows(data: RunData) -> list[list[str]]:
    verdicts = {v["step"]: v for v in data.verdicts}
    nmol = _cluster_nmol(data)
    rows = []
    for r in data.steps:
        if r.kind != "decide" or r.status != "done":
            continue
        numbers = verdicts.get(r.n, {}).get("numbers", {})
        for phase, band_set, position, height in r.params.get("bands") or ():
            fraction = numbers.get(FRACTION_OF[phase]) if band_set == phase else None
            amount = None if fraction is None or nmol is None else fraction * nmol
            rows.append([str(r.n), _num(r.ended_t), str(r.params.get("stage", "")), phase,
                         band_set, _num(position), _num(height), _num(fraction), _num(amount)])
    return rows


def _cluster_nmol(data: RunData) -> float | None:
    from mscrobot.recipe import RecipeError, load_recipe_text
    from mscrobot.recipe.amounts import amounts

    try:
        return amounts(load_recipe_text(data.meta["recipe_text"]).recipe).cluster_nmol
    except (RecipeError, KeyError):
        return None


def _csv(data: RunData, out: Path) -> list[Path]:
    bands = _write_csv(out / "bands.csv", ["step", "time_s", "stage", "phase", "band_set",
                                           "position_nm", "height_AU", "fraction",
                                           "amount_nmol"], _bands_rows(data))
    spectra = _write_csv(out / "spectra.csv", *_spectra_rows(data.measurements))
    numbers = list(dict.fromkeys(k for v in data.verdicts for k in v["numbers"]))
    verdicts = _write_csv(
        out / "verdicts.csv",
        ["step", "time_s", "stage", "state", "action", "reasons", *numbers],
        [[str(v["step"]), _num(v["lab_t"]), v["stage"], v["state"], v["action"],
          "; ".join(v["reasons"]), *(_num(v["numbers"].get(k)) for k in numbers)]
         for v in data.verdicts])
    vessels = list(dict.fromkeys(k for r in data.steps
                                 for k in ((r.outcome or {}).get("vessels") or {})))
    params = list(dict.fromkeys(k for r in data.steps for k in r.params
                                if k not in NESTED_PARAMS))
    rows = []
    for r in data.steps:
        outcome = r.outcome or {}
        volumes = outcome.get("vessels") or {}
        commands = outcome.get("robot_commands")
        rows.append([str(r.n), r.kind, r.status, _num(r.started_t), _num(r.ended_t),
                     str(r.attempts), r.error or "", *(_cell(r.params.get(k)) for k in params),
                     *(_cell(outcome.get(k)) for k in READ_BACK),
                     "" if commands is None else str(len(commands)),
                     *(_num(volumes.get(v)) for v in vessels)])
    steps = _write_csv(out / "steps.csv",
                       ["n", "kind", "status", "started_time_s", "ended_time_s", "attempts",
                        "error", *(f"param:{k}" for k in params), *READ_BACK, "robot_commands",
                        *(f"volume_uL@{v}" for v in vessels)], rows)
    return [bands, spectra, verdicts, steps]


# --- JCAMP-DX ------------------------------------------------------------------------------------


def _label(value: object) -> str:
    """A header value on one ASCII line (JCAMP-DX is ASCII; a newline would end the label)."""
    text = " ".join(str(value).split())
    return text.encode("ascii", "replace").decode("ascii")


def _jcamp_text(data: RunData, m: Measurement, blank: str, path_cm: float) -> str:
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
        ("PATH LENGTH", _num(path_cm)),
        ("$PATH LENGTH UNITS", "CM"),
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
    from mscrobot.report.chemistry import chemistry_of

    path_cm = chemistry_of(data.meta).path_cm  # the lab's flow cell (cm, as JCAMP-DX has it)
    blanks = {r.n: str(r.params.get("blank", "")) for r in data.steps if r.kind == "measure"}
    paths = []
    for m in data.measurements:
        path = out / f"step{m.step:04d}-{m.phase}.jdx"
        path.write_text(_jcamp_text(data, m, blanks.get(m.step, ""), path_cm), encoding="ascii")
        paths.append(path)
    return paths


_WRITERS: dict[str, Callable[[RunData, Path], list[Path]]] = {"csv": _csv, "jcamp": _jcamp}
