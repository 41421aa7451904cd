"""The campaign's summary page: transfer time against salt and equivalents, verdicts per run,
and the schedule (who held each resource when). One self-contained HTML file.

Built from ``summary.json`` alone, so it can be rewritten later. matplotlib is imported here
only, inside the functions, so the CLI stays fast.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

from mscrobot.campaign.record import SUMMARY_NAME

REPORT_NAME = "report.html"
DPI = 110
#: Fits any window from ~800 px: tables never grow past the page (a run folder's id or a stall's
#: `resolve` command breaks where it must), figures shrink to it.
STYLE = ("body{font-family:sans-serif;margin:2em}"
         "table{border-collapse:collapse;max-width:100%}"
         "td,th{border:1px solid #ccc;padding:2px 6px;font-size:90%;overflow-wrap:anywhere}"
         "img{max-width:100%;height:auto}")


def write_campaign_report(path: Path) -> Path:
    summary = json.loads((path / SUMMARY_NAME).read_text(encoding="utf-8"))
    target = path / REPORT_NAME
    target.write_text(render(summary), encoding="utf-8")
    return target


def render(summary: dict[str, Any]) -> str:
    runs = summary["runs"]
    e = html.escape
    rows = "".join(
        "<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in (
            r["index"], r["salt"], f"{r['equivalents']:.3g}", f"{r['stir_rpm']:.0f}", r["seed"],
            r["position"], _minutes(r["start_s"], r.get("segment")),
            _minutes(r["end_s"], r.get("segment")),
            r["forward"] or "—", r["back"] or "—",
            "—" if r["transfer_s"] is None else f"{r['transfer_s'] / 60:.1f}",
            r["error"] or r["state"] or "", r["id"])) + "</tr>" for r in runs)
    head = "".join(f"<th>{h}</th>" for h in (
        "#", "salt", "Zn/cluster", "rpm", "seed", "position", "start (min)", "end (min)",
        "exchange", "back-exchange", "transfer (min)", "state", "run folder"))
    bound = summary["lower_bound_parts"]
    earlier = summary.get("earlier") or []
    resumed = (f"<p>Resumed {summary['segment']} time(s): times are in the campaign time of the "
               f"segment marked after them (it restarts at each resume); makespan, schedule and "
               f"bound are segment {summary['segment']}'s. {len(earlier)} earlier segment(s) "
               f"recorded in summary.json.</p>" if summary.get("segment") else "")
    timing = (
        f"Run as a Prefect flow: times are wall-clock minutes from the first hold of a Prefect "
        f"limit (runs on workers share no virtual clock); the last hold ended at "
        f"{summary['makespan_s'] / 60:.1f} min." if summary.get("clock") == "wall" else
        f"Makespan {summary['makespan_s'] / 60:.1f} min; lower bound "
        f"{summary['lower_bound_s'] / 60:.1f} min (busiest shared resource "
        f"{bound['busiest_resource_s'] / 60:.1f}, longest run {bound['longest_run_s'] / 60:.1f}, "
        f"run time per position {bound['run_time_per_position_s'] / 60:.1f}). "
        f"{summary['waits']['count']} steps waited for a shared resource, "
        f"{summary['waits']['total_s'] / 60:.1f} min in all.")
    figures = "".join(f'<img alt="{alt}" src="data:image/png;base64,{png}">'
                      for alt, png in (("transfer time", _transfer_plot(runs)),
                                       ("schedule", _schedule_plot(summary))))
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>Campaign {e(summary['campaign'])}</title>
<style>{STYLE}</style>
</head><body><h1>Campaign: {e(summary['campaign'])}</h1>
<p>{len(runs)} runs on lab {e(summary['lab'])}, {summary['positions']} stir positions, one robot
arm, one spectrometer. {timing}</p>
{resumed}{figures}
<table><tr>{head}</tr>{rows}</table>
{_stocks(summary.get("stocks", []))}{_tips(summary.get("tips", []))}</body></html>
"""


def _minutes(t: float | None, segment: int | None) -> str:
    """A campaign time in minutes, marked with its segment when the campaign was resumed."""
    if t is None:
        return "—"
    return f"{t / 60:.1f}" + (f" (s{segment})" if segment else "")


def _table(title: str, intro: str, head: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    e = html.escape
    cells = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>"
                    for row in rows)
    return (f"<h2>{title}</h2><p>{intro}</p><table><tr>"
            + "".join(f"<th>{h}</th>" for h in head) + f"</tr>{cells}</table>")


def _stocks(stocks: list[dict[str, Any]]) -> str:
    """What to prepare for this campaign on a lab: one row per distinct stock vial."""
    if not stocks:
        return ""
    return _table(
        "Stocks to prepare", "Each run's worst case (every policy rung used), summed over the "
        "runs that share a stock. A dry run gives each run a fresh deck.",
        ("deck position", "contents", "runs", "worst case (mL)", "one vial holds (mL)",
         "to weigh per vial", ""),
        [(s["position"], s["contents"], len(s["runs"]), f"{s['worst_case_ul'] / 1000:.3g}",
          f"{s['deck_holds_ul'] / 1000:.3g}", s.get("weigh", ""),
          "more than one vial" if s["short"] else "") for s in stocks])


def _tips(tips: list[dict[str, Any]]) -> str:
    """Tips per pipette over the campaign against its racks (each dry run had full racks)."""
    if not tips:
        return ""
    return _table(
        "Tips", "Summed over the runs (each dry run's own engine had full racks); on the lab's "
        "one robot, refill the racks this many times.",
        ("mount", "pipette", "tips taken", "racks hold", "refills"),
        [(t["mount"], t["pipette"], t["total"], t["racks_hold"], t["refills"]) for t in tips])


def _png(fig: Any) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _transfer_plot(runs: list[dict[str, Any]]) -> str:
    """Transfer time vs equivalents, one colour per salt; never-confirmed runs on the top edge."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.8), layout="constrained")
    ax = fig.add_subplot()
    salts = sorted({r["salt"] for r in runs})
    done = [r["transfer_s"] / 60 for r in runs if r["transfer_s"] is not None]
    top = max([*done, 1.0]) * 1.15
    rates = sorted({r["stir_rpm"] for r in runs})
    markers = "os^Dv<>p"
    for i, salt in enumerate(salts):
        for j, rpm in enumerate(rates):
            mine = [r for r in runs if r["salt"] == salt and r["stir_rpm"] == rpm]
            ok = [r for r in mine if r["transfer_s"] is not None]
            no = [r for r in mine if r["transfer_s"] is None]
            colour = f"C{i}"
            ax.scatter([r["equivalents"] for r in ok], [r["transfer_s"] / 60 for r in ok],
                       color=colour, marker=markers[j % len(markers)],
                       label=f"{salt}, {rpm:.0f} rpm")
            ax.scatter([r["equivalents"] for r in no], [top] * len(no), color=colour,
                       marker="x")
    ax.axhline(top, color="0.7", lw=0.8, ls=":")
    ax.text(0.01, 0.99, "x: not confirmed", transform=ax.transAxes, va="top", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("metal equivalents per cluster")
    ax.set_ylabel("transfer time (min)")
    ax.set_title("Forward exchange: phases meeting → confirmed complete")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return _png(fig)


_VERDICT_COLOURS = {"complete": "tab:green", "stalled": "tab:orange", "degraded": "tab:red",
                    "ambiguous": "tab:purple"}


def _schedule_plot(summary: dict[str, Any]) -> str:
    """One row per resource; runs' position holds labelled with their final verdict."""
    from matplotlib.figure import Figure

    intervals = summary["intervals"]
    names = sorted({iv["resource"] for iv in intervals}, key=lambda n: (n.startswith("pos"), n))
    fig = Figure(figsize=(9, 0.45 * len(names) + 1.2), layout="constrained")
    ax = fig.add_subplot()
    forward = {r["index"]: r["forward"] for r in summary["runs"]}
    for y, name in enumerate(names):
        for iv in (iv for iv in intervals if iv["resource"] == name):
            colour = (_VERDICT_COLOURS.get(forward.get(iv["run"]) or "", "0.6")
                      if name.startswith("pos") else f"C{iv['run'] % 10}")
            ax.barh(y, (iv["end"] - iv["start"]) / 60, left=iv["start"] / 60, height=0.7,
                    color=colour, edgecolor="white", linewidth=0.3)
            if name.startswith("pos"):
                ax.text((iv["start"] + iv["end"]) / 120, y, str(iv["run"]), ha="center",
                        va="center", fontsize=7)
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlabel("campaign time (min)")
    ax.set_title("Schedule (positions coloured by the exchange verdict: green complete, "
                 "orange stalled)", fontsize=9)
    return _png(fig)
