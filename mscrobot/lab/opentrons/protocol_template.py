"""An mscrobot recipe's liquid handling as a standalone Opentrons protocol.

Exported by `mscrobot protocol export`: everything recipe- and deck-specific is the JSON in
DATA, parsed when the protocol runs; the code below is the same for every recipe. The robot
adds the stocks, draws each blank into the flow-cell inlet for its reference, and draws the
samples; the protocol pauses wherever mscrobot would take a reference, stir, measure or
decide, and the operator does that and resumes. The number of
sampling rounds of each stage is a run-time parameter (default: the rounds of mscrobot's dry
run of the recipe); stall policies and verdicts are mscrobot's, not this protocol's.
"""

import json
import math

from opentrons import protocol_api

DATA = json.loads("{}")

metadata = {"protocolName": "mscrobot recipe", "author": "mscrobot",
            "description": "Liquid handling of an mscrobot recipe; pauses for stirring, "
                           "measuring and deciding."}
requirements = {"robotType": "OT-2", "apiLevel": "2.20"}


def add_parameters(parameters: protocol_api.Parameters) -> None:
    for stage in DATA["stages"]:
        parameters.add_int(variable_name=f"{stage['name']}_rounds",
                           display_name=f"{stage['name'].capitalize()} sampling rounds",
                           description="Stir, settle, sample and measure this many times",
                           default=stage["rounds"], minimum=0, maximum=stage["max_rounds"])


def run(protocol: protocol_api.ProtocolContext) -> None:
    deck = DATA["deck"]
    loaded = {}
    for slot, lw in deck["slots"].items():
        if lw["definition"] is not None:
            loaded[slot] = protocol.load_labware_from_definition(lw["definition"], slot)
        else:
            loaded[slot] = protocol.load_labware(lw["load_name"], slot)
    if DATA["trash"] is not None:
        protocol.load_trash_bin(DATA["trash"])
    pipettes = []
    for p in DATA["pipettes"]:
        racks = [protocol.load_labware(p["tip_rack"], slot) for slot in p["tip_slots"]]
        pipettes.append((p, protocol.load_instrument(p["name"], p["mount"], tip_racks=racks)))
    pipettes.sort(key=lambda pair: pair[0]["max_ul"])
    air = DATA["air_gap_ul"]
    held = {name: pos["volume_ul"] for name, pos in deck["positions"].items()}
    layers = {"polar": 0.0, "nonpolar": 0.0}
    vial = deck["vial"]

    def well(name):
        pos = deck["positions"][name]
        return loaded[pos["slot"]][pos["well"]]

    def pipette_for(volume, gaps, split):
        for spec, pip in pipettes:
            if volume >= spec["min_ul"] and volume + gaps * air <= spec["max_ul"]:
                return pip, 1
        spec, pip = pipettes[-1]
        n = math.ceil(volume / (spec["max_ul"] - gaps * air))
        if not split or volume / n < spec["min_ul"]:
            raise ValueError(f"no pipette takes {volume} uL")
        return pip, n

    def height(phase, volume):
        area = math.pi * (vial["diameter_mm"] / 2.0) ** 2
        polar_top = layers["polar"] / area
        top = polar_top + layers["nonpolar"] / area
        if phase == "polar":
            return max(vial["bottom_mm"], polar_top / 2.0)
        return polar_top + (top - polar_top) / 2.0

    def stock_depth(name, left):
        pos = deck["positions"][name]
        return max(1.0, left / pos["area_mm2"] - 2.0)

    def add(op):
        volume, source, dest = op["volume_ul"], op["source"], op["dest"]
        pip, n = pipette_for(volume, 1, True)
        pip.pick_up_tip()
        for _ in range(n):
            held[source] -= volume / n
            pip.aspirate(volume / n, well(source).bottom(stock_depth(source, held[source])))
            pip.air_gap(air)
            pip.dispense(volume / n + air, well(dest).top(-3))
            pip.blow_out(well(dest).top(-3))
        pip.drop_tip()
        if dest == "reaction":
            layers[op["layer"]] += volume

    def reference(op):
        volume, source = op["volume_ul"], op["source"]
        pip, _ = pipette_for(volume, 1, False)
        pip.pick_up_tip()
        held[source] -= volume
        pip.aspirate(volume, well(source).bottom(stock_depth(source, held[source])))
        pip.air_gap(air)
        pip.dispense(volume + air, well("flow_cell").top(-1))
        pip.blow_out(well("flow_cell").top(-1))
        pip.drop_tip()
        protocol.pause(f"Take the {op['blank']} reference ({source} in the flow cell) and a "
                       "dark with the light path closed, then resume")
        flush(volume)

    def sample(phase, volume):
        gaps = 2 if phase == "polar" else 1
        pip, _ = pipette_for(volume, gaps, False)
        pip.pick_up_tip()
        if phase == "polar":  # down through the alkane holding air
            pip.move_to(well("reaction").top(2))
            pip.air_gap(air)
        pip.aspirate(volume, well("reaction").bottom(height(phase, volume)))
        pip.air_gap(air)
        pip.dispense(volume + gaps * air, well("flow_cell").top(-1))
        pip.blow_out(well("flow_cell").top(-1))
        pip.drop_tip()
        layers[phase] -= volume

    def give_back(phase, volume):
        pip, _ = pipette_for(volume, 1, False)
        pip.pick_up_tip()
        pip.aspirate(volume, well("flow_cell").bottom(1))
        pip.air_gap(air)
        to = well("reaction").bottom(height(phase, 0)) if phase == "polar" \
            else well("reaction").top(-3)
        pip.dispense(volume + air, to)
        pip.blow_out(well("reaction").top(-3))
        pip.drop_tip()
        layers[phase] += volume

    def flush(volume):
        pip, _ = pipette_for(volume, 1, False)
        pip.pick_up_tip()
        pip.aspirate(volume, well("flow_cell").bottom(1))
        pip.air_gap(air)
        pip.dispense(volume + air, well("waste").top(-1))
        pip.blow_out(well("waste").top(-1))
        pip.drop_tip()

    for stage in DATA["stages"]:
        protocol.comment(stage["title"])
        for op in stage["prepare"]:
            if op["op"] == "add":
                add(op)
            else:
                reference(op)
        for i in range(getattr(protocol.params, f"{stage['name']}_rounds")):
            protocol.pause(f"Round {i + 1}: {stage['stir']}")
            for phase in stage["phases"]:
                sample(phase, stage["sample_ul"])
                protocol.pause(f"Measure the {phase} sample in the flow cell, then resume")
                if stage["return_samples"]:
                    give_back(phase, stage["sample_ul"])
                else:
                    flush(stage["sample_ul"])
        protocol.pause(stage["after"])
