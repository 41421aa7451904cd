"""A recipe's liquid handling as a standalone Opentrons Python protocol (``protocol export``).

The protocol is ``protocol_template.py`` with one JSON document put in: the deck (labware,
custom definitions embedded for ``load_labware_from_definition``), the pipettes, and per stage
the preparation (additions, and blanks drawn into the flow cell for the references), the
sampling round and how many rounds mscrobot's dry run of the recipe took.
Recipe values only ever enter the file as that JSON, inside string literals split into short
lines, so a recipe name or note full of quotes and Python stays inert text; the protocol name
in ``metadata`` (which Opentrons reads as a literal) is the recipe name reduced to safe
characters.
"""

from __future__ import annotations

import json
import math
import re
from importlib import resources
from typing import Any

from mscrobot.app.dryrun import simulate
from mscrobot.engine.events import Event, EventKind
from mscrobot.lab.config import LabConfig
from mscrobot.lab.opentrons.labware import find_labware, well_area_mm2
from mscrobot.lab.opentrons.pipettes import PIPETTES
from mscrobot.lab.tracking import BOTTOM_CLEARANCE_MM
from mscrobot.procedure.plan import MAX_ROUNDS
from mscrobot.procedure.steps import Decide, Dispense, Reference, Sample
from mscrobot.recipe.models import Recipe
from mscrobot.recipe.timings import timings

#: apiLevel of exported protocols: runtime parameters need >= 2.18; 8.8.2 runs up to 2.27.
API_LEVEL = "2.20"
CHUNK = 76


class ExportError(ValueError):
    """A lab the protocol cannot be written for (not an Opentrons lab, unknown labware)."""


def _deck(lab: LabConfig) -> dict[str, Any]:
    slots: dict[str, Any] = {}
    positions: dict[str, Any] = {}
    for name, pos in lab.deck.items():
        ref = find_labware(pos.labware)
        if ref is None:
            raise ExportError(f"deck.{name}: no labware {pos.labware!r}")
        slots[pos.slot] = {"load_name": ref.load_name,
                           "definition": ref.definition if ref.custom else None}
        positions[name] = {"slot": pos.slot, "well": pos.well,
                           "volume_ul": float(pos.volume.m_as("uL")),
                           "area_mm2": round(well_area_mm2(ref, pos.well), 3)}
    reaction = find_labware(lab.deck["reaction"].labware)
    assert reaction is not None
    well = reaction.definition["wells"][lab.deck["reaction"].well]
    return {"slots": slots, "positions": positions,
            "vial": {"diameter_mm": well["diameter"], "bottom_mm": BOTTOM_CLEARANCE_MM}}


def _dry_run(recipe: Recipe, seed: int) -> dict[str, Any]:
    """Per stage, the preparation (additions and references, in order) and the sampling
    rounds, as mscrobot's dry run on the twin did them."""
    seen: dict[str, Any] = {"forward": {"prepare": [], "rounds": 0},
                            "back": {"prepare": [], "rounds": 0}}
    stage = "forward"

    def watch(event: Event) -> None:
        nonlocal stage
        step = event.step
        if event.kind != EventKind.STEP:
            return
        preparing = stage == "back" or not seen["forward"]["rounds"]
        if isinstance(step, Decide):
            seen[step.stage]["rounds"] += 1
            if step.action == "start_back_exchange":
                stage = "back"
        elif isinstance(step, Dispense) and preparing:
            seen[stage]["prepare"].append({"op": "add", "source": step.source,
                                           "dest": step.dest,
                                           "volume_ul": round(step.volume_ul, 3),
                                           "layer": step.layer, "liquid": step.liquid})
        elif isinstance(step, Sample) and step.vessel != "reaction" and preparing:
            seen[stage]["prepare"].append({"op": "reference", "source": step.vessel,
                                           "phase": step.phase,
                                           "volume_ul": round(step.volume_ul, 3)})
        elif isinstance(step, Reference) and seen[stage]["prepare"]:
            seen[stage]["prepare"][-1]["blank"] = step.blank

    simulate(recipe, seed=seed, on_event=watch)
    return seen


def protocol_data(recipe: Recipe, lab: LabConfig, seed: int = 0) -> dict[str, Any]:
    lh = lab.liquid_handler
    if lh.backend != "opentrons":
        raise ExportError(f"lab '{lab.name}' has no Opentrons liquid handler")
    seen = _dry_run(recipe, seed)
    ex, back, mon = recipe.exchange, recipe.back_exchange, recipe.monitoring

    def stir(rpm: float, seconds: float, settle: float) -> str:
        return (f"stir at {rpm:g} rpm for {seconds / 60:g} min, stop, let the phases settle "
                f"{settle / 60:g} min, then resume to sample")

    def rounds_cap(total: float, interval: float, done: int) -> int:
        return min(MAX_ROUNDS, max(done, math.ceil(total / interval)) + 5)

    tm = timings(recipe)
    interval = tm.sampling_interval_s
    stages = [{
        "name": "forward", "title": f"Exchange: {recipe.salt.compound} in "
                                    f"{recipe.salt.solvent} under the clusters",
        "prepare": seen["forward"]["prepare"], "rounds": seen["forward"]["rounds"],
        "max_rounds": rounds_cap(tm.max_stir_s, interval,
                                 seen["forward"]["rounds"]),
        "stir": stir(float(ex.stir_rate.m_as("rpm")), interval, tm.settle_s),
        "phases": list(mon.phases), "sample_ul": float(mon.sample_volume.m_as("uL")),
        "return_samples": mon.return_samples,
        "after": "Decide: is the exchange complete (alkane band gone, the polar band there)? "
                 + ("Resume for the back-exchange." if back.enabled else "Resume to finish."),
    }]
    if back.enabled:
        rpm = back.stir_rate or ex.stir_rate
        back_interval = tm.back_stir_s
        stages.append({
            "name": "back", "title": "Back-exchange: fresh alkane, then oleylamine",
            "prepare": seen["back"]["prepare"], "rounds": seen["back"]["rounds"],
            "max_rounds": rounds_cap(tm.back_max_s, back_interval,
                                     seen["back"]["rounds"]),
            "stir": stir(float(rpm.m_as("rpm")), back_interval, tm.back_settle_s),
            "phases": list(mon.phases), "sample_ul": float(mon.sample_volume.m_as("uL")),
            "return_samples": mon.return_samples,
            "after": "Done: compare the alkane spectrum with the pre-exchange one.",
        })
    pipettes = [{"name": PIPETTES[p.name].protocol_name, "mount": mount, "tip_rack": p.tip_rack or
                 PIPETTES[p.name].tip_rack, "tip_slots": p.tip_slots,
                 "min_ul": PIPETTES[p.name].min_ul, "max_ul": PIPETTES[p.name].max_ul}
                for mount, p in lh.pipettes.items()]
    return {"recipe": recipe.name, "robot": lh.robot_type, "deck": _deck(lab),
            "trash": "A3" if lh.robot_type == "Flex" else None, "pipettes": pipettes,
            "air_gap_ul": float(lh.air_gap.m_as("uL")), "stages": stages}


def _literal(text: str) -> str:
    """``text`` as Python string literals (``repr``: always a literal, never code), one short
    line each, concatenated inside parentheses."""
    parts = [repr(line[i:i + CHUNK]) for line in text.splitlines(keepends=True)
             for i in range(0, len(line), CHUNK)]
    return "(\n" + "".join(f"    {p}\n" for p in parts or ["''"]) + ")"


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9 ()+\-.,]", "", name).strip()[:80] or "mscrobot recipe"


def export_protocol(recipe: Recipe, lab: LabConfig, seed: int = 0) -> str:
    """The protocol's Python source."""
    data = protocol_data(recipe, lab, seed)
    source = resources.files("mscrobot.lab.opentrons").joinpath(
        "protocol_template.py").read_text(encoding="utf-8")
    swaps = {
        'DATA = json.loads("{}")':
            f"DATA = json.loads{_literal(json.dumps(data, indent=1, sort_keys=True))}",
        '"protocolName": "mscrobot recipe"':
            f'"protocolName": {json.dumps(safe_name(recipe.name))}',
        '"robotType": "OT-2", "apiLevel": "2.20"':
            f'"robotType": {json.dumps(data["robot"])}, "apiLevel": {json.dumps(API_LEVEL)}',
    }
    for old, new in swaps.items():
        assert source.count(old) == 1, old
        source = source.replace(old, new)
    return source
