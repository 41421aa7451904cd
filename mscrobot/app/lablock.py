"""One owner per lab: a lock on each device a run, campaign or probe would talk to.

Two processes driving the same stirrer or robot break each other's runs (a probe's RESET
stops a stirring vial; a second run's command lands in the first one's robot run). Each device
that lives outside the process — a robot over HTTP, a stirrer's serial port or serial server,
an Ethernet or USB spectrometer — is keyed by its address, and a process holds an exclusive
``flock`` on one file per key while it uses the device. Simulated devices and Opentrons'
in-process engine belong to their own process and take no lock.

The kernel drops a ``flock`` when its holder dies, so a killed run never leaves a lock behind;
the file keeps who held it last (run, PID, command, since), which is what a refusal names. A
file whose flock is free is taken over whatever it says; before that its PID is checked, so a
refusal never names a process that is gone.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from mscrobot.lab.config import LabConfig

#: Where lock files live (one per device); ``MSCROBOT_STATE_DIR`` moves it (tests, shared
#: machines that keep state elsewhere).
STATE_ENV = "MSCROBOT_STATE_DIR"


class LabBusyError(Exception):
    """A device of the lab is held by another live process; the message names it."""


@dataclass(frozen=True)
class Holder:
    run: str
    pid: int
    command: str
    since: str


def state_dir() -> Path:
    """The per-user folder for state that outlives runs (device locks)."""
    env = os.environ.get(STATE_ENV)
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "mscrobot"


def device_keys(config: LabConfig) -> list[tuple[str, str]]:
    """(role, key) of each device of ``config`` that another process could also open."""
    keys = []
    lh = config.liquid_handler
    if lh.backend == "opentrons" and lh.robot != "simulate":
        parts = urlsplit(lh.robot)
        keys.append(("robot", f"http://{_host(parts.hostname or '')}:{parts.port or 31950}"))
    st = config.stirrer
    if st.backend == "ika" and st.url is not None:
        if st.url.startswith("socket://"):
            host, _, port = st.url.removeprefix("socket://").rpartition(":")
            keys.append(("stirrer", f"socket://{_host(host)}:{port}"))
        else:
            keys.append(("stirrer", f"serial:{os.path.realpath(st.url)}"))
    sp = config.spectrometer
    if sp.backend == "ocean":
        if sp.address is not None:
            host, _, port = sp.address.rpartition(":")
            keys.append(("spectrometer", f"obp://{_host(host)}:{port}"))
        elif sp.usb_emulator is not None:
            host, _, port = sp.usb_emulator.rpartition(":")
            keys.append(("spectrometer", f"usb-emulator://{_host(host)}:{port}"))
        else:
            keys.append(("spectrometer", f"usb:{sp.model}:{sp.serial or 'first'}"))
        if sp.shutter is not None:  # the lamp's shutter line is a device of its own
            url = sp.shutter.url
            if url.startswith("rfc2217://"):
                host, _, port = url.removeprefix("rfc2217://").rpartition(":")
                keys.append(("shutter", f"rfc2217://{_host(host)}:{port.split('?')[0]}"))
            else:
                keys.append(("shutter", f"serial:{os.path.realpath(url)}"))
    return keys


def _host(name: str) -> str:
    """One spelling per machine: ``localhost`` and ``127.0.0.1`` are the same device."""
    name = name.strip("[]").lower()
    if name in ("localhost", "::1", "") or name.startswith("127."):
        return "127.0.0.1"
    return name


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _read_holder(fd: int) -> Holder | None:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return Holder(str(data["run"]), int(data["pid"]), str(data["command"]),
                      str(data["since"]))
    except (ValueError, KeyError, OSError):
        return None


@contextlib.contextmanager
def hold_lab(config: LabConfig, run: str, command: str) -> Iterator[list[str]]:
    """Hold every device of ``config`` for this process until the block ends; yields the keys.
    ``run`` names what holds it (a run or campaign id), ``command`` the mscrobot command.

    Raises ``LabBusyError`` at once (never waits) when another live process holds one, naming
    the device, that process's run and PID; nothing is held then."""
    keys = device_keys(config)
    if not keys:
        yield []
        return
    folder = state_dir() / "locks"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise LabBusyError(f"cannot keep device locks in {folder}: {e.strerror or e} (set "
                           f"{STATE_ENV} to a writable folder)") from None
    held: list[int] = []
    try:
        for role, key in keys:
            path = folder / (hashlib.sha1(key.encode()).hexdigest()[:16] + ".lock")
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                who = ("another process" if holder is None else
                       f"`mscrobot {holder.command}` ({holder.run}, PID {holder.pid}, since "
                       f"{holder.since})" if _alive(holder.pid) else "another process")
                raise LabBusyError(f"the {role} {key} is in use by {who}: one process "
                                   "drives a lab's devices at a time") from None
            held.append(fd)
            record = {"run": run, "pid": os.getpid(), "command": command, "key": key,
                      "host": socket.gethostname(),
                      "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(record).encode(), 0)
        yield [k for _, k in keys]
    finally:
        for fd in held:
            os.close(fd)
