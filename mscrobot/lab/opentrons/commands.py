"""Opentrons protocol-engine commands as JSON, checked by Opentrons' own command models.

The same dicts go to every backend (in-process engine, the robot's HTTP API, the emulator), so
they are built once here. Each is ``{"commandType", "params", "intent": "setup"}``: setup
commands run one at a time on an idle run, and a failed one fails only itself (DESIGN.md §5).
Heights are millimetres from the well's ``origin`` ("bottom" or "top"), volumes µL, flow
rates µL/s.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import ValidationError

Command = dict[str, Any]


class InvalidCommandError(ValueError):
    """A command Opentrons' models refuse (a wrong name, a volume of the wrong type)."""


def command(command_type: str, **params: Any) -> Command:
    return {"commandType": command_type, "params": params, "intent": "setup"}


def validate(cmd: Command) -> Any:
    """The command as Opentrons' ``CommandCreate`` model; raises ``InvalidCommandError``."""
    try:
        return _adapter().validate_python(cmd)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"][1:])
        raise InvalidCommandError(f"{cmd.get('commandType')}: {where}: {first['msg']}") from None


@functools.cache
def _adapter() -> Any:
    """Opentrons' command models, imported when first needed: building commands costs
    nothing, and a lab whose robot runs in a child process never imports them here."""
    from opentrons.protocol_engine.commands import CommandCreateAdapter

    return CommandCreateAdapter


def _location(origin: str, z: float) -> dict[str, Any]:
    return {"origin": origin, "offset": {"x": 0.0, "y": 0.0, "z": round(z, 3)}}


def home() -> Command:
    return command("home")


def load_pipette(name: str, mount: str) -> Command:
    return command("loadPipette", pipetteName=name, mount=mount)


def load_labware(load_name: str, namespace: str, version: int, slot: str,
                 display_name: str | None = None) -> Command:
    params: dict[str, Any] = {"loadName": load_name, "namespace": namespace, "version": version,
                              "location": {"slotName": slot}}
    if display_name:
        params["displayName"] = display_name
    return command("loadLabware", **params)


def pick_up_tip(pipette_id: str, labware_id: str, well: str) -> Command:
    return command("pickUpTip", pipetteId=pipette_id, labwareId=labware_id, wellName=well)


def move_to_well(pipette_id: str, labware_id: str, well: str, origin: str,
                 z: float) -> Command:
    return command("moveToWell", pipetteId=pipette_id, labwareId=labware_id, wellName=well,
                   wellLocation=_location(origin, z))


def prepare_to_aspirate(pipette_id: str) -> Command:
    return command("prepareToAspirate", pipetteId=pipette_id)


def aspirate(pipette_id: str, labware_id: str, well: str, volume: float, flow_rate: float,
             origin: str, z: float) -> Command:
    return command("aspirate", pipetteId=pipette_id, labwareId=labware_id, wellName=well,
                   volume=round(volume, 3), flowRate=flow_rate,
                   wellLocation=_location(origin, z))


def air_gap_in_place(pipette_id: str, volume: float, flow_rate: float) -> Command:
    return command("airGapInPlace", pipetteId=pipette_id, volume=round(volume, 3),
                   flowRate=flow_rate)


def aspirate_in_place(pipette_id: str, volume: float, flow_rate: float) -> Command:
    return command("aspirateInPlace", pipetteId=pipette_id, volume=round(volume, 3),
                   flowRate=flow_rate)


def dispense(pipette_id: str, labware_id: str, well: str, volume: float, flow_rate: float,
             origin: str, z: float) -> Command:
    return command("dispense", pipetteId=pipette_id, labwareId=labware_id, wellName=well,
                   volume=round(volume, 3), flowRate=flow_rate,
                   wellLocation=_location(origin, z))


def blowout(pipette_id: str, labware_id: str, well: str, flow_rate: float, origin: str,
            z: float) -> Command:
    return command("blowout", pipetteId=pipette_id, labwareId=labware_id, wellName=well,
                   flowRate=flow_rate, wellLocation=_location(origin, z))


def move_to_trash(pipette_id: str, area: str) -> Command:
    return command("moveToAddressableAreaForDropTip", pipetteId=pipette_id,
                   addressableAreaName=area)


def drop_tip_in_place(pipette_id: str) -> Command:
    return command("dropTipInPlace", pipetteId=pipette_id)


def drop_leftover_tip(pipette_id: str, robot_type: str) -> Command:
    """Drop a tip this run's engine does not know the pipette holds (an earlier run's): the
    OT-2's ``dropTipInPlace`` asks the hardware, not the run's state; the Flex needs
    ``unsafe/dropTipInPlace``, which also re-reads the plunger (as the Opentrons App's drop-tip
    wizard does on each robot)."""
    if robot_type == "OT-3 Standard":
        return command("unsafe/dropTipInPlace", pipetteId=pipette_id)
    return drop_tip_in_place(pipette_id)


#: Commands after which a pipette holds no tip.
DROPS = frozenset({"dropTipInPlace", "unsafe/dropTipInPlace", "dropTip"})
