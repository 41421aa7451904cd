"""Tips as a lab's inventory: what a run may take at most, against what the robot's racks hold.

Every liquid-handling operation takes one fresh tip (a dispense split into parts takes one,
a flush of an empty cell none, counted anyway here). The most a recipe may need is counted
from its limits, as ``mscrobot plan``'s longest time is: the references, the doses (every
add-salt rung of the stall policy), and every monitoring round the stirring limits allow,
forward (``max stirring / interval + 1``) and back (``max time / stir time``), each phase
sampled, returned (if the recipe returns samples) and the cell flushed. Rounds that only
resample or resettle (no stirring) are not bounded by these limits and are not counted, nor
are the recovery's rinses before a draw (``monitoring.recovery.flushes``, two tips each): a run
that needs more tips than its racks still hold stops before the pick-up, asking for a refill.
Each operation's tip is counted on the pipette the liquid handler would choose for it.

The inventory itself (``mscrobot.lab.opentrons.tipstock``) is one file per robot in the
per-user state folder (``MSCROBOT_STATE_DIR``), kept for a robot over HTTP; a robot in process
starts every run with full racks and keeps none.
"""

from __future__ import annotations

import hashlib
import math

from mscrobot.app.lablock import device_keys, state_dir
from mscrobot.lab.config import LabConfig
from mscrobot.lab.opentrons.pipettes import PIPETTES, choose
from mscrobot.lab.opentrons.tipstock import Rack, TipStock, racks_of
from mscrobot.lab.protocols import LabRefusalError
from mscrobot.procedure.plan import BLANK_MAX_UL, BLANK_MIN_UL, BLANK_OLA_MIN_UL
from mscrobot.recipe.amounts import ola_volume_ul
from mscrobot.recipe.models import Recipe
from mscrobot.recipe.timings import timings


def stock_for(config: LabConfig) -> TipStock | None:
    """The tip inventory of the lab's robot (None: no robot over HTTP, nothing kept)."""
    robot = next((key for role, key in device_keys(config) if role == "robot"), None)
    if robot is None:
        return None
    name = hashlib.sha1(robot.encode()).hexdigest()[:16]
    return TipStock(state_dir() / "tips" / f"{name}.json", robot)


def worst_case_tips(recipe: Recipe, lab: LabConfig) -> dict[str, int]:
    """The most tips a run of ``recipe`` may take from each mount's racks, by its limits."""
    lh = lab.liquid_handler
    air = float(lh.air_gap.m_as("uL"))
    mounts = sorted(lh.pipettes, key=lambda m: PIPETTES[lh.pipettes[m].name].max_ul)
    specs = [PIPETTES[lh.pipettes[m].name] for m in mounts]
    need = dict.fromkeys(lh.pipettes, 0)

    def take(volumes: tuple[float, ...], gaps: int, split: bool, times: int = 1) -> None:
        """``times`` operations of one of ``volumes``: a tip on each pipette that may do it."""
        for mount in {
            mounts[c[0]] for v in volumes if (c := choose(specs, v, gaps, air, split)) is not None
        }:
            need[mount] += times

    sample = float(recipe.monitoring.sample_volume.m_as("uL"))
    phases = recipe.monitoring.phases

    def observe(times: int) -> None:
        for phase in phases:
            take((sample,), 2 if phase == "polar" else 1, False, times)  # the draw
            if recipe.monitoring.return_samples:
                take((sample,), 1, False, times)
            take((sample,), 1, False, times)  # the flush

    for phase in phases:  # the references: the blank drawn into the cell, then flushed
        take((sample,), 2 if phase == "polar" else 1, False)
        take((sample,), 1, False)
    take((float(recipe.salt.volume.m_as("uL")),), 1, True)
    take((float(recipe.cluster.volume.m_as("uL")),), 1, True)
    for rung in recipe.on_stall:
        if rung.action == "add_salt":
            take((float(rung.volume.m_as("uL")),), 1, True, rung.times)
    tm = timings(recipe)
    observe(math.ceil(tm.max_forward_stir_s / tm.sampling_interval_s) + 1)
    be = recipe.back_exchange
    if be.enabled:
        hexane = float(be.hexane_volume.m_as("uL"))
        if hexane > 0:
            take((hexane,), 1, True)
        take((ola_volume_ul(recipe),), 1, True)
        if "nonpolar" in phases and "nonpolar_ola" in recipe.monitoring.blanks:
            take((BLANK_MIN_UL - BLANK_OLA_MIN_UL, BLANK_MAX_UL - BLANK_OLA_MIN_UL), 1, True)
            take((BLANK_OLA_MIN_UL, BLANK_MAX_UL / 2), 1, True)
            take((sample,), 1, False)
            take((sample,), 1, False)
        observe(math.ceil(tm.back_max_s / tm.back_stir_s))
    return need


def check_tips(
    recipe: Recipe, lab: LabConfig, stock: TipStock | None, taken: dict[str, int] | None = None
) -> None:
    """Refuse a run whose racks hold fewer tips than its worst case (less ``taken``: what this
    run folder took already, on a resume), naming the pipette's racks and their counts."""
    racks = racks_of(stock, lab)
    for mount, need in worst_case_tips(recipe, lab).items():
        need -= (taken or {}).get(mount, 0)
        have = sum(r.left for r in racks[mount])
        if need > have:
            pc = lab.liquid_handler.pipettes[mount]  # type: ignore[index]
            held = ", ".join(f"slot {r.slot}: {r.left} of {r.capacity}" for r in racks[mount])
            where = f" (inventory {stock.path})" if stock is not None else ""
            raise LabRefusalError(
                f"the {pc.name} on the {mount} mount may take {need} tips in this run and "
                f"its racks hold {have} ({held}){where}: refill them, then `mscrobot lab "
                f"tips --lab LAB --refill SLOT` for each"
            )


def inventory(lab: LabConfig) -> tuple[TipStock | None, dict[str, list[Rack]]]:
    """The lab's tip inventory and each mount's racks as it has them."""
    stock = stock_for(lab)
    return stock, racks_of(stock, lab)


def refill(lab: LabConfig, slot: str) -> Rack:
    """The operator refilled the rack in ``slot`` of this lab's robot."""
    stock = stock_for(lab)
    if stock is None:
        raise LabRefusalError(
            f"lab '{lab.name}' keeps no tip inventory: its robot runs in "
            "process, and every run starts with full racks"
        )
    for racks in racks_of(None, lab).values():
        for rack in racks:
            if rack.slot == slot:
                return stock.refill(slot, rack.labware, rack.capacity)
    slots = ", ".join(s for p in lab.liquid_handler.pipettes.values() for s in p.tip_slots)
    raise LabRefusalError(
        f"lab '{lab.name}' has no tip rack in slot {slot!r} (its tip racks: {slots})"
    )
