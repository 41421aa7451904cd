"""`mscrobot emulate spectrometer` as a real process (slow): first line is the bound address,
faults from --faults reach the driver, which recovers."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mscrobot.lab.spectrometer.ocean import OceanSettings, OceanSpectrometer


@pytest.mark.slow
def test_emulator_process_serves_the_driver_with_faults() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mscrobot.cli", "emulate", "spectrometer", "--tcp", "0",
         "--speed", "4", "--contents", "clusters", "--faults", "garbage@2,disconnect@4"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        address = proc.stdout.readline().strip()
        assert address.startswith("127.0.0.1:")
        settings = OceanSettings(address=address, io_timeout_s=0.5, backoff_s=0.01, scans=5)
        with OceanSpectrometer(settings) as device:
            spectrum = device.read()
            assert spectrum.counts.shape == (2068,)
            assert device.reconnects == 2
    finally:
        proc.terminate()
        proc.wait(timeout=10)
