"""Which robot commands each operation sent, kept on disk so a resumed run can ask the robot.

After a crash the engine asks the liquid handler whether an interrupted dispense or sample
happened. The robot's own record answers that, but only for command ids someone kept: this
log (``opentrons.jsonl`` in the run folder, one JSON line per event, each written in one
``write``) keeps the robot's run id, each operation's planned command count and the id of every
command the robot answered. It also keeps how many tips of each pipette's racks are taken: the
robot does not say which tips a racks' earlier runs used, and a resumed run must never reach for
one of them (a tip is counted as taken before its pick-up is sent, so a crash can waste one,
never reuse one). A command in flight at the crash has no id here; it is found on the
robot by its key (``<op_id>/<index>``). A torn last line is an event that never happened.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mscrobot.engine.crashpoints import crashpoint

LOG_NAME = "opentrons.jsonl"


@dataclass
class Operation:
    """The commands one ``op_id`` sent to run ``run_id``."""

    run_id: str
    planned: int
    command_ids: list[str] = field(default_factory=list)

    def key(self, op_id: str, index: int) -> str:
        return f"{op_id}/{index}"


class OpLog:
    def __init__(self, path: Path | None) -> None:
        self.ops: dict[str, Operation] = {}
        self.runs: list[str] = []
        #: tips taken from each mount's racks, over every process of this run
        self.tips: dict[str, int] = {}
        self._fd: int | None = None
        if path is None:
            return
        if path.exists():
            self._replay(path)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def _replay(self, path: Path) -> None:
        data = path.read_bytes()
        lines = data.split(b"\n")
        for line in lines[:-1]:
            self._apply(json.loads(line))
        if lines[-1]:
            with path.open("r+b") as f:
                f.truncate(len(data) - len(lines[-1]))

    def _apply(self, e: dict[str, Any]) -> None:
        if "tips" in e:
            self.tips[e["mount"]] = max(self.tips.get(e["mount"], 0), e["tips"])
        elif "planned" in e:
            self.ops[e["op"]] = Operation(e["run"], e["planned"])
        elif "cmd" in e:
            self.ops[e["op"]].command_ids.append(e["cmd"])
        elif "run" in e:
            self.runs.append(e["run"])

    def _write(self, **event: Any) -> None:
        crashpoint()
        self._apply(event)
        if self._fd is not None:
            os.write(self._fd, (json.dumps(event) + "\n").encode())
        crashpoint()

    def run(self, run_id: str) -> None:
        self._write(run=run_id)

    def start(self, op_id: str, run_id: str, planned: int) -> Operation:
        self._write(op=op_id, run=run_id, planned=planned)
        return self.ops[op_id]

    def sent(self, op_id: str, command_id: str) -> None:
        self._write(op=op_id, cmd=command_id)

    def tip_taken(self, mount: str, tips: int) -> None:
        self._write(mount=mount, tips=tips)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
