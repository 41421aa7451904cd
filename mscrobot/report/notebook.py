"""A lab-notebook entry for one run, from its folder alone: Markdown to paste into an electronic
lab notebook, the same content as JSON for one that takes structured data, and the report's
figures as PNG files beside them.

What goes in is what a chemist writes up: materials and amounts with the masses to weigh,
conditions, the timeline, each verdict with its reasons, the warnings and everything the run
relied on beyond the paper. Everything is read from the journal (the recipe and lab as they
were), so an entry written weeks later says what the run did.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from mscrobot.report.chemistry import amount_rows, chemistry_of
from mscrobot.report.data import RunData, read_run

FIGURE_NAMES = {"spectra": "spectra.png", "bands": "bands.png", "volumes": "volumes.png"}


def notebook_entry(run_dir: Path, out_dir: Path) -> list[Path]:
    """Write ``entry.md``, ``entry.json`` and the figures into ``out_dir``; returns the files.

    Raises ``UnreadableRunError`` for a journal that cannot be read, ``OSError`` for a folder
    that cannot be written."""
    from mscrobot.report.html import report_figures

    data = read_run(run_dir)
    figures = report_figures(data)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for name, b64 in figures.items():
        path = out_dir / FIGURE_NAMES[name]
        path.write_bytes(base64.b64decode(b64))
        files.append(path)
    doc = entry(data, [f.name for f in files])
    md = out_dir / "entry.md"
    md.write_text(markdown(doc), encoding="utf-8")
    js = out_dir / "entry.json"
    js.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return [md, js, *files]


def entry(data: RunData, figures: list[str]) -> dict[str, Any]:
    """The entry as plain data (stable keys: the JSON file)."""
    meta = data.meta
    chem = chemistry_of(meta)
    recipe: dict[str, Any] = {}
    try:
        from mscrobot.recipe.loader import load_recipe_text
        from mscrobot.units import format_quantity as fq

        r = load_recipe_text(meta["recipe_text"]).recipe
        recipe = {
            "cluster": f"({r.cluster.material}){r.cluster.size}-{r.cluster.ligand} in "
                       f"{r.cluster.solvent}, {fq(r.cluster.concentration)}, "
                       f"{fq(r.cluster.volume)}",
            "salt": f"{r.salt.compound}{f'·{r.salt.hydrate}H2O' if r.salt.hydrate else ''} in "
                    f"{r.salt.solvent}, {fq(r.salt.concentration)}, {fq(r.salt.volume)}",
            "vessel": r.vessel,
            "stirring": f"{fq(r.exchange.stir_rate)} at {fq(r.exchange.temperature)}, at most "
                        f"{fq(r.exchange.max_time)}, sampled every "
                        f"{fq(r.exchange.sampling_interval)}",
            "back_exchange": (f"{fq(r.back_exchange.hexane_volume)} {r.cluster.solvent}, then "
                              f"{fq(r.back_exchange.ola)} oleylamine"
                              if r.back_exchange.enabled else "none"),
            "characterisation": list(r.characterisation),
        }
    except (KeyError, ValueError):
        pass
    timeline = [{"lab_time_s": s["lab_t"], "wall": s["wall"], "state": s["state"],
                 "reason": s["reason"]} for s in data.states]
    verdicts = [{"step": v["step"], "lab_time_s": v["lab_t"], "stage": v["stage"],
                 "state": v["state"], "action": v["action"], "reasons": v["reasons"]}
                for v in data.verdicts]
    return {
        "run": meta.get("id", data.run_dir.name), "recipe_name": meta.get("recipe_name"),
        "recipe_source": meta.get("recipe_source"), "lab": meta.get("lab_name"),
        "seed": meta.get("seed"), "created": meta.get("created"), "state": data.state,
        "reason": data.reason, "lab_time_s": data.lab_time_s,
        "materials": recipe,
        "amounts": dict(amount_rows(chem)),
        "warnings": chem.warnings,
        "beyond_the_paper": [r.as_dict() for r in chem.beyond],
        "simulated": chem.simulated,
        "verdict_note": chem.verdict_note(),
        "verdicts": verdicts,
        "timeline": timeline,
        "operator_answers": data.answers,
        "figures": figures,
        "problems": chem.problems,
    }


def _md_escape(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(doc: dict[str, Any]) -> str:
    """The entry as Markdown (tables for amounts and verdicts, figures linked by file name)."""
    lines = [f"# {_md_escape(doc['recipe_name'])}", "",
             f"Run `{doc['run']}` on lab {doc['lab']} (seed {doc['seed']}), created "
             f"{doc['created']}: **{doc['state']}**" + (f" ({doc['reason']})" if doc["reason"]
                                                         else "") + ".", ""]
    if doc["simulated"]:
        lines += ["*A dry run on the simulated lab: the spectra and verdicts come from the "
                  "digital twin, whose kinetics are assumed.*", ""]
    if doc["materials"]:
        lines += ["## Materials and conditions", ""]
        for k, v in doc["materials"].items():
            shown = (", ".join(v) or "none") if isinstance(v, list) else v
            lines.append(f"- **{k.replace('_', ' ')}**: {_md_escape(shown)}")
        lines.append("")
    if doc["amounts"]:
        lines += ["## Amounts", "", "| | |", "|---|---|"]
        lines += [f"| {_md_escape(k)} | {_md_escape(v)} |" for k, v in doc["amounts"].items()]
        lines.append("")
    lines += ["## Verdicts", ""]
    if doc["verdicts"]:
        lines += ["| step | lab time (s) | stage | state | action | reasons |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {v['step']} | {v['lab_time_s']:g} | {v['stage']} | {v['state']} | "
                  f"{v['action']} | {_md_escape('; '.join(v['reasons']))} |"
                  for v in doc["verdicts"]]
        if doc["verdict_note"]:
            lines += ["", f"The verdicts rest on: {doc['verdict_note']}."]
    else:
        lines.append("No verdicts.")
    lines += ["", "## Warnings and what the run relies on beyond the paper", ""]
    lines += [f"- {_md_escape(w)}" for w in doc["warnings"]] or ["- The recipe check gave no "
                                                                 "warnings."]
    if doc["beyond_the_paper"]:
        lines += ["", "| what | value | source | note | where it lives |",
                  "|---|---|---|---|---|"]
        lines += [f"| {_md_escape(r['topic'])} | {_md_escape(r['value'])} | {r['source']} | "
                  f"{_md_escape(r['note'])} | `{r['where']}` |" for r in doc["beyond_the_paper"]]
    lines += ["", "## Timeline", "", "| wall time | lab time (s) | state | reason |",
              "|---|---|---|---|"]
    for t in doc["timeline"]:
        lab_t = "" if t["lab_time_s"] is None else f"{t['lab_time_s']:g}"
        lines.append(f"| {t['wall']} | {lab_t} | {t['state']} | {_md_escape(t['reason'])} |")
    if doc["operator_answers"]:
        lines += ["", "## Operator answers", ""]
        lines += [f"- step {a['step']}: {a['answer']} ({a['wall']})"
                  + (f": {_md_escape(a['note'])}" if a.get("note") else "")
                  for a in doc["operator_answers"]]
    if doc["figures"]:
        lines += ["", "## Figures", ""]
        lines += [f"![{name.removesuffix('.png')}]({name})" for name in doc["figures"]]
    for p in doc["problems"]:
        lines += ["", f"> {_md_escape(p)}"]
    return "\n".join(lines) + "\n"
