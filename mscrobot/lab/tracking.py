"""What a liquid handler believes each vessel holds: pure bookkeeping, no I/O.

PyLabRobot's rule for trackers: a front end owns its trackers, and they change only after the
backend confirms. A ``VesselTracker`` keeps each deck role's capacity and volume, and the
reaction vial's two layers (the denser polar one below, the alkane on top), so the tip heights
follow what was added and drawn. Its checks refuse an operation before anything moves: a stock
that cannot give, a vessel that would overflow, a stock of the other phase, a vial with no
two-phase mixture yet, a layer too thin to draw from clear of the interface, a flow cell
holding no sample of that phase to return.

There is one implementation: the Opentrons liquid handler keeps a tracker (its operation log
rebuilds it after a crash) and the simulated world keeps one for its own bookkeeping, so for
the same operations the two agree to the last bit. Neither knows of evaporation (the plan
estimates that itself).

A ``Move`` is one operation as a tracker applies it; a ``Follower`` is a backend that moves
liquid of its own behind a robot (the simulated world), told of each move before it is sent
and once the robot has carried it out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

from mscrobot.lab.protocols import LabRefusalError, OpStatus
from mscrobot.recipe.vessels import BOTTOM_CLEARANCE_MM, INTERFACE_MARGIN_MM

REACTION, FLOW_CELL, WASTE = "reaction", "flow_cell", "waste"
#: The one phase each single-phase vessel holds (the salt stock is salt in the polar solvent;
#: the blank vial is mixed from hexane and OLA).
STOCK_PHASES = {"salt_stock": "polar", "cluster_stock": "nonpolar",
                "hexane_stock": "nonpolar", "ola_stock": "nonpolar", "blank_vial": "nonpolar"}
#: Tip placement in the reaction vial (assumed): clear of the bottom, clear of the interface
#: (``mscrobot.recipe.vessels``), and submerged while drawing from the top layer.
SUBMERGED_MM = 1.0

MoveKind = Literal["dispense", "sample", "return", "flush"]


@dataclass
class VesselState:
    capacity_ul: float
    volume_ul: float = 0.0


@dataclass(frozen=True)
class Move:
    """``volume_ul`` from ``source`` to ``dest``: a dispense (``phase``: the layer it joins), a
    sample (a vessel's phase into the flow cell), a return (the cell's sample back to its
    vessel) or a flush (the cell into the waste: ``volume_ul`` is what it held)."""

    kind: MoveKind
    source: str
    dest: str
    volume_ul: float
    phase: str = ""
    #: a sample's tip this much further from the interface than the usual height (mm)
    depth_mm: float = 0.0

    @classmethod
    def dispense(cls, source: str, dest: str, volume_ul: float, layer: str) -> Move:
        return cls("dispense", source, dest, volume_ul, layer)

    @classmethod
    def sample(cls, vessel: str, phase: str, volume_ul: float, depth_mm: float = 0.0) -> Move:
        return cls("sample", vessel, FLOW_CELL, volume_ul, phase, depth_mm)

    @classmethod
    def return_sample(cls, vessel: str, phase: str, volume_ul: float) -> Move:
        return cls("return", FLOW_CELL, vessel, volume_ul, phase)

    @classmethod
    def flush(cls, volume_ul: float) -> Move:
        return cls("flush", FLOW_CELL, WASTE, volume_ul)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Move:
        return cls(**data)


class VesselTracker:
    """Volumes by deck role, the reaction vial's layers and the flow cell's sample."""

    def __init__(self, vessels: Mapping[str, VesselState], diameter_mm: float) -> None:
        self.vessels = {k: VesselState(v.capacity_ul, v.volume_ul) for k, v in vessels.items()}
        #: the reaction vial's inner diameter: µL of a layer / its cross-section = mm
        self.diameter_mm = diameter_mm
        self.layers = {"polar": 0.0, "nonpolar": 0.0}
        #: both phases have met in the reaction vial (from then on its layers can be sampled)
        self.mixed = False
        #: the phase of the sample in the flow cell, until it is returned or flushed
        self.cell_phase: str | None = None

    def volumes(self) -> dict[str, float]:
        return {k: v.volume_ul for k, v in self.vessels.items()}

    def volume(self, vessel: str) -> float:
        return self._vessel(vessel).volume_ul

    # --- checks: a refusal before anything moves ----------------------------------------------

    def check(self, move: Move) -> None:
        if move.kind == "dispense":
            self.check_dispense(move.source, move.dest, move.volume_ul)
        elif move.kind == "sample":
            self.check_sample(move.source, move.phase, move.volume_ul, move.depth_mm)
        elif move.kind == "return":
            self.check_return(move.dest, move.phase, move.volume_ul)

    def check_dispense(self, source: str, dest: str, volume_ul: float) -> None:
        self._need(source, volume_ul)
        self._room(dest, volume_ul)

    def check_sample(self, vessel: str, phase: str, volume_ul: float,
                     depth_mm: float = 0.0) -> float:
        """The sampling height (mm above the bottom: in the middle of the phase's layer in the
        reaction vial, ``depth_mm`` further from the interface, near the bottom of a stock), or
        a refusal: no mixture yet, a thin layer, a stock of the other phase, a full cell."""
        if vessel == REACTION:
            if not self.mixed:
                raise LabRefusalError(f"cannot sample the {phase} phase of the reaction vial: "
                                      "it holds no two-phase mixture yet")
            height = self.sampling_height_mm(phase, volume_ul, depth_mm)
        else:
            if STOCK_PHASES.get(vessel) != phase:
                raise LabRefusalError(f"{vessel} holds no {phase} liquid")
            self._need(vessel, volume_ul)
            height = BOTTOM_CLEARANCE_MM
        self._room(FLOW_CELL, volume_ul)
        return height

    def check_return(self, vessel: str, phase: str, volume_ul: float) -> None:
        if self.cell_phase != phase:
            raise LabRefusalError(f"the flow cell holds no {phase} sample to return")
        self._room(vessel, volume_ul)

    def sampling_height_mm(self, phase: str, volume_ul: float, depth_mm: float = 0.0) -> float:
        """Where the tip draws ``phase`` from, in mm above the vial's bottom.

        The polar (denser) layer is below, the alkane on top. The tip goes to the middle of its
        layer, at least ``INTERFACE_MARGIN_MM`` from the interface and, in the top layer, deep
        enough to stay submerged while drawing. Heights follow the tracked layer volumes; a
        layer too thin for that is refused, never sampled at the interface. ``depth_mm`` moves
        the tip that much further from the interface (lower in the polar layer, higher in the
        alkane): refused where it would leave the bottom clearance or the liquid."""
        area = math.pi * (self.diameter_mm / 2.0) ** 2  # mm², so µL / area = mm
        polar_top = self.layers["polar"] / area
        top = polar_top + self.layers["nonpolar"] / area
        draw = volume_ul / area
        if phase == "polar":
            height = max(BOTTOM_CLEARANCE_MM, polar_top / 2.0) - depth_mm
            ok = (height + draw <= polar_top - INTERFACE_MARGIN_MM
                  and height >= BOTTOM_CLEARANCE_MM - 1e-9)
        else:
            height = polar_top + (top - polar_top) / 2.0 + depth_mm
            ok = (height - polar_top >= INTERFACE_MARGIN_MM
                  and height + draw + SUBMERGED_MM <= top)
        if not ok and depth_mm:
            raise LabRefusalError(
                f"the {phase} layer ({self.layers[phase]:.0f} µL in a {self.diameter_mm:g} mm "
                f"vial) has no room to draw {volume_ul:g} µL {depth_mm:g} mm further from the "
                "interface")
        if not ok:
            raise LabRefusalError(
                f"the {phase} layer ({self.layers[phase]:.0f} µL, "
                f"{(polar_top if phase == 'polar' else top - polar_top):.1f} mm in a "
                f"{self.diameter_mm:g} mm vial) is too thin to draw {volume_ul:g} µL away from "
                "the interface")
        return height

    def _need(self, vessel: str, volume: float) -> None:
        v = self._vessel(vessel)
        if v.volume_ul < volume - 1e-9:
            raise LabRefusalError(f"{vessel} holds {v.volume_ul:.0f} µL; {volume:.0f} µL needed")

    def _room(self, vessel: str, volume: float) -> None:
        v = self._vessel(vessel)
        if v.volume_ul + volume > v.capacity_ul + 1e-9:
            raise LabRefusalError(f"{vessel} would overflow: {v.volume_ul:.0f} + {volume:.0f} µL "
                                  f"> {v.capacity_ul:.0f} µL")

    def _vessel(self, name: str) -> VesselState:
        try:
            return self.vessels[name]
        except KeyError:
            raise LabRefusalError(f"this lab has no vessel {name!r}") from None

    # --- changes: only once the move happened -------------------------------------------------

    def apply(self, move: Move) -> None:
        if move.kind == "dispense":
            self.dispense(move.source, move.dest, move.volume_ul, move.phase)
        elif move.kind == "sample":
            self.sample(move.source, move.phase, move.volume_ul)
        elif move.kind == "return":
            self.return_sample(move.dest, move.phase, move.volume_ul)
        else:
            self.flush()

    def dispense(self, source: str, dest: str, volume_ul: float, layer: str) -> None:
        self.vessels[source].volume_ul -= volume_ul
        self.vessels[dest].volume_ul += volume_ul
        if dest == REACTION:
            self.layers[layer] += volume_ul
            self.mixed = self.mixed or (self.layers["polar"] > 0 and self.layers["nonpolar"] > 0)

    def sample(self, vessel: str, phase: str, volume_ul: float) -> None:
        if vessel == REACTION:
            self.layers[phase] -= volume_ul
        self.vessels[vessel].volume_ul -= volume_ul
        self.vessels[FLOW_CELL].volume_ul += volume_ul
        self.cell_phase = phase

    def return_sample(self, vessel: str, phase: str, volume_ul: float) -> None:
        if vessel == REACTION:
            self.layers[phase] += volume_ul
        self.vessels[vessel].volume_ul += volume_ul
        self.vessels[FLOW_CELL].volume_ul -= volume_ul
        self.cell_phase = None

    def flush(self) -> None:
        held = self.vessels[FLOW_CELL].volume_ul
        self.vessels[FLOW_CELL].volume_ul = 0.0
        if WASTE in self.vessels:
            self.vessels[WASTE].volume_ul += held
        self.cell_phase = None


class Follower(Protocol):
    """A backend behind a robot that moves liquid of its own (the simulated world)."""

    def before(self, op_id: str, move: Move) -> None:
        """``move`` is about to be sent; raising here (an injected busy robot) sends nothing."""

    def confirmed(self, op_id: str, move: Move) -> None:
        """The robot carried ``move`` out. Applied once: a resumed run confirms again the
        operation a crash may have cut off before the follower heard of it."""

    def status_of(self, op_id: str) -> OpStatus:
        """Whether it applied ``op_id`` (asked only where the robot cannot be)."""
