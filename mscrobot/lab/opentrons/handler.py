"""mscrobot's ``LiquidHandler`` as Opentrons commands: every operation judged by the robot.

Each operation (dispense a stock, draw a sample into the flow cell, return it, flush the cell)
becomes a sequence of setup commands with a fresh tip. The handler keeps its own vessel tracker
(``mscrobot.lab.tracking``; PyLabRobot's rule: the front end owns its trackers, and they change
only after the backend confirms): the tracker refuses what the vessels do not allow before
anything is sent, gives the tip heights, and changes only once the robot has confirmed every
command of the operation. A command Opentrons refuses stops the operation with Opentrons' error
text: ``LabRefusalError`` while no liquid has moved, ``DeviceFaultError`` after; either way the
tracker is as it was. Nothing is retried here: liquid handling is not idempotent.

The tracker outlives the process through the operation log (``opentrons.jsonl``): each
operation's start line keeps what it moves, and a ``done`` line follows once the robot has
confirmed every command; replaying the ``done`` lines rebuilds the tracker. A crash can cut off
only the operation in flight: when the handler starts, it asks the robot's record about each
logged operation without a ``done`` line, and one the robot finished gets its ``done`` line
then (so ``status_of`` says done and ``volumes`` counts it).

A follower (``mscrobot.lab.tracking.Follower``; on a simulated lab the twin, attached by the
composition in ``mscrobot.app.labs``) is told each operation before anything is sent (it may
raise the lab config's injected transient failures: a busy robot that started nothing, so the
engine's retry sends the commands once) and after the ``done`` line; when the handler starts,
it is told again what the log says was done, so a crash between the two lines loses nothing.
Where the robot cannot be asked (an in-process robot of an earlier process) the follower
answers ``status_of`` only on a lab where every device is simulated (``follower_answers``): on
a lab with any real device the twin never answers a question about the world, and an operation
the robot no longer knows (restarted, or another client made a new run) is 'unknown', for the
operator. The handler never imports the simulated lab.

Safe stops (``StopsSafely``): a stop request (``watch``) is seen between an operation's
commands. Until liquid has reached a destination the operation ends there
(``OperationInterrupted``); once some has, it is carried to its end, so a vessel never holds
part of an addition because of a stop. The engine's safe stop then takes the handler's steps,
each tried whatever the one before did: the robot's motion stopped (``POST /runs/{id}/actions
stop`` when a command is still running or queued on our run, as after a lost answer; Opentrons'
engine lets the running setup command end first and starts nothing after it; a new run is then
set up, the tip on the pipette known as an earlier run's), each tip's liquid blown out into the
vessel it was drawn from, each tip dropped into the trash, the robot homed. The same steps
follow a robot failure mid-operation. An operation stopped before any dispense was sent, whose
every aspirate (answered or not) the robot confirmed blown back into its source, is logged
``undone``: ``status_of`` says 'not_done' and the resume runs it again.

Tip placement (assumed): stocks are drawn 2 mm under their tracked surface; additions land from
3 mm under the vial's rim, above the liquid; samples are drawn at the tracker's sampling height
(the middle of the layer, clear of the interface). A polar sample passes through the alkane, so
the tip goes down holding an air gap, and every draw ends with an air gap and a blow-out where
it is delivered. Each air gap is drawn 2 mm above the well it follows: ``airGapInPlace``, or on
a robot whose software has none (8.1) an ``aspirateInPlace`` of air there.

Before the deck is set up, ``check_robot`` holds the robot to the lab: the command types its
release takes, the pipette on each mount, and (a real robot) labware of assumed geometry. Tips
come from the robot's inventory (``tipstock``), each counted there before its pick-up.
"""

from __future__ import annotations

import threading
from pathlib import Path

from mscrobot.lab.config import LabConfig
from mscrobot.lab.opentrons import commands as c
from mscrobot.lab.opentrons.backend import CommandBackend, CommandResult, Halts
from mscrobot.lab.opentrons.deck import Deck, Pipette, Place
from mscrobot.lab.opentrons.labware import well_area_mm2, well_depth_mm
from mscrobot.lab.opentrons.oplog import LOG_NAME, Operation, OpLog
from mscrobot.lab.opentrons.pipettes import choose
from mscrobot.lab.opentrons.tipstock import TipStock
from mscrobot.lab.protocols import (
    DeviceFaultError,
    LabRefusalError,
    OperationInterrupted,
    OpStatus,
    StopAction,
    TransientDeviceError,
)
from mscrobot.lab.tracking import FLOW_CELL, Follower, Move, VesselTracker

SUBMERGE_MM = 2.0
BOTTOM_MM = 1.0
RIM_MM = 3.0
#: Commands that move liquid: once one succeeded, a failure leaves the operation half-done.
LIQUID_COMMANDS = frozenset({"aspirate", "dispense", "blowout", "airGapInPlace",
                             "aspirateInPlace"})
#: Every command type the handler and its deck send.
USED_COMMANDS = frozenset({
    "home", "loadPipette", "loadLabware", "pickUpTip", "moveToWell", "prepareToAspirate",
    "aspirate", "airGapInPlace", "dispense", "blowout", "moveToAddressableAreaForDropTip",
    "dropTipInPlace", "unsafe/dropTipInPlace"})
#: Commands a robot may lack that the handler sends another way: an air gap as an aspirate
#: of air in place, after the move above the liquid every air gap starts with.
REPLACEABLE = frozenset({"airGapInPlace"})


class OpentronsLiquidHandler:
    def __init__(self, backend: CommandBackend, deck: Deck, tracker: VesselTracker,
                 air_gap_ul: float, log: OpLog | None = None,
                 follower: Follower | None = None, follower_answers: bool = False,
                 config: LabConfig | None = None) -> None:
        """``tracker`` as the deck starts (the log's ``done`` operations are applied to it
        here); ``follower``: a backend that moves liquid of its own (the simulated world),
        which answers ``status_of`` for the robot only with ``follower_answers`` (a lab with
        no real device); ``config``: the lab, to set the deck up again on a new run after
        the robot's motion was stopped."""
        self.backend, self.deck, self.tracker = backend, deck, tracker
        self.follower = follower
        self.follower_answers = follower_answers
        self.config = config
        self.air_gap = air_gap_ul
        #: a robot without ``airGapInPlace`` (8.1) draws its air gaps as aspirates in place
        self.air_gap_command = ("airGapInPlace" if backend.command_types is None
                                or "airGapInPlace" in backend.command_types
                                else "aspirateInPlace")
        self.log = log or OpLog(None)
        self._stop: threading.Event | None = None
        #: pipette id -> where the liquid its tip may hold was drawn from
        self._drawn: dict[str, Place] = {}
        #: the operation in hand, not finished: its id and whether a dispense was sent
        self._open: tuple[str, bool] | None = None
        for _, move in self.log.completed:
            self.tracker.apply(move)
        if follower is not None:  # a crash may have come between the done line and it
            for op_id, move in self.log.completed:
                follower.confirmed(op_id, move)
        # an earlier process may have died after an operation's last command, before its done
        # line: asking settles it, so the tracker knows of it before the engine asks
        for op_id, op in list(self.log.ops.items()):
            if not op.done:
                self.status_of(op_id)
        self.log.run(backend.run_id)
        if deck.stock is None:  # tips an earlier process of this run took stay taken (an
            for pip in deck.pipettes:  # inventory counts them already)
                pip.used = max(pip.used, self.log.tips.get(pip.mount, 0))

    @property
    def ops(self) -> dict[str, Operation]:
        """Every operation sent, by this process or (from the log) an earlier one."""
        return self.log.ops

    # --- the LiquidHandler Protocol ---------------------------------------------------------

    def dispense(self, op_id: str, source: str, dest: str, volume_ul: float, layer: str) -> None:
        move = Move.dispense(source, dest, volume_ul, layer)
        self.tracker.check_dispense(source, dest, volume_ul)
        self._before(op_id, move)  # before a tip is counted as taken
        pip, n = self._pipette(volume_ul, gaps=1, split=True)
        chunk = volume_ul / n
        src, dst = self._place(source), self._place(dest)
        flow = pip.spec
        cmds = self._fresh_tip(pip)
        left = self.tracker.volume(source)
        for _ in range(n):
            left -= chunk
            cmds += [c.aspirate(pip.id, src.labware_id, src.well, chunk, flow.aspirate_ul_s,
                                "bottom", self._draw_height(src, left)),
                     *self._air_gap(pip, src),
                     c.dispense(pip.id, dst.labware_id, dst.well, chunk + self.air_gap,
                                flow.dispense_ul_s, "top", -RIM_MM),
                     c.blowout(pip.id, dst.labware_id, dst.well, flow.blowout_ul_s, "top",
                               -RIM_MM)]
        cmds += self._drop(pip)
        self._run(op_id, move, cmds)

    def sample(self, op_id: str, vessel: str, phase: str, volume_ul: float,
               depth_mm: float = 0.0) -> float:
        move = Move.sample(vessel, phase, volume_ul, depth_mm)
        height = self.tracker.check_sample(vessel, phase, volume_ul, depth_mm)
        self._before(op_id, move)
        gaps = 2 if phase == "polar" else 1
        pip, _ = self._pipette(volume_ul, gaps=gaps, split=False)
        vial, cell = self._place(vessel), self._place("flow_cell")
        cmds = self._fresh_tip(pip)
        if phase == "polar":  # down through the alkane holding air, so none enters the tip
            cmds += self._air_gap(pip, vial, empty=True)
        cmds += [c.aspirate(pip.id, vial.labware_id, vial.well, volume_ul,
                            pip.spec.aspirate_ul_s, "bottom", height),
                 *self._air_gap(pip, vial),
                 *self._deliver(pip, cell, volume_ul + gaps * self.air_gap),
                 *self._drop(pip)]
        self._run(op_id, move, cmds)
        return height

    def return_sample(self, op_id: str, vessel: str, phase: str, volume_ul: float) -> None:
        move = Move.return_sample(vessel, phase, volume_ul)
        self.tracker.check_return(vessel, phase, volume_ul)
        self._before(op_id, move)
        pip, _ = self._pipette(volume_ul, gaps=1, split=False)
        vial, cell = self._place(vessel), self._place(FLOW_CELL)
        if phase == "polar":  # back under the alkane, at the middle of the polar layer
            origin, z = "bottom", self.tracker.sampling_height_mm(phase, 0.0)
        else:
            origin, z = "top", -RIM_MM
        cmds = [*self._fresh_tip(pip),
                c.aspirate(pip.id, cell.labware_id, cell.well, volume_ul,
                           pip.spec.aspirate_ul_s, "bottom", BOTTOM_MM),
                *self._air_gap(pip, cell),
                c.dispense(pip.id, vial.labware_id, vial.well, volume_ul + self.air_gap,
                           pip.spec.dispense_ul_s, origin, z),
                c.blowout(pip.id, vial.labware_id, vial.well, pip.spec.blowout_ul_s, "top",
                          -RIM_MM),
                *self._drop(pip)]
        self._run(op_id, move, cmds)

    def flush_cell(self, op_id: str) -> None:
        held = self.tracker.volume(FLOW_CELL)
        move = Move.flush(held)
        self._before(op_id, move)
        cmds: list[c.Command] = []
        if held > 0:
            pip, _ = self._pipette(held, gaps=1, split=False)
            cell, waste = self._place("flow_cell"), self._place("waste")
            cmds = [*self._fresh_tip(pip),
                    c.aspirate(pip.id, cell.labware_id, cell.well, held,
                               pip.spec.aspirate_ul_s, "bottom", BOTTOM_MM),
                    *self._air_gap(pip, cell),
                    *self._deliver(pip, waste, held + self.air_gap),
                    *self._drop(pip)]
        self._run(op_id, move, cmds)

    def status_of(self, op_id: str) -> OpStatus:
        """The handler's record first: never started (no start line: nothing was sent) is
        'not_done', confirmed (a ``done`` line) is 'done'. Otherwise the robot's record of the
        operation's commands answers (kept by id in the log, the one in flight found by key);
        where the robot cannot be asked (an in-process robot of an earlier process), the
        follower does (the simulated world, as the twin always has), or nobody: 'unknown'.
        An operation found done that way is marked done now (its ``done`` line, the tracker,
        the follower): whatever says 'done' is counted in ``volumes``."""
        op = self.log.ops.get(op_id)
        if op is None:
            return "not_done"
        if op.done:
            return "done"
        if op.undone:
            return "not_done"
        said = self._robot_says(op_id, op)
        if said is None:
            said = ("unknown" if self.follower is None or not self.follower_answers
                    else self.follower.status_of(op_id))
        if said == "done" and op.move is not None:
            self._done(op_id, op.move)
        return said

    def _robot_says(self, op_id: str, op: Operation) -> OpStatus | None:
        if not self.backend.knows_run(op.run_id):
            return None
        results = [self.backend.status(i, op.run_id) for i in op.command_ids]
        if any(r is None for r in results):
            return "unknown"
        done = [r for r in results if r is not None and r.status == "succeeded"]
        if len(done) == len(results) < op.planned:  # was the next one taken?
            in_flight = self.backend.find(op.key(op_id, len(results)), op.run_id)
            if in_flight is not None:
                results.append(in_flight)
                done += [in_flight] if in_flight.status == "succeeded" else []
        if len(done) == op.planned:
            return "done"
        if any(r is not None and r.status in ("queued", "running") for r in results):
            return "unknown"
        if not any(r.command_type in LIQUID_COMMANDS for r in done):
            return "not_done"
        return "unknown"

    def command_ids(self, op_id: str) -> list[str]:
        """The robot's ids of the commands operation ``op_id`` sent (journal, resume)."""
        op = self.ops.get(op_id)
        return [] if op is None else list(op.command_ids)

    def volumes(self) -> dict[str, float]:
        return self.tracker.volumes()

    # --- safe stops (StopsSafely) -------------------------------------------------------------

    def watch(self, stop: threading.Event) -> None:
        self._stop = stop

    def stop_actions(self) -> list[StopAction]:
        return [("stop the robot's motion", self._halt),
                ("empty the tips", self._empty_tips),
                ("drop the tips", self._drop_tips),
                ("home the robot", self._home)]

    def _halt(self) -> str:
        if not isinstance(self.backend, Halts):
            return "nothing runs between this process's commands"
        stopped = self.backend.halt()
        if stopped is None:
            return "the robot was idle"
        if self.config is None:
            raise DeviceFaultError(f"stopped {stopped}; no lab to set the deck up again on "
                                   "the robot's new run")
        self.log.run(self.backend.run_id)
        held = {p.mount: (p.has_tip, p.used) for p in self.deck.pipettes}
        self.deck = Deck(self.backend, self.config, self.deck.stock)
        for pip in self.deck.pipettes:  # the new run's engine knows nothing of the tips
            pip.has_tip, pip.used = held.get(pip.mount, (False, 0))
            pip.leftover = pip.has_tip
        return f"stopped {stopped}; the deck set up again on run {self.backend.run_id}"

    def _empty_tips(self) -> str:
        done: list[str] = []
        for pip in self.deck.pipettes:
            place = self._drawn.get(pip.id)
            if not pip.has_tip or place is None:
                continue
            if pip.leftover:
                raise DeviceFaultError(f"the {pip.spec.name}'s tip may hold liquid, and the "
                                       "robot's new run does not know the tip: it is dropped "
                                       "as it is")
            self._safe_send(c.blowout(pip.id, place.labware_id, place.well,
                                      pip.spec.blowout_ul_s, "top", -RIM_MM))
            done.append(f"the {pip.spec.name}'s tip blown out into {self._name_of(place)}")
        if self._open is not None and not self._open[1] and not self._drawn:
            op_id = self._open[0]
            self.log.undone(op_id)  # nothing reached a destination, the tip went back
            self._open = None
            done.append(f"operation {op_id} undone (nothing had left its source)")
        return "; ".join(done) or "no tip holds liquid"

    def _drop_tips(self) -> str:
        dropped = []
        for pip in self.deck.pipettes:
            if pip.has_tip:
                for cmd in self._drop(pip):
                    self._safe_send(cmd)
                dropped.append(f"the {pip.spec.name}'s tip")
        return (" and ".join(dropped) + " dropped into the trash") if dropped \
            else "no tip on any pipette"

    def _home(self) -> str:
        self._safe_send(c.home())
        return "homed"

    def _safe_send(self, cmd: c.Command) -> CommandResult:
        """One command of a safe stop; anything but success is a fault of that step."""
        try:
            result = self.backend.send(cmd)
        except c.InvalidCommandError as e:
            raise DeviceFaultError(f"Opentrons refuses the command: {e}") from None
        self._track_tip(cmd, result)
        if result.status != "succeeded":
            raise DeviceFaultError(_describe(result))
        return result

    def _name_of(self, place: Place) -> str:
        return next((n for n, p in self.deck.places.items() if p == place),
                    f"{place.labware.load_name} {place.well}")

    def close(self) -> None:
        try:
            self.backend.close()
        finally:
            self.log.close()

    # --- building -----------------------------------------------------------------------------

    def _place(self, name: str) -> Place:
        try:
            return self.deck.places[name]
        except KeyError:
            raise LabRefusalError(f"this deck has no {name!r}") from None

    def _pipette(self, volume_ul: float, gaps: int, split: bool) -> tuple[Pipette, int]:
        """The smallest pipette that takes ``volume_ul`` plus its air gaps in one go; with
        ``split``, else the largest one in as few equal parts as its tips hold."""
        chosen = choose([p.spec for p in self.deck.pipettes], volume_ul, gaps, self.air_gap,
                        split)  # smallest first
        if chosen is not None:
            return self.deck.pipettes[chosen[0]], chosen[1]
        names = ", ".join(p.spec.name for p in self.deck.pipettes)
        raise LabRefusalError(f"no pipette takes {volume_ul:g} µL with "
                              f"{gaps * self.air_gap:g} µL of air gaps ({names})")

    def _draw_height(self, place: Place, left_ul: float) -> float:
        """Under the surface that will be left after drawing, clear of the bottom."""
        surface = left_ul / well_area_mm2(place.labware, place.well)
        return min(max(BOTTOM_MM, surface - SUBMERGE_MM),
                   well_depth_mm(place.labware, place.well))

    def _fresh_tip(self, pip: Pipette) -> list[c.Command]:
        # left on by an operation that failed, or by a process that died holding it
        cmds = self._drop(pip) if pip.has_tip else []
        rack, well = pip.next_tip()
        self.deck.took(rack)  # the inventory first: a crash may waste the tip, never reuse it
        self.log.tip_taken(pip.mount, self.log.tips.get(pip.mount, 0) + 1)  # this run's count
        return [*cmds, c.pick_up_tip(pip.id, rack, well)]

    def _air_gap(self, pip: Pipette, place: Place, empty: bool = False) -> list[c.Command]:
        """Air drawn just above ``place``; an ``empty`` tip's plunger is readied first."""
        if self.air_gap <= 0:
            return [c.move_to_well(pip.id, place.labware_id, place.well, "top", 2.0),
                    c.prepare_to_aspirate(pip.id)] if empty else []
        gap = c.air_gap_in_place if self.air_gap_command == "airGapInPlace" \
            else c.aspirate_in_place
        return [c.move_to_well(pip.id, place.labware_id, place.well, "top", 2.0),
                *([c.prepare_to_aspirate(pip.id)] if empty else []),
                gap(pip.id, self.air_gap, pip.spec.aspirate_ul_s)]

    def _deliver(self, pip: Pipette, place: Place, volume_ul: float) -> list[c.Command]:
        return [c.dispense(pip.id, place.labware_id, place.well, volume_ul,
                           pip.spec.dispense_ul_s, "top", -1.0),
                c.blowout(pip.id, place.labware_id, place.well, pip.spec.blowout_ul_s, "top",
                          -1.0)]

    def _drop(self, pip: Pipette) -> list[c.Command]:
        drop = (c.drop_leftover_tip(pip.id, self.backend.robot_type) if pip.leftover
                else c.drop_tip_in_place(pip.id))
        return [c.move_to_trash(pip.id, self.deck.trash), drop]

    # --- running ------------------------------------------------------------------------------

    def _before(self, op_id: str, move: Move) -> None:
        if self.follower is not None:
            self.follower.before(op_id, move)

    def _done(self, op_id: str, move: Move) -> None:
        """The robot confirmed every command: logged, then the tracker, then the follower."""
        self.log.done(op_id)
        self.tracker.apply(move)
        if self.follower is not None:
            self.follower.confirmed(op_id, move)

    def _run(self, op_id: str, move: Move, cmds: list[c.Command]) -> None:
        """Send ``cmds`` in order, stopping at the first one Opentrons does not complete, and
        mark ``move`` done once all are. Each carries a key (``<op_id>/<index>``) and each
        answered id is logged first."""
        op = self.log.start(op_id, self.backend.run_id, len(cmds), move)
        moved = delivered = False
        self._open = (op_id, False)
        for i, cmd in enumerate(cmds):
            if self._stop is not None and self._stop.is_set() and not delivered:
                raise OperationInterrupted(
                    f"stopped before command {i + 1} of {len(cmds)} ({cmd['commandType']}): "
                    "no liquid had reached a vessel")
            cmd = {**cmd, "key": op.key(op_id, i)}
            if cmd["commandType"] == "dispense":
                self._open = (op_id, True)
            elif cmd["commandType"] == "aspirate":  # before it is sent: it may draw unseen
                self._drawn[cmd["params"]["pipetteId"]] = self._place_at(cmd)
            try:
                result = self.backend.send(cmd)
            except c.InvalidCommandError as e:
                raise self._failure(moved, f"Opentrons refuses the command: {e}") from None
            except (TransientDeviceError, DeviceFaultError) as e:
                self._learn(cmd)  # the robot may have taken it: its record says
                if op.command_ids and isinstance(e, TransientDeviceError):
                    raise DeviceFaultError(f"lost the robot mid-operation: {e}") from None
                raise
            self.log.sent(op_id, result.id)
            self._track_tip(cmd, result)
            if result.status != "succeeded":
                raise self._failure(moved, _describe(result))
            moved = moved or result.command_type in LIQUID_COMMANDS
            delivered = delivered or result.command_type == "dispense"
        self._open = None
        self._done(op_id, move)

    def _learn(self, cmd: c.Command) -> None:
        """What became of ``cmd``, whose answer was lost, from the robot's record (if it can
        still be asked), so a safe stop knows the tips."""
        try:
            found = self.backend.find(cmd["key"])
        except (TransientDeviceError, DeviceFaultError):
            return
        if found is not None:
            self._track_tip(cmd, found)

    def _place_at(self, cmd: c.Command) -> Place:
        params = cmd["params"]
        return next(p for p in self.deck.places.values()
                    if (p.labware_id, p.well) == (params["labwareId"], params["wellName"]))

    def _track_tip(self, cmd: c.Command, result: CommandResult) -> None:
        """Which pipette holds a tip, and whether its liquid may still be in it: an aspirate
        marks where it came from when it is sent (``_run``), a blowout or a drop the robot
        confirmed clears it."""
        kind, params = cmd["commandType"], cmd.get("params") or {}
        pip_id = params.get("pipetteId")
        if result.status != "succeeded":
            return
        if kind == "blowout" or kind in c.DROPS:
            self._drawn.pop(pip_id, None)
        if kind in {"pickUpTip", *c.DROPS}:
            for pip in self.deck.pipettes:
                if pip.id == pip_id:
                    pip.has_tip = kind == "pickUpTip"
                    pip.leftover = False

    @staticmethod
    def _failure(moved: bool, message: str) -> Exception:
        if moved:
            return DeviceFaultError(message + "; liquid had already moved")
        return LabRefusalError(message)


def _describe(result: CommandResult) -> str:
    status = "did not finish" if result.status in ("queued", "running") else "failed"
    return (f"Opentrons {result.command_type} {status}: "
            f"{result.error_type or ''}{': ' if result.error_type else ''}{result.error or ''}")


def open_opentrons(config: LabConfig, tracker: VesselTracker, state_dir: Path | None = None,
                   follower: Follower | None = None,
                   stock: TipStock | None = None,
                   follower_answers: bool = False) -> OpentronsLiquidHandler:
    """The lab's Opentrons robot (in process, or over HTTP) set up with its deck. ``tracker``:
    the deck's vessels as the run starts (the operation log in ``state_dir`` brings it to
    where an earlier process left it); ``follower``: the simulated world, on simulated labs,
    answering for the robot with ``follower_answers`` (every device simulated); ``stock``:
    the robot's tip inventory (None: racks full, as for a robot in process)."""
    lh = config.liquid_handler
    log = OpLog(None if state_dir is None else state_dir / LOG_NAME)
    backend: CommandBackend
    if lh.robot == "simulate":
        from mscrobot.lab.opentrons import robot_process

        child = robot_process.take(lh.robot_type)  # started early by `mscrobot run`
        if child is not None:
            backend = child
        else:
            from mscrobot.lab.opentrons.inprocess import InProcessBackend

            backend = InProcessBackend(lh.robot_type)
    else:
        from mscrobot.lab.opentrons.http_backend import HttpBackend
        from mscrobot.lab.opentrons.layout import labware_offsets

        try:
            backend = HttpBackend(lh.robot, lh.robot_type, float(lh.timeout.m_as("s")),
                                  previous_runs=tuple(log.runs),
                                  offsets=labware_offsets(config))
        except BaseException:
            log.close()
            raise
    try:
        robot = check_robot(config, backend)
        deck = Deck(backend, config, stock)
        log.robot_found({**robot, "applied": deck.offset_ids})
        _find_leftover_tips(deck, backend, log)
        return OpentronsLiquidHandler(backend, deck, tracker, float(lh.air_gap.m_as("uL")),
                                      log, follower, follower_answers, config)
    except BaseException:
        backend.close()
        log.close()
        raise


def check_robot(config: LabConfig, backend: CommandBackend) -> dict[str, object]:
    """Refuse, before anything moves, a robot this lab cannot run on: its software lacks a
    command the handler cannot send another way, a mount holds another pipette than the lab
    file says, or (a real robot, not the emulator) the deck has labware of assumed, unmeasured
    geometry and the lab does not accept it. Returns what the run's log keeps of the robot."""
    from mscrobot.lab.opentrons.layout import ASSUMED_WARNING, unmeasured

    lh = config.liquid_handler
    where = f"the robot at {lh.robot}"
    if backend.command_types is not None:
        missing = sorted(USED_COMMANDS - REPLACEABLE - backend.command_types)
        if missing:
            raise DeviceFaultError(f"{where} runs robot software {backend.software}, which has "
                                   f"no {', '.join(missing)}: mscrobot needs them; update the "
                                   "robot (Opentrons App, Robot settings)")
    if backend.attached is not None:
        wrong = [f"the {mount} mount holds {backend.attached.get(mount) or 'nothing'}, the lab "
                 f"file says {pc.name} (liquid_handler.pipettes.{mount})"
                 for mount, pc in lh.pipettes.items() if backend.attached.get(mount) != pc.name]
        if wrong:
            raise DeviceFaultError(f"{where}: " + "; ".join(wrong))
    health = getattr(backend, "health", None)
    real = health is not None and health.get("fw_version") != "emulated"
    assumed = unmeasured(config)
    if real and assumed and not config.accept_assumed_geometry:
        names = ", ".join(f"{name} (slot {slot})" for slot, name in assumed)
        raise LabRefusalError(f"{where} is a real robot and the deck has labware of "
                              f"{ASSUMED_WARNING}: {names}; give its offsets (Labware Position "
                              "Check, `mscrobot lab offsets import`) or set "
                              "accept_assumed_geometry: true in the lab file")
    return {"software": backend.software, "attached": backend.attached,
            "calibration": getattr(backend, "calibration", None),
            "found_run": getattr(backend, "found_run", None), "trash": backend.trash,
            "air_gap": "airGapInPlace" if backend.command_types is None
            or "airGapInPlace" in backend.command_types else "aspirateInPlace",
            "offsets": backend.offsets,
            "assumed_geometry": [f"{name} in slot {slot}" for slot, name in assumed]}


def _find_leftover_tips(deck: Deck, backend: CommandBackend, log: OpLog) -> None:
    """A process that died holding a tip (or whose run was stopped then) left it on the
    pipette: stopping a run that never played does not drop tips, and the next run's engine
    starts believing the pipette bare, so its first pick-up would fail. The robot's record of
    the earlier runs says which mounts still hold one; each is dropped in the trash before
    that pipette's next operation."""
    held = backend.tips_left([r for r in log.runs if r != backend.run_id])
    for pip in deck.pipettes:
        if pip.mount in held:
            pip.has_tip = pip.leftover = True
