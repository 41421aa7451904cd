"""Spectra per second through seabreeze against the HDX emulator, versus what integration allows.

    uv run python benchmarks/spectrometer.py [--repeat 5] [--reads 200] [--json]

The emulator runs as its own process (`mscrobot emulate spectrometer --tcp 0`, real time) so the
client does not share a GIL with it. At 10 ms integration the detector allows 100 spectra/s; two
clients are timed, each the median of ``--repeat`` runs of ``--reads`` single-scan reads:
- ``seabreeze``: seabreeze's own HDX class, bare (``get_intensities`` in a loop);
- ``driver``: ``OceanSpectrometer.read_raw`` (deadline, EOF and checksum guards, retries);
against both emulator acquisition modes: ``free-running`` (the device's normal trigger mode: a
request gets the next scan, so host overhead below one integration time costs nothing) and
``on-request`` (every request starts a scan: all overhead adds to the 10 ms).
Target: the driver at ≥ 90 % of 100/s (free-running).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

INTEGRATION_MS = 10.0


def _start_emulator(acquisition: str) -> tuple[subprocess.Popen[str], str, int]:
    proc = subprocess.Popen([sys.executable, "-m", "mscrobot.cli", "emulate", "spectrometer",
                             "--tcp", "0", "--acquisition", acquisition],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    host, _, port = line.rpartition(":")
    return proc, host, int(port)


def _rate(read: object, reads: int) -> float:
    fn = read  # a zero-argument callable
    fn()  # type: ignore[operator]
    t0 = time.perf_counter()
    for _ in range(reads):
        fn()  # type: ignore[operator]
    return reads / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from seabreeze.pyseabreeze.devices import SeaBreezeDevice
    from seabreeze.pyseabreeze.transport import IPv4Transport, IPv4TransportHandle

    from mscrobot.lab.spectrometer.ocean import OceanSettings, OceanSpectrometer

    raw: dict[str, list[float]] = {}
    for mode in ("free-running", "on-request"):
        proc, host, port = _start_emulator(mode)
        try:
            IPv4Transport.register_model("HDX", ipv4_address=host, ipv4_port=port)
            bare, driven = raw.setdefault(f"seabreeze {mode}", []), raw.setdefault(
                f"driver {mode}", [])
            for _ in range(args.repeat):
                handle = IPv4TransportHandle(host, port)
                device = SeaBreezeDevice(handle)
                device.open()
                handle.socket.settimeout(5.0)
                device.f.spectrometer.set_integration_time_micros(int(INTEGRATION_MS * 1000))
                bare.append(_rate(device.f.spectrometer.get_intensities, args.reads))
                device.close()
                driver = OceanSpectrometer(OceanSettings(address=f"{host}:{port}",
                                                         integration_ms=INTEGRATION_MS)).open()
                driven.append(_rate(driver.read_raw, args.reads))
                driver.close()
        finally:
            proc.terminate()
            proc.wait(timeout=10)

    allowed = 1000.0 / INTEGRATION_MS
    medians = {k: statistics.median(v) for k, v in raw.items()}
    out = {
        "machine": f"{platform.machine()} {os.cpu_count()} cpus, "
                   f"Python {platform.python_version()}",
        "load_average_1min": round(os.getloadavg()[0], 2),
        "integration_ms": INTEGRATION_MS,
        "allowed_per_s": allowed,
        "reads_per_run": args.reads,
        "per_s": {k: round(v, 1) for k, v in medians.items()},
        "driver_fraction_of_allowed": round(medians["driver free-running"] / allowed, 3),
        "request_overhead_ms_on_request": round(
            1000.0 / medians["driver on-request"] - INTEGRATION_MS, 2),
        "runs": {k: [round(v, 1) for v in vs] for k, vs in raw.items()},
    }
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for key, value in out.items():
            print(f"{key}: {value}")


if __name__ == "__main__":
    main()
