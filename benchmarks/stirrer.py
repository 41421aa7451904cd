"""IKA stirrer driver overhead: command round trip against the emulator pacing 9600 baud.

    uv run python benchmarks/stirrer.py [--runs 5] [--commands 40] [--json]

The emulator (``mscrobot emulate stirrer --pace``, a separate process) makes every character
cost 10 bits at 9600 baud in both directions, as a real RS-232 line does. For each command the
round trip minus that wire time (command + reply characters × 10/9600 s) is the overhead: the
driver's own work plus the OS, the pty or TCP hop and the emulator's scheduling. The target is
≤ 2 ms per command. A bare pyserial write/read of the same query on the same line is timed in
the same run, so the driver's share is the difference of the two. Each number is the median
over ``--runs`` runs of the per-run median over ``--commands`` commands.

Commands: ``IN_PV_4`` (actual speed), ``IN_SP_4`` (set speed), and a setter with its read-back
(``OUT_SP_4 n`` then ``IN_SP_4``: one driver operation, two commands on the wire).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mscrobot.lab.stirrer.ika import IkaStirrer  # noqa: E402
from mscrobot.lab.stirrer.namur import frame, wire_time  # noqa: E402
from mscrobot.lab.stirrer.profiles import load_profile  # noqa: E402


def _start(transport: str) -> tuple[subprocess.Popen[str], str]:
    arg = ["--pty"] if transport == "pty" else ["--tcp", "0"]
    proc = subprocess.Popen([sys.executable, "-m", "mscrobot.cli", "emulate", "stirrer", *arg,
                             "--pace"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, cwd=ROOT)
    assert proc.stdout is not None
    address = proc.stdout.readline().strip()
    return proc, address if transport == "pty" else f"socket://{address}"


def _overheads(op: Callable[[], float], wire_chars: Callable[[float], int], n: int,
               ) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        value = op()
        rt = time.perf_counter() - t0
        out.append(rt - wire_time(wire_chars(value)))
    return out


def _speed_reply(value: float) -> int:
    return len(frame(f"{value:.1f} 4"))


def bench(transport: str, runs: int, commands: int) -> dict[str, object]:
    proc, url = _start(transport)
    profile = load_profile("ika-rct-basic")
    try:
        d = IkaStirrer(url, profile, keepalive=False, timeout_s=1.0)
        d.open()
        d.set_speed(750)
        raw = d._connected()                # a line has one port: share the driver's

        def raw_query() -> float:
            raw.reset_input_buffer()
            raw.write(frame("IN_PV_4"))
            line = b""
            while not line.endswith(b"\n"):
                line += raw.read(max(1, raw.in_waiting))
            return float(line.split()[0])

        def set_and_read() -> float:
            d._set_setpoint(750)            # OUT_SP_4 750, then IN_SP_4 (no motor change)
            return 750.0

        q = len(frame("IN_PV_4"))
        cases: dict[str, tuple[Callable[[], float], Callable[[float], int]]] = {
            "IN_PV_4": (d.speed, lambda v: q + _speed_reply(v)),
            "IN_SP_4": (d.setpoint, lambda v: len(frame("IN_SP_4")) + _speed_reply(v)),
            "OUT_SP_4+IN_SP_4": (set_and_read, lambda v: len(frame("OUT_SP_4 750"))
                                 + len(frame("IN_SP_4")) + _speed_reply(v)),
            "raw pyserial IN_PV_4": (raw_query, lambda v: q + _speed_reply(v)),
        }
        per_run: dict[str, list[float]] = {k: [] for k in cases}
        p95: dict[str, list[float]] = {k: [] for k in cases}
        for _ in range(runs):
            for name, (op, chars) in cases.items():
                values = sorted(_overheads(op, chars, commands))
                per_run[name].append(statistics.median(values))
                p95[name].append(values[int(0.95 * (len(values) - 1))])
        d.close()
    finally:
        proc.terminate()
        proc.wait(5)
    result: dict[str, object] = {
        name: {"overhead_ms": round(1e3 * statistics.median(v), 3),
               "p95_ms": round(1e3 * statistics.median(p95[name]), 3)}
        for name, v in per_run.items()}
    driver = statistics.median(per_run["IN_PV_4"])
    bare = statistics.median(per_run["raw pyserial IN_PV_4"])
    result["driver_share_ms"] = round(1e3 * (driver - bare), 3)
    result["wire_ms_IN_PV_4"] = round(1e3 * wire_time(q + _speed_reply(750.0)), 3)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--commands", type=int, default=40)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    out = {"machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
           "python": platform.python_version(), "runs": args.runs, "commands": args.commands,
           "target_overhead_ms": 2.0,
           "pty": bench("pty", args.runs, args.commands),
           "tcp": bench("tcp", args.runs, args.commands)}
    if args.json:
        print(json.dumps(out, indent=2))
        return
    for transport in ("pty", "tcp"):
        print(f"{transport}:")
        for name, v in out[transport].items():  # type: ignore[union-attr]
            print(f"  {name}: {v}")


if __name__ == "__main__":
    main()
