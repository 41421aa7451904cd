"""Byte-level record/replay of the driver's OBP conversation: the exact bytes of opening an HDX,
setting its integration time and reading spectra, recorded once from the emulator through a
recording proxy, replayed to the driver (real seabreeze, real TCP) by a server that checks each
request byte for byte and answers with the recorded reply. A change in what the driver sends,
or in how it recovers from a corrupt reply, fails here.

Re-record after a deliberate protocol change: ``SPECTROMETER_RECORD=1 uv run pytest
tests/lab/spectrometer/test_obp_replay.py`` and review the diff of ``fixtures/``.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from mscrobot.lab.spectrometer.obp_emulator import HEADER, ObpEmulator
from mscrobot.lab.spectrometer.ocean import OceanSettings, OceanSpectrometer
from mscrobot.lab.spectrometer.source import TwinSpectrumSource, cluster_cell
from mscrobot.lab.spectrometer.transcript import RecordingProxy, Transcript, load, save
from mscrobot.recipe.models import Recipe

FIXTURES = Path(__file__).parent / "fixtures"
SETTINGS = {"io_timeout_s": 0.3, "backoff_s": 0.01, "scans": 2, "integration_ms": 12.0}


class ReplayServer:
    """The device side of a transcript on a real TCP port: the k-th connection plays the
    recording's k-th connection. A request that differs from the recording is a failure."""

    def __init__(self, transcript: Transcript) -> None:
        self.script = transcript
        self.errors: list[str] = []
        self.consumed: set[int] = set()
        self._players: list[threading.Thread] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def address(self) -> str:
        host, port = self._server.getsockname()[:2]
        return f"{host}:{port}"

    def close(self) -> None:
        """Stop accepting and wait for each connection to play out (the driver has hung up)."""
        self._server.close()
        for player in self._players:
            player.join(timeout=5.0)

    def _accept(self) -> None:
        k = 0
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            player = threading.Thread(target=self._play, args=(k, conn), daemon=True)
            self._players.append(player)
            player.start()
            k += 1

    def _play(self, k: int, conn: socket.socket) -> None:
        mine = [(d, b) for c, d, b in self.script if c == k]
        if not mine:
            self.errors.append(f"connection {k} is not in the recording")
        with conn:
            for i, (direction, data) in enumerate(mine):
                if direction == "r":
                    conn.sendall(data)
                    continue
                got = b""
                while len(got) < len(data):
                    chunk = conn.recv(len(data) - len(got))
                    if not chunk:
                        self.errors.append(f"connection {k} step {i}: the driver hung up, "
                                           f"the recording expects {data[:48].hex()}…")
                        return
                    got += chunk
                if got != data:
                    self.errors.append(f"connection {k} step {i}: driver sent "
                                       f"{got[:48].hex()}…, the recording has "
                                       f"{data[:48].hex()}…")
                    return
            self.consumed.add(k)
            conn.settimeout(2.0)
            try:
                extra = conn.recv(1)  # the driver should close now, or just wait
            except OSError:
                extra = b""
            if extra:
                self.errors.append(f"connection {k}: driver sent more than was recorded")


def _spectra_in(transcript: Transcript) -> list[np.ndarray]:
    """The detector counts of each spectrum reply in a transcript (OBP payload replies)."""
    out = []
    for _, direction, data in transcript:
        pos = 0
        while direction == "r" and pos + HEADER.size <= len(data):
            fields = HEADER.unpack(data[pos:pos + HEADER.size])
            end = pos + HEADER.size + fields[-1]
            if fields[4] == 0x00101000 and fields[-1] > 20:
                payload = data[pos + HEADER.size:end - 20]
                out.append(np.frombuffer(payload, "<u2").astype(float))
            pos = end
    return out


def _conversation(address: str) -> list[np.ndarray]:
    device = OceanSpectrometer(OceanSettings(address=address, **SETTINGS))  # type: ignore[arg-type]
    try:
        device.open()
        return [device.read_raw(), device.read_raw()]
    finally:
        device.close()


def _transcript(name: str, recipe: Recipe, faults: Callable[[ObpEmulator], None]) -> Transcript:
    path = FIXTURES / f"{name}.json"
    if os.environ.get("SPECTROMETER_RECORD"):
        source = TwinSpectrumSource.for_recipe(recipe, cluster_cell(20.0), seed=5)
        with ObpEmulator(source, speed=4.0) as emulator:
            faults(emulator)
            proxy = RecordingProxy(emulator.address)
            try:
                _conversation(proxy.address)
            finally:
                proxy.close()
            FIXTURES.mkdir(exist_ok=True)
            save(proxy.log, path)
    return load(path)


@pytest.mark.parametrize(("name", "faults", "connections"), [
    ("hdx-open-and-read", lambda emu: None, 1),
    # the first spectrum's checksum is wrong: the driver drops the link, reopens, reads again
    ("hdx-bad-checksum-reconnect", lambda emu: emu.inject("checksum"), 2),
])
@pytest.mark.filterwarnings("ignore:WARNING OBP. The checksums differ")
def test_driver_replays_the_recorded_conversation_byte_for_byte(
        recipe: Recipe, name: str, faults: Callable[[ObpEmulator], None],
        connections: int) -> None:
    transcript = _transcript(name, recipe, faults)
    assert {c for c, _, _ in transcript} == set(range(connections))
    server = ReplayServer(transcript)
    try:
        counts = _conversation(server.address)
    finally:
        server.close()
    assert server.errors == []
    assert server.consumed == set(range(connections))
    recorded = _spectra_in(transcript)
    assert len(recorded) == 2 + (connections - 1)  # the corrupt one was read, then discarded
    for got, want in zip(counts, recorded[-2:], strict=True):
        np.testing.assert_array_equal(got, want)


def test_a_request_the_recording_does_not_have_is_caught(recipe: Recipe) -> None:
    """The replay is strict: a driver asking something else (here a changed integration time)
    is reported, so the test above cannot pass by accident."""
    transcript = _transcript("hdx-open-and-read", recipe, lambda emu: None)
    server = ReplayServer(transcript)
    settings = {**SETTINGS, "integration_ms": 13.0, "attempts": 1}
    try:
        with pytest.raises(Exception):  # noqa: B017, PT011 - whatever the driver makes of it
            OceanSpectrometer(OceanSettings(address=server.address, **settings)).open()  # type: ignore[arg-type]
    finally:
        server.close()
    assert any("driver sent" in e for e in server.errors)
