"""The run report: one self-contained HTML page a chemist can open, mail or archive.

Plots are PNGs embedded as base64 and styles are inline, so the file needs no other file and no
network. Everything is read back from the journal (spectra re-analysed with the recipe's own
windows, exactly as the plan did), so a report can be written for a run in any state, and again
later. Every piece of text from the journal is HTML-escaped: recipe names and operator notes
are user input. matplotlib is imported inside ``write_report`` only, to keep the CLI fast.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mscrobot.report.chemistry import Chemistry, amount_rows, chemistry_of
from mscrobot.report.data import REPORT_NAME, Measurement, RunData, read_run

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from mscrobot.procedure.reading import AnalysisWindows

#: Colours of the two stages' verdict markers in the band plot.
STAGE_COLOURS = {"forward": "#1f77b4", "back": "#9467bd"}
PHASE_COLOURS = {"nonpolar": "#d62728", "polar": "#2ca02c"}
DPI = 80


@dataclass
class _Analysis:
    """What the report derives from the journal with the recipe's help."""

    windows: AnalysisWindows | None = None
    salt_record: dict[str, object] | None = None
    #: per measurement: height (AU) of the strongest band of each band set
    heights: list[tuple[Measurement, dict[str, float]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    chemistry: Chemistry = field(default_factory=Chemistry)
    #: lab time the OLA went in (the back-exchange's samples come after it)
    ola_t: float | None = None
    #: (stage, phase, band set, position nm) of each judged sample's strongest bands
    positions: list[tuple[str, str, str, float]] = field(default_factory=list)


def preload() -> None:
    """Import what the figures are drawn with (~0.6 s of matplotlib) ahead of the report, for
    a caller that would otherwise sit waiting (``mscrobot run`` while Opentrons loads)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
    from matplotlib.cm import ScalarMappable  # noqa: F401
    from matplotlib.collections import LineCollection  # noqa: F401
    from matplotlib.colors import Normalize  # noqa: F401
    from matplotlib.figure import Figure  # noqa: F401
    from matplotlib.ticker import StrMethodFormatter  # noqa: F401


def write_report(run_dir: Path) -> Path:
    """Write ``run_dir/report.html`` for the run as the journal has it now; returns its path.

    The page is replaced atomically, so a browser or a second writer never sees half a file.
    Raises ``UnreadableRunError`` if the journal cannot be read."""
    return write_report_figures(run_dir)[0]


def report_figures(data: RunData) -> dict[str, str]:
    """The report's plots of a run read with ``read_run``, writing nothing (base64 PNGs)."""
    return _figures(data, _analyse(data))


def write_report_figures(run_dir: Path) -> tuple[Path, dict[str, str]]:
    """``write_report``, also returning its plots (base64 PNGs by name: ``spectra``, ``bands``,
    ``volumes``, each only when there is something to plot), so a caller showing one elsewhere
    (the Prefect flow's artifact) shows exactly the report's."""
    data = read_run(run_dir)
    analysis = _analyse(data)
    figures = _figures(data, analysis)
    page = _page(data, analysis, figures)
    out = run_dir / REPORT_NAME
    tmp = out.with_name(f".{REPORT_NAME}.{os.getpid()}.tmp")
    try:
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, out)
    except OSError:
        tmp.unlink(missing_ok=True)  # a full disk leaves no half page behind
        raise
    return out, figures


# --- analysis ------------------------------------------------------------------------------------


def _analyse(data: RunData) -> _Analysis:
    """Band heights per sample and the salt's retention record; whatever fails becomes a note,
    because a report of a broken run is exactly when one is needed."""
    from mscrobot.chemistry import find_salt
    from mscrobot.decide.records import back_exchange_record
    from mscrobot.procedure.reading import analysis_windows
    from mscrobot.recipe.loader import load_recipe_text
    from mscrobot.yamldoc import DocumentError

    out = _Analysis(chemistry=chemistry_of(data.meta))
    out.notes += out.chemistry.problems
    out.ola_t = next((float(r.ended_t) for r in data.steps
                      if r.kind == "dispense" and r.params.get("source") == "ola_stock"
                      and r.params.get("dest") == "reaction" and r.ended_t is not None), None)
    out.positions = [(str(s.params.get("stage")), phase, band_set, float(position))
                     for s in data.steps if s.kind == "decide" and s.status == "done"
                     for phase, band_set, position, height in s.params.get("bands") or ()
                     if phase == band_set and height > 0.02]
    try:
        recipe = load_recipe_text(data.meta["recipe_text"],
                                  data.meta.get("recipe_source") or "<recipe>").recipe
    except (KeyError, DocumentError) as e:
        out.notes.append(f"the journaled recipe cannot be read again ({e}); no band analysis")
        return out
    try:
        out.salt_record = back_exchange_record(find_salt(recipe.salt.compound)[0])
    except ValueError as e:
        out.notes.append(f"no metal-retention record: {e}")
    out.windows = analysis_windows(recipe)
    # the band heights the decisions saw, journaled with each verdict (no fitting again)
    decided = sorted((s.n, s.params.get("bands") or []) for s in data.steps
                     if s.kind == "decide" and s.status == "done")
    for m in data.measurements:
        later = next((bands for n, bands in decided if n > m.step), None)
        if later is None:
            continue
        heights = {band_set: height for phase, band_set, _, height in later
                   if phase == m.phase}
        if heights:
            out.heights.append((m, heights))
    return out


# --- figures -------------------------------------------------------------------------------------


def _png(fig: Figure) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _figures(data: RunData, analysis: _Analysis) -> dict[str, str]:
    """Base64 PNGs by name; a plot with nothing to show is left out (the page says why)."""
    from matplotlib.figure import Figure

    out = {}
    if data.measurements:
        out["spectra"] = _png(_spectra_figure(Figure, data.measurements, analysis.windows))
    if analysis.heights:
        out["bands"] = _png(_bands_figure(Figure, analysis, data.verdicts))
    history = data.volume_history()
    if history:
        out["volumes"] = _png(_volumes_figure(Figure, history))
    return out


def _spectra_figure(figure: type[Figure], ms: Sequence[Measurement],
                    windows: AnalysisWindows | None) -> Figure:
    """Absorbance of each phase's samples, one panel per phase, coloured by lab time."""
    import numpy as np
    from matplotlib.cm import ScalarMappable
    from matplotlib.collections import LineCollection
    from matplotlib.colors import Normalize

    phases = sorted({m.phase for m in ms}, key=lambda p: (p != "nonpolar", p))
    fig = figure(figsize=(10, 3.8))
    fig.subplots_adjust(left=0.07, right=0.99, bottom=0.13, top=0.92, wspace=0.2)
    axes = fig.subplots(1, len(phases), squeeze=False)[0]
    times = [m.time_s for m in ms]
    norm = Normalize(min(times), max(times) if max(times) > min(times) else min(times) + 1.0)
    cmap = "viridis"
    lo, hi = ((windows.window[0] - 10.0, windows.scatter_window[1]) if windows is not None
              else (float(ms[0].wavelengths_nm[0]), float(ms[0].wavelengths_nm[-1])))
    for ax, phase in zip(axes, phases, strict=True):
        lines, colours, top, bottom = [], [], 0.0, 0.0
        for m in ms:
            if m.phase != phase:
                continue
            wl, a = m.wavelengths_nm, m.absorbance
            inside = (wl >= lo) & (wl <= hi) & np.isfinite(a)
            lines.append(np.column_stack([wl[inside], a[inside]]))
            colours.append(m.time_s)
            if inside.any():
                top, bottom = max(top, float(a[inside].max())), min(bottom, float(a[inside].min()))
        ax.add_collection(LineCollection(lines, array=np.asarray(colours), cmap=cmap, norm=norm,
                                         linewidths=0.9))
        if windows is not None:
            for nm in windows.band_sets.get(phase, []):
                ax.axvline(nm, color="0.6", lw=0.6, ls=":")
        pad = 0.05 * (top - bottom or 1.0)
        ax.set(xlim=(lo, hi), ylim=(bottom - pad, top + pad), xlabel="wavelength (nm)",
               ylabel="absorbance (AU)", title=f"{phase} phase ({len(lines)} samples)")
    fig.colorbar(ScalarMappable(norm, cmap), ax=list(axes), label="lab time (s)")
    return fig


def _bands_figure(figure: type[Figure], analysis: _Analysis,
                  verdicts: Iterable[dict[str, Any]]) -> Figure:
    """Each phase's own strongest band vs lab time (the clusters leaving one phase and arriving
    in the other), the other set's faintly, the back-exchange shaded from the OLA on, and each
    change of verdict numbered on the plot and named in the legend below it."""
    verdicts = [v for v in verdicts if v["lab_t"] is not None]
    changes, shown = [], None
    for v in verdicts:
        label = f"{v['stage']}: {v['state']} → {v['action']}"
        if label != shown:  # every verdict gets a line, only a change gets a number
            changes.append((v["lab_t"], label, STAGE_COLOURS.get(v["stage"], "0.4")))
            shown = label
    rows_below = math.ceil(len(changes) / 2)
    height = 3.8 + 0.22 * rows_below  # inches: the plot, then one line per two changes
    fig = figure(figsize=(10, height))
    fig.subplots_adjust(left=0.07, right=0.76, top=1 - 0.3 / height,
                        bottom=(0.6 + 0.22 * rows_below) / height)
    ax = fig.subplots()
    phases = sorted({m.phase for m, _ in analysis.heights})
    sets = sorted({s for _, h in analysis.heights for s in h})
    names = {"nonpolar": "alkane", "polar": "polar"}
    for phase in phases:
        rows = [(m.time_s, h) for m, h in analysis.heights if m.phase == phase]
        for band_set in sets:
            own = band_set == phase
            ax.plot([t for t, _ in rows], [h.get(band_set, math.nan) for _, h in rows],
                    marker="o" if own else ".", ms=4 if own else 2, lw=1.4 if own else 0.6,
                    ls="-" if own else ":", color=PHASE_COLOURS.get(phase),
                    alpha=1.0 if own else 0.4,
                    label=f"{names.get(phase, phase)} phase" if own else "_")
    times = [m.time_s for m, _ in analysis.heights] + [v["lab_t"] for v in verdicts]
    lo, hi = min(times), max(times)
    pad = 0.02 * (hi - lo or 1.0)
    if analysis.ola_t is not None:
        ax.axvspan(analysis.ola_t, hi + pad, color=STAGE_COLOURS["back"], alpha=0.08,
                   label="after OLA (back-exchange)")
    for v in verdicts:
        ax.axvline(v["lab_t"], color=STAGE_COLOURS.get(v["stage"], "0.4"), lw=0.7, alpha=0.5)
    ax.set_xlim(lo - pad, hi + pad)
    for i, (t, _, colour) in enumerate(changes, 1):
        ax.annotate(str(i), (t, 1.0), xycoords=("data", "axes fraction"), xytext=(0, 3),
                    textcoords="offset points", ha="center", va="bottom", fontsize=9,
                    color=colour, fontweight="bold")
    ax.set(xlabel="lab time (s)", ylabel="strongest band height (AU)")
    handles, labels = ax.get_legend_handles_labels()
    legend = ax.legend(handles, labels, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.add_artist(legend)
    for i, (_, label, colour) in enumerate(changes):
        column, row = divmod(i, rows_below)
        fig.text(0.07 + 0.37 * column, (0.22 * (rows_below - row) - 0.06) / height,
                 f"{i + 1}. {label}", fontsize=9, color=colour, va="center", ha="left")
    return fig


def _volumes_figure(figure: type[Figure], history: list[tuple[float, dict[str, float]]]
                    ) -> Figure:
    """Volume of each vessel after each liquid-handling step (symlog: µL and mL side by side)."""
    from matplotlib.ticker import StrMethodFormatter

    fig = figure(figsize=(10, 3.4))
    fig.subplots_adjust(left=0.08, right=0.84, bottom=0.14, top=0.97)
    ax = fig.subplots()
    vessels = list(dict.fromkeys(v for _, vols in history for v in vols))
    times = [t for t, _ in history]
    for vessel in vessels:
        ax.plot(times, [vols.get(vessel, math.nan) for _, vols in history], drawstyle="steps-post",
                marker=".", ms=3, lw=1.0, label=vessel)
    ax.set_yscale("symlog", linthresh=10.0)
    ax.yaxis.set_major_formatter(StrMethodFormatter("{x:g}"))  # not mathtext: 4× faster
    ax.set(xlabel="lab time (s)", ylabel="volume (µL)")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig


# --- the page ------------------------------------------------------------------------------------


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _clock(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "—"
    s = round(seconds)
    return f"{seconds:g} s ({s // 3600}:{s // 60 % 60:02d}:{s % 60:02d})"


def _table(header: Sequence[str], rows: Iterable[Sequence[object]], cls: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{_e(cls)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _kv(rows: Iterable[tuple[str, object]]) -> str:
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f'<table class="kv"><tbody>{body}</tbody></table>'


def _img(figures: dict[str, str], name: str, alt: str, missing: str) -> str:
    if name not in figures:
        return f'<p class="empty">{_e(missing)}</p>'
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{figures[name]}">'


def _verdict_text(v: dict[str, Any] | None, note: str = "") -> str:
    if v is None:
        return "none yet"
    state = f"{v['state']} ({note})" if note else v["state"]
    return f"{state} → {v['action']} (step {v['step']}): " + "; ".join(v["reasons"])


def _positions(analysis: _Analysis) -> list[tuple[str, str]]:
    """Where each phase's band sat, and the shift the exchange and the back-exchange made."""
    seen: dict[tuple[str, str], list[float]] = {}
    for stage, phase, _, nm in analysis.positions:
        seen.setdefault((stage, phase), []).append(nm)
    rows = []
    before = seen.get(("forward", "nonpolar"), [])[:1]
    moved = seen.get(("forward", "polar"), [])[-1:]
    back = seen.get(("back", "nonpolar"), [])[-1:]
    if before:
        rows.append(("alkane phase before the exchange", f"{before[0]:.1f} nm"))
    def signed(nm: float) -> str:
        return f"{round(nm, 1) + 0.0:+.1f} nm"  # + 0.0: no "-0.0"

    if moved:
        shift = f" (shift {signed(moved[0] - before[0])})" if before else ""
        rows.append(("polar phase after the exchange", f"{moved[0]:.1f} nm{shift}"))
    if back:
        shift = f" ({signed(back[0] - before[0])} from before)" if before else ""
        rows.append(("alkane phase after OLA", f"{back[0]:.1f} nm{shift}"))
    return rows


def _numbers(numbers: dict[str, Any]) -> str:
    return ", ".join(f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}"
                     for k, v in numbers.items())


def _describe(kind: str, params: dict[str, Any]) -> str:
    from mscrobot.procedure.steps import step_from_params

    try:
        return step_from_params(kind, params).describe()
    except (KeyError, TypeError, ValueError):
        return f"{kind} {json.dumps(params)}"


def _retention(record: dict[str, object] | None) -> str:
    if record is None:
        return "—"
    retained = record["metal_retained"]
    kept = "retained" if retained is True else "removed" if retained is False else "not known"
    note = f"; {record['note']}" if record.get("note") else ""
    return f"{record['metal']} from {record['salt']}: {kept} ({record['basis']}){note}"


def _page(data: RunData, analysis: _Analysis, figures: dict[str, str]) -> str:
    meta = data.meta
    chem = analysis.chemistry
    note = chem.verdict_note()
    name = meta.get("recipe_name") or "(unnamed recipe)"
    pending = data.pending()
    header = [
        ("run", meta.get("id", data.run_dir.name)),
        ("recipe", f"{name} ({meta.get('recipe_source')})"),
        ("lab", meta.get("lab_name")),
        ("seed", meta.get("seed")),
        ("created", meta.get("created")),
        ("state", f"{data.state}: {data.reason}" if data.reason else data.state),
        ("lab time", _clock(data.lab_time_s)),
        ("steps", f"{len(data.steps)} ({sum(r.status == 'done' for r in data.steps)} done)"),
        ("sample spectra", data.sample_spectra),
        ("forward verdict", _verdict_text(data.last_verdict("forward"), note)),
        ("back verdict", _verdict_text(data.last_verdict("back"), note)),
        ("metal after OLA back-exchange", _retention(analysis.salt_record)),
    ]
    if pending is not None:
        header.append(("waiting for the operator",
                        f"step {pending['step']} ({pending['kind']}): {pending['question']} "
                        f"[{' | '.join(pending['choices'])}]"))
    trail = [(v["step"], _clock(v["lab_t"]), v["stage"], v["state"], v["action"],
              "; ".join(v["reasons"]), _numbers(v["numbers"])) for v in data.verdicts]
    history = data.volume_history()
    volumes = []
    if history:
        first, last = history[0][1], history[-1][1]
        volumes = [(k, f"{first.get(k, math.nan):g}", f"{last.get(k, math.nan):g}")
                   for k in dict.fromkeys([*first, *last])]
    steps = [(r.n, r.kind, _describe(r.kind, r.params), r.status, _clock(r.started_t),
              _clock(r.ended_t), r.error or "") for r in data.steps]
    states = [(s["wall"], _clock(s["lab_t"]), s["state"], s["reason"]) for s in data.states]
    answers = [(a["step"], a["answer"], a["wall"], a["note"] or "") for a in data.answers]
    notes = "".join(f'<p class="note">{_e(n)}</p>' for n in analysis.notes)
    parts = [
        f"<h1>{_e(name)}</h1>",
        f'<p class="state state-{_e(data.state)}">{_e(data.state)}</p>',
        _kv(header),
        notes,
        "<h2>Amounts</h2>",
        _kv(amount_rows(chem)) if chem.amounts is not None
        else '<p class="empty">The recipe cannot be read again.</p>',
        "<h2>Warnings and what the run relies on beyond the paper</h2>",
        ("".join(f'<p class="note">{_e(w)}</p>' for w in chem.warnings)
         or '<p class="empty">The recipe check gave no warnings.</p>'),
        ('<p class="note">Every verdict of this run was reached on the simulated lab: the '
         "twin's transfer kinetics are assumed (twin/params.py).</p>" if chem.simulated
         else ""),
        _table(["what", "value", "source", "note", "where it lives"],
               [(r.topic, r.value, r.source, r.note, r.where) for r in chem.beyond], "beyond")
        if chem.beyond else "",
        "<h2>Absorbance spectra</h2>",
        _img(figures, "spectra", "absorbance spectra of each phase, coloured by lab time",
             "No spectra recorded yet."),
        "<h2>Band absorbance and verdicts</h2>",
        _img(figures, "bands", "height of the strongest band of each set against lab time",
             "No analysed samples yet."),
        _kv(_positions(analysis)) if _positions(analysis) else "",
        "<h2>Decision trail</h2>",
        _table(["step", "lab time", "stage", "state", "action", "reasons", "numbers"], trail,
               "trail") if trail else '<p class="empty">No verdicts yet.</p>',
        "<h2>Volumes</h2>",
        _img(figures, "volumes", "volume of each vessel against lab time",
             "No liquid handled yet."),
        _table(["vessel", "first known (µL)", "last known (µL)"], volumes) if volumes else "",
        "<h2>Operator answers</h2>",
        _table(["step", "answer", "wall time", "note"], answers) if answers
        else '<p class="empty">None.</p>',
        "<h2>Run states</h2>",
        _table(["wall time", "lab time", "state", "reason"], states),
        f"<details><summary>All {len(steps)} steps</summary>",
        _table(["n", "kind", "what", "status", "started", "ended", "error"], steps, "steps"),
        "</details>",
        "<h2>Recipe</h2>",
        f"<pre>{_e(meta.get('recipe_text', ''))}</pre>",
        f"<footer>Written by mscrobot from {_e(data.run_dir.name)}/journal.sqlite at "
        f"{_e(time.strftime('%Y-%m-%d %H:%M:%S %z'))}.</footer>",
    ]
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{_e(name)} · {_e(meta.get('id', ''))}</title><style>{_CSS}</style></head>"
            f"<body>{''.join(parts)}</body></html>\n")


_CSS = """
body{font:14px/1.4 system-ui,sans-serif;max-width:1100px;margin:1.5em auto;padding:0 1em;
color:#222}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.6em;
border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:2px 6px;
vertical-align:top;text-align:left}
table.kv th{background:#f5f5f5;white-space:nowrap}thead th{background:#f0f0f0}
img{max-width:100%}pre{background:#f7f7f7;padding:.8em;overflow-x:auto;font-size:12px}
.state{display:inline-block;padding:1px 8px;border-radius:3px;background:#ddd;font-weight:600}
.state-completed{background:#c8e6c9}.state-failed{background:#ffcdd2}
.state-awaiting_operator,.state-stopped,.state-paused{background:#ffe0b2}
.state-running{background:#bbdefb}.empty{color:#777;font-style:italic}.note{color:#a15c00}
table.steps,table.trail{font-size:12px}footer{margin-top:2em;color:#888;font-size:12px}
"""
