"""A robot set up from a lab file: pipettes, tip racks and labware loaded, known by our names.

Setting up is itself a sequence of setup commands (home, ``loadPipette``, ``loadLabware``), so
Opentrons judges the deck: an occupied or unknown slot, a labware that does not exist, a
pipette the robot cannot take all fail here, before any run starts. The deck also keeps what
the robot does not tell over its API: which tips are used and whether a pipette holds one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mscrobot.lab.config import LabConfig
from mscrobot.lab.opentrons import commands as c
from mscrobot.lab.opentrons.backend import CommandBackend, CommandResult
from mscrobot.lab.opentrons.labware import LabwareRef, find_labware
from mscrobot.lab.opentrons.pipettes import PIPETTES, PipetteSpec
from mscrobot.lab.opentrons.tipstock import TipStock, racks_of
from mscrobot.lab.protocols import DeviceFaultError, LabRefusalError


@dataclass
class Pipette:
    mount: str
    spec: PipetteSpec
    id: str
    #: (tip rack labware id, well) in the order tips are used: column by column
    tips: list[tuple[str, str]] = field(default_factory=list)
    used: int = 0
    has_tip: bool = False
    #: the tip is an earlier run's (a process that died holding it): this run's engine does
    #: not know about it, so it is dropped with ``drop_leftover_tip``
    leftover: bool = False

    def next_tip(self) -> tuple[str, str]:
        if self.used >= len(self.tips):
            raise LabRefusalError(f"the {self.spec.name} on the {self.mount} mount has used all "
                                  f"{len(self.tips)} tips of its racks; refill them")
        tip = self.tips[self.used]
        self.used += 1
        return tip


@dataclass(frozen=True)
class Place:
    """A deck position as the robot knows it."""

    labware_id: str
    well: str
    labware: LabwareRef


class Deck:
    def __init__(self, backend: CommandBackend, config: LabConfig,
                 stock: TipStock | None = None) -> None:
        """``stock``: the robot's tip inventory (each rack used from where it was left, each
        tip taken counted in it); None: every rack full, as for a robot in process."""
        self.backend = backend
        self.stock = stock
        #: tip rack labware id → (slot, load name, tips it holds)
        self.racks: dict[str, tuple[str, str, int]] = {}
        self.trash = backend.trash  # where the robot's deck configuration has its trash
        self.pipettes: list[Pipette] = []
        self.places: dict[str, Place] = {}
        #: slot → the labware offset id the robot applied to what it loaded there (None: none)
        self.offset_ids: dict[str, str | None] = {}
        self._setup(c.home())
        stocked = racks_of(stock, config)  # refused here if a rack's labware changed
        for mount, pc in config.liquid_handler.pipettes.items():
            spec = PIPETTES[pc.name]
            result = self._setup(c.load_pipette(pc.name, mount))
            pipette = Pipette(mount, spec, result.result["pipetteId"])
            for known in stocked[mount]:
                rack = self._load(known.labware, known.slot)
                self.racks[rack[0]] = (known.slot, known.labware, known.capacity)
                wells = [w for col in rack[1].definition["ordering"] for w in col]
                pipette.tips += [(rack[0], w) for w in wells[known.used:]]
            self.pipettes.append(pipette)
        self.pipettes.sort(key=lambda p: p.spec.max_ul)
        loaded: dict[str, tuple[str, LabwareRef]] = {}
        for name, pos in config.deck.items():
            if pos.slot not in loaded:
                loaded[pos.slot] = self._load(pos.labware, pos.slot)
            labware_id, ref = loaded[pos.slot]
            self.places[name] = Place(labware_id, pos.well, ref)

    def took(self, rack_id: str) -> None:
        """A tip of rack ``rack_id`` is about to be picked up: counted in the inventory."""
        if self.stock is not None:
            self.stock.take(*self.racks[rack_id])

    def _setup(self, cmd: c.Command) -> CommandResult:
        try:
            result = self.backend.send(cmd)
        except c.InvalidCommandError as e:
            raise DeviceFaultError(f"Opentrons refuses the deck setup: {e}") from None
        if result.status != "succeeded":
            raise DeviceFaultError(f"Opentrons refuses the deck setup: {cmd['commandType']} "
                                   f"{cmd['params']}: {result.error_type}: {result.error}")
        return result

    def _load(self, load_name: str, slot: str) -> tuple[str, LabwareRef]:
        ref = find_labware(load_name)
        if ref is None:
            raise DeviceFaultError(f"no labware {load_name!r} (neither mscrobot's nor "
                                   "Opentrons')")
        if ref.custom:
            self.backend.add_labware_definition(ref.definition)
        result = self._setup(c.load_labware(ref.load_name, ref.namespace, ref.version, slot))
        self.offset_ids[slot] = result.result.get("offsetId")
        return result.result["labwareId"], ref
