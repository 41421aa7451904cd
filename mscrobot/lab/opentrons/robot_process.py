"""The in-process Opentrons engine, started early in a child process so its import overlaps ours.

Importing Opentrons' protocol engine costs ~3 s of one core, about half of an Opentrons-checked
dry run. ``mscrobot run`` forks a child as its first act when the lab will need the in-process
robot (``prestart``); the child imports Opentrons on the second core while this process imports
its own libraries, reads the recipe and writes the run's first journal entries. The lab then
takes the child as its robot (``take``): every ``CommandBackend`` call is forwarded over a pipe
(~0.1 ms per command) to an ordinary ``InProcessBackend``, so the commands, their validation
and their answers are exactly those of the in-process engine. Library callers (tests,
campaigns, Prefect flows) build ``InProcessBackend`` directly: one import per process serves
them all.

The child ignores Ctrl-C (the run stops itself after the current step, and still needs the
robot to finish cleanly) and ends when this process closes the pipe, or dies: the kernel kills
it with its parent (``PR_SET_PDEATHSIG``), and a parent gone mid-answer ends it quietly.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import signal
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # this module is imported before anything heavy: it forks first
    from mscrobot.lab.opentrons.backend import CommandResult
    from mscrobot.lab.opentrons.commands import Command

_prestarted: RobotProcess | None = None
#: prctl's option to have the kernel signal this process when its parent dies (linux/prctl.h)
PR_SET_PDEATHSIG = 1


def _fault(message: str) -> Exception:
    from mscrobot.lab.protocols import DeviceFaultError

    return DeviceFaultError(message)


def robot_for(lab_text: str) -> str | None:
    """The robot ("OT-2", "Flex") of a lab file whose liquid handler is the in-process
    Opentrons engine (``backend: opentrons`` without a robot's URL), else None: a cheap look
    at the text before it is parsed, so a wrong guess costs one idle child."""
    if not re.search(r"(?m)^\s*backend:\s*opentrons\b", lab_text) or \
            re.search(r"(?m)^\s*robot:\s*https?://", lab_text):
        return None
    found = re.search(r"(?m)^\s*robot_type:\s*[\"']?(OT-2|Flex)\b", lab_text)
    return found.group(1) if found else "OT-2"


def prestart(robot: str) -> None:
    """Fork the child now (once per process): it imports Opentrons and sets up ``robot``
    while this process does other work."""
    global _prestarted
    if _prestarted is None:
        _prestarted = RobotProcess(robot)


def take(robot: str) -> RobotProcess | None:
    """The prestarted child, as ``robot`` ("OT-2", "Flex"); None if none was started (the
    caller uses an ``InProcessBackend`` here)."""
    global _prestarted
    child, _prestarted = _prestarted, None
    if child is not None:
        child.open(robot)
    return child


def discard() -> None:
    """End a prestarted child no lab took (the run refused, or its lab needs no robot)."""
    global _prestarted
    child, _prestarted = _prestarted, None
    if child is not None:
        child.close()


def _die_with_parent(parent: int) -> None:
    """Ask the kernel to kill this child when its parent (pid ``parent``, taken before the
    fork) dies (Linux ``PR_SET_PDEATHSIG``): a parent killed outright (SIGKILL) otherwise
    leaves it importing or mid-command, an orphan, until it next reads the pipe. Where the call
    is not there, the closed pipe still ends it."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # died before the request took (or before this child ran)
        os._exit(0)


def _answer(conn: Connection, message: tuple[str, Any]) -> None:
    """Send to the parent; a parent gone mid-call ends the child quietly (no traceback in the
    dead run's terminal)."""
    try:
        conn.send(message)
    except (BrokenPipeError, ConnectionResetError, EOFError):
        os._exit(0)


def _serve(conn: Connection, parents_end: Connection, robot: str, parent: int) -> None:
    """The child: import the engine and set up ``robot`` at once, then answer calls until the
    pipe closes."""
    parents_end.close()  # forked with it: held open here, the parent's death would go unseen
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent)
    from mscrobot.lab.opentrons.backend import ROBOT_TYPES
    from mscrobot.lab.opentrons.inprocess import InProcessBackend

    backend: InProcessBackend | None = None
    early: Exception | None = None
    try:
        backend = InProcessBackend(robot)
    except Exception as e:  # told to the caller when it opens
        early = e
    method = ""
    while True:
        try:
            method, args = conn.recv()
        except (EOFError, OSError):
            break
        try:
            if method == "open":
                if backend is None or backend.robot_type != ROBOT_TYPES.get(args[0]):
                    if early is not None and args[0] == robot:
                        raise early
                    if backend is not None:
                        backend.close()
                    backend = InProcessBackend(*args)
                reply: Any = (backend.robot_type, backend.run_id, backend.trash)
            elif backend is None:
                raise _fault("the Opentrons engine was not opened")
            else:
                reply = getattr(backend, method)(*args)
            _answer(conn, ("ok", reply))
        except Exception as e:  # every failure goes back to the caller, as in process
            try:
                _answer(conn, ("error", e))
            except Exception:
                _answer(conn, ("error", _fault(f"{type(e).__name__}: {e}")))
        if method == "close":
            break
    if backend is not None and method != "close":
        backend.close()
    conn.close()


class RobotProcess:
    """A ``CommandBackend`` whose engine lives in a child process (see the module docstring)."""

    robot_type: str
    run_id: str
    trash: str
    software = "in process"  # the local opentrons engine: every command it has
    command_types: frozenset[str] | None = None
    attached: dict[str, str] | None = None
    offsets: list[dict[str, Any]] = []  # noqa: RUF012 (never changed: a dry run's deck)

    def __init__(self, robot: str) -> None:
        ctx = multiprocessing.get_context("fork")  # nothing to re-import: the child is ready
        self._conn, child_end = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(child_end, self._conn, robot,
                                                         os.getpid()),
                                    daemon=True, name="opentrons-engine")
        self._process.start()
        child_end.close()
        self._closed = False

    def _call(self, method: str, *args: Any) -> Any:
        try:
            self._conn.send((method, args))
            status, reply = self._conn.recv()
        except (EOFError, OSError):
            raise _fault("the Opentrons engine's process ended") from None
        if status == "error":
            raise reply
        return reply

    def open(self, robot: str) -> None:
        self.robot_type, self.run_id, self.trash = self._call("open", robot)

    def add_labware_definition(self, definition: dict[str, Any]) -> str:
        return str(self._call("add_labware_definition", definition))

    def send(self, cmd: Command) -> CommandResult:
        """Opentrons' engine validates ``cmd`` in the child: a refused one comes back as
        ``InvalidCommandError``, as in process."""
        result: CommandResult = self._call("send", cmd)
        return result

    def status(self, command_id: str, run_id: str | None = None) -> CommandResult | None:
        result: CommandResult | None = self._call("status", command_id, run_id)
        return result

    def knows_run(self, run_id: str) -> bool:
        return bool(self._call("knows_run", run_id))

    def find(self, key: str, run_id: str | None = None) -> CommandResult | None:
        result: CommandResult | None = self._call("find", key, run_id)
        return result

    def tips_left(self, run_ids: list[str]) -> set[str]:
        return set(self._call("tips_left", run_ids))

    def commands(self) -> list[CommandResult]:
        """Every command the robot ran, in order (tests, reports)."""
        return list(self._call("commands"))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if not hasattr(self, "run_id"):  # never taken (a refused run): no engine to finish,
            self._process.kill()         # and no reason to wait for its import to end
            self._process.join()
            self._conn.close()
            return
        try:
            self._call("close")
        except Exception:  # the child is gone already: nothing left to close
            pass
        finally:
            self._conn.close()
            self._process.join(timeout=10)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()
