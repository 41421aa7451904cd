"""Which robot commands each operation sent, and which operations the robot carried out: kept
on disk so a resumed run knows the volumes and can ask the robot.

After a crash the engine asks the liquid handler whether an interrupted dispense or sample
happened. The robot's own record answers that, but only for command ids someone kept: this
log (``opentrons.jsonl`` in the run folder, one JSON line per event, each written in one
``write``) keeps the robot's run id, each operation (its planned command count and what it
moves, a ``Move``) and the id of every command the robot answered. Once the robot has
confirmed every command of an operation, a ``done`` event says so before the handler's vessel
tracker changes (an ``undone`` event: a safe stop ended it before any liquid left its
source): replaying the log's ``done`` events in order rebuilds the tracker. The one
operation a crash may have cut off between its last command and its ``done`` line is settled
when the handler starts (it asks the robot; see ``OpentronsLiquidHandler``), from the move its
start line keeps. It also keeps how many tips of each pipette's racks are taken: the
robot does not say which tips a racks' earlier runs used, and a resumed run must never reach for
one of them (a tip is counted as taken before its pick-up is sent, so a crash can waste one,
never reuse one). A command in flight at the crash has no id here; it is found on the
robot by its key (``<op_id>/<index>``). A torn last line is an event that never happened.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mscrobot.lab.tracking import Move
from mscrobot.storage.eventlog import EventLog

LOG_NAME = "opentrons.jsonl"


@dataclass
class Operation:
    """The commands one ``op_id`` sent to run ``run_id``, and what they move."""

    run_id: str
    planned: int
    move: Move | None = None  # None: a log written before moves were kept
    command_ids: list[str] = field(default_factory=list)
    #: the robot confirmed every command
    done: bool = False
    #: a safe stop ended it before any liquid left its source, and emptied the tip back
    undone: bool = False

    def key(self, op_id: str, index: int) -> str:
        return f"{op_id}/{index}"


class OpLog:
    def __init__(self, path: Path | None) -> None:
        self.ops: dict[str, Operation] = {}
        self.runs: list[str] = []
        #: tips taken from each mount's racks, over every process of this run
        self.tips: dict[str, int] = {}
        #: the operations the robot carried out, in order, with what each moved
        self.completed: list[tuple[str, Move]] = []
        #: the robot as the last process found it (software, pipettes, calibration, offsets)
        self.robot: dict[str, Any] = {}
        self._log = EventLog(path, self._apply)

    @classmethod
    def read(cls, path: Path) -> OpLog:
        """The log as a run left it, read only: nothing truncated, nothing opened to write."""
        log = cls(None)
        for event in EventLog.events(path):
            log._apply(event)
        return log

    def _apply(self, e: dict[str, Any]) -> None:
        if "tips" in e:
            self.tips[e["mount"]] = max(self.tips.get(e["mount"], 0), e["tips"])
        elif "planned" in e:
            move = Move.from_json(e["move"]) if "move" in e else None
            self.ops[e["op"]] = Operation(e["run"], e["planned"], move)
        elif "cmd" in e:
            self.ops[e["op"]].command_ids.append(e["cmd"])
        elif "undone" in e:
            self.ops[e["op"]].undone = True
        elif "done" in e:
            op = self.ops[e["op"]]
            op.done = True
            if op.move is not None:
                self.completed.append((e["op"], op.move))
        elif "robot" in e:
            self.robot = e["robot"]
        elif "run" in e:
            self.runs.append(e["run"])

    def _write(self, **event: Any) -> None:
        self._log.write(event)

    def run(self, run_id: str) -> None:
        self._write(run=run_id)

    def robot_found(self, robot: dict[str, Any]) -> None:
        self._write(robot=robot)

    def start(self, op_id: str, run_id: str, planned: int, move: Move) -> Operation:
        self._write(op=op_id, run=run_id, planned=planned, move=move.to_json())
        return self.ops[op_id]

    def sent(self, op_id: str, command_id: str) -> None:
        self._write(op=op_id, cmd=command_id)

    def done(self, op_id: str) -> None:
        self._write(op=op_id, done=True)

    def undone(self, op_id: str) -> None:
        """Operation ``op_id`` was stopped before any liquid reached a destination, and what
        its tip drew went back where it came from: nothing moved."""
        self._write(op=op_id, undone=True)

    def tip_taken(self, mount: str, tips: int) -> None:
        self._write(mount=mount, tips=tips)

    def close(self) -> None:
        self._log.close()
