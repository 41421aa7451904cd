"""What each robot software release takes, as recorded from Opentrons' own robot server.

A robot runs its own release (``/health`` ``api_version``), not the opentrons package the
commands are checked against here. What a release takes is known only where it was recorded
(``tests/lab/opentrons/transcripts``): 8.1.0's robot server lists the command types it takes
when asked for one it lacks; 8.8.2 is the local opentrons package's own engine. A release
between them is held to the older one's set (what it takes for certain), a later one to the
newer's; an older one is not known at all, and a run on it is refused before it starts.
Pure data: no ``opentrons`` import.
"""

from __future__ import annotations

import re

#: The command types robot-server 8.1.0 takes, as its 422 for an unknown one lists them.
COMMANDS_8_1 = frozenset(
    {
        "aspirate",
        "aspirateInPlace",
        "comment",
        "configureForVolume",
        "configureNozzleLayout",
        "custom",
        "dispense",
        "dispenseInPlace",
        "blowout",
        "blowOutInPlace",
        "dropTip",
        "dropTipInPlace",
        "home",
        "retractAxis",
        "loadLabware",
        "reloadLabware",
        "loadLiquid",
        "loadModule",
        "loadPipette",
        "moveLabware",
        "moveRelative",
        "moveToCoordinates",
        "moveToWell",
        "moveToAddressableArea",
        "moveToAddressableAreaForDropTip",
        "prepareToAspirate",
        "waitForResume",
        "pause",
        "waitForDuration",
        "pickUpTip",
        "savePosition",
        "setRailLights",
        "touchTip",
        "setStatusBar",
        "verifyTipPresence",
        "getTipPresence",
        "liquidProbe",
        "tryLiquidProbe",
        "heaterShaker/waitForTemperature",
        "heaterShaker/setTargetTemperature",
        "heaterShaker/deactivateHeater",
        "heaterShaker/setAndWaitForShakeSpeed",
        "heaterShaker/deactivateShaker",
        "heaterShaker/openLabwareLatch",
        "heaterShaker/closeLabwareLatch",
        "magneticModule/disengage",
        "magneticModule/engage",
        "temperatureModule/setTargetTemperature",
        "temperatureModule/waitForTemperature",
        "temperatureModule/deactivate",
        "thermocycler/setTargetBlockTemperature",
        "thermocycler/waitForBlockTemperature",
        "thermocycler/setTargetLidTemperature",
        "thermocycler/waitForLidTemperature",
        "thermocycler/deactivateBlock",
        "thermocycler/deactivateLid",
        "thermocycler/openLid",
        "thermocycler/closeLid",
        "thermocycler/runProfile",
        "absorbanceReader/initialize",
        "absorbanceReader/measure",
        "calibration/calibrateGripper",
        "calibration/calibratePipette",
        "calibration/calibrateModule",
        "calibration/moveToMaintenancePosition",
        "unsafe/blowOutInPlace",
        "unsafe/dropTipInPlace",
        "unsafe/updatePositionEstimators",
        "unsafe/engageAxes",
    }
)

#: The releases whose command sets were recorded: (version, command types; None: every one
#: of the local engine's).
RECORDED: tuple[tuple[tuple[int, ...], frozenset[str] | None], ...] = (
    ((8, 1, 0), COMMANDS_8_1),
    ((8, 8, 2), None),
)


class UnknownSoftwareError(ValueError):
    """A robot software release older than any recorded one (or no release number)."""


def parse_version(text: str) -> tuple[int, ...]:
    """``8.1.0`` as (8, 1, 0); a suffix (``8.2.0-alpha.1``) is ignored."""
    found = re.match(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?", text or "")
    if found is None:
        raise UnknownSoftwareError(f"robot software {text!r} has no release number")
    return tuple(int(g or 0) for g in found.groups())


def commands_of(version: str) -> frozenset[str] | None:
    """The command types robot software ``version`` is known to take (None: all of the local
    engine's); raises ``UnknownSoftwareError`` for a release older than every recorded one."""
    number = parse_version(version)
    known = [commands for release, commands in RECORDED if release <= number]
    if not known:
        oldest = ".".join(map(str, RECORDED[0][0]))
        raise UnknownSoftwareError(
            f"robot software {version} is older than any mscrobot knows the commands of "
            f"(from {oldest} on): update the robot (Opentrons App, Robot settings)"
        )
    return known[-1]


def lacking(version: str, used: frozenset[str]) -> frozenset[str]:
    """The command types of ``used`` that robot software ``version`` is not known to take."""
    commands = commands_of(version)
    return frozenset() if commands is None else used - commands
