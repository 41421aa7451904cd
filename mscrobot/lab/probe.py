"""``mscrobot devices probe``: ask each instrument of a lab who it is and how it stands.

A probe only reads: it never starts, stops or resets a device (an IKA stirrer is asked for its
name, set and actual speed, and its port is closed without a command), so it is safe to run
beside a run in progress.
"""

from __future__ import annotations

from typing import Any

from mscrobot.lab.config import LabConfig
from mscrobot.lab.protocols import DeviceError


def _simulated(role: str, what: str) -> dict[str, Any]:
    return {"role": role, "backend": "simulated", "ok": True,
            "identity": f"{what}, on the digital twin", "state": "ready", "error": None}


def _ika(config: LabConfig) -> dict[str, Any]:
    from mscrobot.lab.stirrer.ika import IkaStirrer
    from mscrobot.lab.stirrer.profiles import load_profile
    from mscrobot.yamldoc import DocumentError

    st = config.stirrer
    out: dict[str, Any] = {"role": "stirrer", "backend": "ika", "url": st.url, "ok": False,
                           "identity": None, "state": None, "error": None}
    try:
        profile = load_profile(st.profile)
        assert st.url is not None
        device = IkaStirrer(st.url, profile, timeout_s=st.timeout_s, keepalive=False,
                            speedup=st.speedup)
        try:
            out["identity"] = device.identify()
            out["state"] = {"actual_rpm": device.speed(), "set_rpm": device.setpoint()}
            out["ok"] = True
        finally:
            device.close(stop_motor=False)
    except (DeviceError, DocumentError, OSError, ValueError) as e:
        out["error"] = str(e).splitlines()[0]
    return out


def probe_lab(config: LabConfig) -> list[dict[str, Any]]:
    """One entry per instrument: identity and state, or why it cannot be reached."""
    return [
        _simulated("liquid_handler", "volume-tracking liquid handler"),
        _ika(config) if config.stirrer.backend == "ika" else _simulated("stirrer",
                                                                         "magnetic stirrer"),
        _simulated("spectrometer", config.spectrometer.model),
    ]
