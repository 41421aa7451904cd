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

DATA = json.loads(
    '{\n'
    ' "air_gap_ul": 10.0,\n'
    ' "deck": {\n'
    '  "positions": {\n'
    '   "blank_vial": {\n'
    '    "area_mm2": 490.874,\n'
    '    "slot": "2",\n'
    '    "volume_ul": 0.0,\n'
    '    "well": "B2"\n'
    '   },\n'
    '   "cluster_stock": {\n'
    '    "area_mm2": 490.874,\n'
    '    "slot": "2",\n'
    '    "volume_ul": 15000.0,\n'
    '    "well": "A2"\n'
    '   },\n'
    '   "flow_cell": {\n'
    '    "area_mm2": 28.274,\n'
    '    "slot": "5",\n'
    '    "volume_ul": 0.0,\n'
    '    "well": "A1"\n'
    '   },\n'
    '   "hexane_stock": {\n'
    '    "area_mm2": 490.874,\n'
    '    "slot": "2",\n'
    '    "volume_ul": 15000.0,\n'
    '    "well": "A3"\n'
    '   },\n'
    '   "ola_stock": {\n'
    '    "area_mm2": 490.874,\n'
    '    "slot": "2",\n'
    '    "volume_ul": 5000.0,\n'
    '    "well": "B1"\n'
    '   },\n'
    '   "reaction": {\n'
    '    "area_mm2": 165.13,\n'
    '    "slot": "1",\n'
    '    "volume_ul": 0.0,\n'
    '    "well": "A1"\n'
    '   },\n'
    '   "salt_stock": {\n'
    '    "area_mm2": 490.874,\n'
    '    "slot": "2",\n'
    '    "volume_ul": 15000.0,\n'
    '    "well": "A1"\n'
    '   },\n'
    '   "waste": {\n'
    '    "area_mm2": 7776.0,\n'
    '    "slot": "9",\n'
    '    "volume_ul": 0.0,\n'
    '    "well": "A1"\n'
    '   }\n'
    '  },\n'
    '  "slots": {\n'
    '   "1": {\n'
    '    "definition": {\n'
    '     "brand": {\n'
    '      "brand": "mscrobot",\n'
    '      "brandId": []\n'
    '     },\n'
    '     "cornerOffsetFromSlot": {\n'
    '      "x": 0,\n'
    '      "y": 0,\n'
    '      "z": 0\n'
    '     },\n'
    '     "dimensions": {\n'
    '      "xDimension": 127.76,\n'
    '      "yDimension": 85.48,\n'
    '      "zDimension": 85.0\n'
    '     },\n'
    '     "groups": [\n'
    '      {\n'
    '       "metadata": {\n'
    '        "wellBottomShape": "flat"\n'
    '       },\n'
    '       "wells": [\n'
    '        "A1"\n'
    '       ]\n'
    '      }\n'
    '     ],\n'
    '     "metadata": {\n'
    '      "displayCategory": "tubeRack",\n'
    '      "displayName": "mscrobot 8 mL screw-cap vial (17 x 60 mm) on the stirr'
    'er",\n'
    '      "displayVolumeUnits": "mL",\n'
    '      "tags": [\n'
    '       "mscrobot:assumed-geometry"\n'
    '      ]\n'
    '     },\n'
    '     "namespace": "custom_beta",\n'
    '     "ordering": [\n'
    '      [\n'
    '       "A1"\n'
    '      ]\n'
    '     ],\n'
    '     "parameters": {\n'
    '      "format": "irregular",\n'
    '      "isMagneticModuleCompatible": false,\n'
    '      "isTiprack": false,\n'
    '      "loadName": "mscrobot_stirrer_vial_8ml",\n'
    '      "quirks": []\n'
    '     },\n'
    '     "schemaVersion": 2,\n'
    '     "version": 1,\n'
    '     "wells": {\n'
    '      "A1": {\n'
    '       "depth": 58.0,\n'
    '       "diameter": 14.5,\n'
    '       "shape": "circular",\n'
    '       "totalLiquidVolume": 8000.0,\n'
    '       "x": 63.88,\n'
    '       "y": 42.74,\n'
    '       "z": 25.0\n'
    '      }\n'
    '     }\n'
    '    },\n'
    '    "load_name": "mscrobot_stirrer_vial_8ml"\n'
    '   },\n'
    '   "2": {\n'
    '    "definition": {\n'
    '     "brand": {\n'
    '      "brand": "mscrobot",\n'
    '      "brandId": []\n'
    '     },\n'
    '     "cornerOffsetFromSlot": {\n'
    '      "x": 0,\n'
    '      "y": 0,\n'
    '      "z": 0\n'
    '     },\n'
    '     "dimensions": {\n'
    '      "xDimension": 127.76,\n'
    '      "yDimension": 85.48,\n'
    '      "zDimension": 65.0\n'
    '     },\n'
    '     "groups": [\n'
    '      {\n'
    '       "metadata": {\n'
    '        "wellBottomShape": "flat"\n'
    '       },\n'
    '       "wells": [\n'
    '        "A1",\n'
    '        "B1",\n'
    '        "A2",\n'
    '        "B2",\n'
    '        "A3",\n'
    '        "B3"\n'
    '       ]\n'
    '      }\n'
    '     ],\n'
    '     "metadata": {\n'
    '      "displayCategory": "tubeRack",\n'
    '      "displayName": "mscrobot 6 vial rack, 20 mL scintillation vials",\n'
    '      "displayVolumeUnits": "mL",\n'
    '      "tags": [\n'
    '       "mscrobot:assumed-geometry"\n'
    '      ]\n'
    '     },\n'
    '     "namespace": "custom_beta",\n'
    '     "ordering": [\n'
    '      [\n'
    '       "A1",\n'
    '       "B1"\n'
    '      ],\n'
    '      [\n'
    '       "A2",\n'
    '       "B2"\n'
    '      ],\n'
    '      [\n'
    '       "A3",\n'
    '       "B3"\n'
    '      ]\n'
    '     ],\n'
    '     "parameters": {\n'
    '      "format": "irregular",\n'
    '      "isMagneticModuleCompatible": false,\n'
    '      "isTiprack": false,\n'
    '      "loadName": "mscrobot_6_vialrack_20ml",\n'
    '      "quirks": []\n'
    '     },\n'
    '     "schemaVersion": 2,\n'
    '     "version": 1,\n'
    '     "wells": {\n'
    '      "A1": {\n'
    '       "depth": 58.0,\n'
    '       "diameter": 25.0,\n'
    '       "shape": "circular",\n'
    '       "totalLiquidVolume": 20000,\n'
    '       "x": 28.88,\n'
    '       "y": 60.24,\n'
    '       "z": 5.0\n'
    '      },\n'
    '      "A2": {\n'
    '       "depth": 58.0,\n'
    '       "diameter": 25.0,\n'
    '       "shape": "circular",\n'
    '       "totalLiquidVolume": 20000,\n'
    '       "x": 63.88,\n'
    '       "y": 60.24,\n'
    '       "z": 5.0\n'
    '      },\n'
    '      "A3": {\n'
    '       "depth": 58.0,\n'
    '       "diameter": 25.0,\n'
    '       "shape": "circular",\n'
    '       "totalLiquidVolume": 20000,\n'
    '       "x": 98.88,\n'
    '       "y": 60.24,\n'
    '       "z": 5.0\n'
    '      },\n'
    '      "B1": {\n'
    '       "depth": 58.0,\n'
    '       "diameter": 25.0,\n'
    '       "shape": "circular",\n'
    '       "totalLiquidVolume": 20000,\n'
    '       "x": 28.88,\n'
    '       "y": 25.24,\n'
    '       "z": 5.0\n'
    '      },\n'
    '      "B2": {\n'
    '       "depth": 58.0,\n'
    '       "diameter": 25.0,\n'
    '       "shape": "circular",\n'
    '       "totalLiquidVolume": 20000,\n'
    '       "x": 63.88,\n'
    '       "y": 25.24,\n'
    '       "z": 5.0\n'
    '      },\n'
    '      "B3": {\n'
    '       "depth": 58.0,\n'
    '       "diameter": 25.0,\n'
    '       "shape": "circular",\n'
    '       "totalLiquidVolume": 20000,\n'
    '       "x": 98.88,\n'
    '       "y": 25.24,\n'
    '       "z": 5.0\n'
    '      }\n'
    '     }\n'
    '    },\n'
    '    "load_name": "mscrobot_6_vialrack_20ml"\n'
    '   },\n'
    '   "5": {\n'
    '    "definition": {\n'
    '     "brand": {\n'
    '      "brand": "mscrobot",\n'
    '      "brandId": []\n'
    '     },\n'
    '     "cornerOffsetFromSlot": {\n'
    '      "x": 0,\n'
    '      "y": 0,\n'
    '      "z": 0\n'
    '     },\n'
    '     "dimensions": {\n'
    '      "xDimension": 127.76,\n'
    '      "yDimension": 85.48,\n'
    '      "zDimension": 48.0\n'
    '     },\n'
    '     "groups": [\n'
    '      {\n'
    '       "metadata": {\n'
    '        "wellBottomShape": "v"\n'
    '       },\n'
    '       "wells": [\n'
    '        "A1"\n'
    '       ]\n'
    '      }\n'
    '     ],\n'
    '     "metadata": {\n'
    '      "displayCategory": "other",\n'
    '      "displayName": "mscrobot flow-cell inlet",\n'
    '      "displayVolumeUnits": "\\u00b5L",\n'
    '      "tags": [\n'
    '       "mscrobot:assumed-geometry"\n'
    '      ]\n'
    '     },\n'
    '     "namespace": "custom_beta",\n'
    '     "ordering": [\n'
    '      [\n'
    '       "A1"\n'
    '      ]\n'
    '     ],\n'
    '     "parameters": {\n'
    '      "format": "irregular",\n'
    '      "isMagneticModuleCompatible": false,\n'
    '      "isTiprack": false,\n'
    '      "loadName": "mscrobot_flow_cell_inlet",\n'
    '      "quirks": []\n'
    '     },\n'
    '     "schemaVersion": 2,\n'
    '     "version": 1,\n'
    '     "wells": {\n'
    '      "A1": {\n'
    '       "depth": 8.0,\n'
    '       "diameter": 6.0,\n'
    '       "shape": "circular",\n'
    '       "totalLiquidVolume": 200,\n'
    '       "x": 63.88,\n'
    '       "y": 42.74,\n'
    '       "z": 40.0\n'
    '      }\n'
    '     }\n'
    '    },\n'
    '    "load_name": "mscrobot_flow_cell_inlet"\n'
    '   },\n'
    '   "9": {\n'
    '    "definition": null,\n'
    '    "load_name": "agilent_1_reservoir_290ml"\n'
    '   }\n'
    '  },\n'
    '  "vial": {\n'
    '   "bottom_mm": 1.0,\n'
    '   "diameter_mm": 14.5\n'
    '  }\n'
    ' },\n'
    ' "pipettes": [\n'
    '  {\n'
    '   "max_ul": 1000.0,\n'
    '   "min_ul": 100.0,\n'
    '   "mount": "left",\n'
    '   "name": "p1000_single_gen2",\n'
    '   "tip_rack": "opentrons_96_tiprack_1000ul",\n'
    '   "tip_slots": [\n'
    '    "10"\n'
    '   ]\n'
    '  },\n'
    '  {\n'
    '   "max_ul": 300.0,\n'
    '   "min_ul": 20.0,\n'
    '   "mount": "right",\n'
    '   "name": "p300_single_gen2",\n'
    '   "tip_rack": "opentrons_96_tiprack_300ul",\n'
    '   "tip_slots": [\n'
    '    "11",\n'
    '    "8",\n'
    '    "7"\n'
    '   ]\n'
    '  }\n'
    ' ],\n'
    ' "recipe": "(ZnSe)34 with ZnCl2 in DMF",\n'
    ' "robot": "OT-2",\n'
    ' "stages": [\n'
    '  {\n'
    '   "after": "Decide: is the exchange complete (alkane band gone, the polar b'
    'and there)? Resume for the back-exchange.",\n'
    '   "max_rounds": 20,\n'
    '   "name": "forward",\n'
    '   "phases": [\n'
    '    "nonpolar",\n'
    '    "polar"\n'
    '   ],\n'
    '   "prepare": [\n'
    '    {\n'
    '     "blank": "polar_salt",\n'
    '     "op": "reference",\n'
    '     "phase": "polar",\n'
    '     "source": "salt_stock",\n'
    '     "volume_ul": 20.0\n'
    '    },\n'
    '    {\n'
    '     "blank": "nonpolar",\n'
    '     "op": "reference",\n'
    '     "phase": "nonpolar",\n'
    '     "source": "hexane_stock",\n'
    '     "volume_ul": 20.0\n'
    '    },\n'
    '    {\n'
    '     "dest": "reaction",\n'
    '     "layer": "polar",\n'
    '     "liquid": "ZnCl2 in DMF",\n'
    '     "op": "add",\n'
    '     "source": "salt_stock",\n'
    '     "volume_ul": 1500.0\n'
    '    },\n'
    '    {\n'
    '     "dest": "reaction",\n'
    '     "layer": "nonpolar",\n'
    '     "liquid": "ZnSe34 in hexane",\n'
    '     "op": "add",\n'
    '     "source": "cluster_stock",\n'
    '     "volume_ul": 1500.0\n'
    '    }\n'
    '   ],\n'
    '   "return_samples": false,\n'
    '   "rounds": 4,\n'
    '   "sample_ul": 20.0,\n'
    '   "stir": "stir at 1000 rpm for 2 min, stop, let the phases settle 1 min, t'
    'hen resume to sample",\n'
    '   "title": "Exchange: ZnCl2 in DMF under the clusters"\n'
    '  },\n'
    '  {\n'
    '   "after": "Done: compare the alkane spectrum with the pre-exchange one.",\n'
    '   "max_rounds": 10,\n'
    '   "name": "back",\n'
    '   "phases": [\n'
    '    "nonpolar",\n'
    '    "polar"\n'
    '   ],\n'
    '   "prepare": [\n'
    '    {\n'
    '     "dest": "reaction",\n'
    '     "layer": "nonpolar",\n'
    '     "liquid": "hexane",\n'
    '     "op": "add",\n'
    '     "source": "hexane_stock",\n'
    '     "volume_ul": 1000.0\n'
    '    },\n'
    '    {\n'
    '     "dest": "reaction",\n'
    '     "layer": "nonpolar",\n'
    '     "liquid": "oleylamine",\n'
    '     "op": "add",\n'
    '     "source": "ola_stock",\n'
    '     "volume_ul": 50.0\n'
    '    },\n'
    '    {\n'
    '     "dest": "blank_vial",\n'
    '     "layer": "nonpolar",\n'
    '     "liquid": "hexane",\n'
    '     "op": "add",\n'
    '     "source": "hexane_stock",\n'
    '     "volume_ul": 954.1\n'
    '    },\n'
    '    {\n'
    '     "dest": "blank_vial",\n'
    '     "layer": "nonpolar",\n'
    '     "liquid": "oleylamine",\n'
    '     "op": "add",\n'
    '     "source": "ola_stock",\n'
    '     "volume_ul": 20.0\n'
    '    },\n'
    '    {\n'
    '     "blank": "nonpolar_ola",\n'
    '     "op": "reference",\n'
    '     "phase": "nonpolar",\n'
    '     "source": "blank_vial",\n'
    '     "volume_ul": 20.0\n'
    '    }\n'
    '   ],\n'
    '   "return_samples": false,\n'
    '   "rounds": 2,\n'
    '   "sample_ul": 20.0,\n'
    '   "stir": "stir at 1000 rpm for 2 min, stop, let the phases settle 1 min, t'
    'hen resume to sample",\n'
    '   "title": "Back-exchange: fresh alkane, then oleylamine"\n'
    '  }\n'
    ' ],\n'
    ' "trash": null\n'
    '}'
)

metadata = {"protocolName": "(ZnSe)34 with ZnCl2 in DMF", "author": "mscrobot",
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
