"""The emulated lab's physics link: what sits in the flow cell, and whether the light is on.

On a real bench the liquid the robot pushes into the flow cell is what the spectrometer sees,
and the light source's shutter decides whether it sees anything. In the emulated lab the liquid
lives in the simulated world (in the engine's process) while the spectrometer is an emulator
process behind OBP/TCP, so the world tells the emulator over this link, one JSON line per
change, each answered before the next spectrum is asked for:

- ``{"model": {SpectralModel fields}}``: the run's spectral model (band positions and
  strengths, solvents, salt, scatter), sent once on connect;
- ``{"cell": {CellContents fields}}``: the flow cell's contents after a draw, return or flush;
- ``{"shutter": true|false}``: the lamp shutter, closed for darks.

Answers are ``{"ok": true}`` or ``{"ok": false, "error": "..."}``. The link carries no spectra:
those still travel as OBP frames through seabreeze.
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import asdict, fields
from typing import Any

from mscrobot.lab.protocols import DeviceFaultError
from mscrobot.lab.spectrometer.source import TwinSpectrumSource
from mscrobot.twin.absorbance import SpectralModel
from mscrobot.twin.vial import CellContents

_CELL_FIELDS = {f.name for f in fields(CellContents)}
_MODEL_FIELDS = {f.name for f in fields(SpectralModel)}


class PhysicsServer:
    """The emulator's side: applies each message to its ``TwinSpectrumSource``."""

    def __init__(self, source: TwinSpectrumSource, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.source = source
        self._server = socket.create_server((host, port))
        self._closed = threading.Event()
        self.messages = 0

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.getsockname()[:2]
        return str(host), int(port)

    def start(self) -> PhysicsServer:
        threading.Thread(target=self._accept, name="physics-link", daemon=True).start()
        return self

    def close(self) -> None:
        self._closed.set()
        self._server.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rwb") as stream:
            for line in stream:
                try:
                    self.apply(json.loads(line))
                    reply: dict[str, Any] = {"ok": True}
                except (ValueError, TypeError, KeyError) as e:
                    reply = {"ok": False, "error": f"{type(e).__name__}: {e}"}
                stream.write((json.dumps(reply) + "\n").encode())
                stream.flush()

    def apply(self, message: dict[str, Any]) -> None:
        """One change of the emulated world (raises ValueError on a malformed message)."""
        if not isinstance(message, dict) or not message:
            raise ValueError("a physics message is a non-empty JSON object")
        if "model" in message:
            model = message["model"]
            unknown = set(model) ^ _MODEL_FIELDS
            if unknown:
                raise ValueError(f"spectral model fields missing or unknown: {sorted(unknown)}")
            self.source.set_model(SpectralModel(**{k: tuple(v) if isinstance(v, list) else v
                                                   for k, v in model.items()}))
        if "cell" in message:
            cell = message["cell"]
            unknown = set(cell) - _CELL_FIELDS
            if unknown:
                raise ValueError(f"unknown cell fields {sorted(unknown)}")
            self.source.set_contents(CellContents(**cell))
        if "shutter" in message:
            self.source.shutter_closed = bool(message["shutter"])
        self.messages += 1


class PhysicsLink:
    """The world's side: a connection to an emulator's physics port."""

    def __init__(self, address: str, timeout_s: float = 5.0) -> None:
        from mscrobot.lab.spectrometer.ocean import parse_address

        self.address = address
        try:
            self._sock = socket.create_connection(parse_address(address), timeout=timeout_s)
        except (OSError, ValueError) as e:
            raise DeviceFaultError(f"spectrometer emulator physics port {address}: {e}") from None
        self._stream = self._sock.makefile("rwb")
        self._lock = threading.Lock()

    def send(self, **message: Any) -> None:
        with self._lock:
            try:
                self._stream.write((json.dumps(message) + "\n").encode())
                self._stream.flush()
                line = self._stream.readline()
            except OSError as e:
                raise DeviceFaultError(f"physics link to {self.address}: {e}") from None
        if not line:
            raise DeviceFaultError(f"physics link to {self.address}: the emulator went away")
        reply = json.loads(line)
        if not reply.get("ok"):
            raise DeviceFaultError(f"physics link to {self.address}: {reply.get('error')}")

    def model(self, model: SpectralModel) -> None:
        self.send(model=asdict(model))

    def cell(self, contents: CellContents) -> None:
        self.send(cell=asdict(contents))

    def shutter(self, closed: bool) -> None:
        self.send(shutter=closed)

    def close(self) -> None:
        self._stream.close()
        self._sock.close()
