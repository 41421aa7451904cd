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
                            speedup=config.speedup)
        try:
            out["identity"] = device.identify()
            out["state"] = {"actual_rpm": device.speed(), "set_rpm": device.setpoint()}
            out["ok"] = True
        finally:
            device.close(stop_motor=False)
    except (DeviceError, DocumentError, OSError, ValueError) as e:
        out["error"] = str(e).splitlines()[0]
    return out


def _ocean(config: LabConfig) -> dict[str, Any]:
    """Opened read-only: identity, calibration and limits; the integration time is not set."""
    from mscrobot.lab.spectrometer.ocean import OceanSettings, OceanSpectrometer

    sp = config.spectrometer
    where = sp.address or f"USB {sp.model}"
    out: dict[str, Any] = {"role": "spectrometer", "backend": "ocean", "url": where,
                           "ok": False, "identity": None, "state": None, "error": None}
    from mscrobot.app.labs import usb_backend

    device = OceanSpectrometer(OceanSettings(address=sp.address, model=sp.model,
                                             serial=sp.serial, io_timeout_s=sp.timeout_s,
                                             dark=sp.dark_mode,
                                             usb_backend=usb_backend(sp.usb_emulator)))
    device.read_only = True
    try:
        device.open()
        wl = device.wavelengths_nm
        out["identity"] = f"{device.model} {device.serial_number}"
        out["state"] = {"pixels": len(wl), "range_nm": [round(float(wl[0]), 1),
                                                        round(float(wl[-1]), 1)],
                        "integration_limits_ms": list(device.limits_ms),
                        "dark": sp.dark_mode,  # open refuses a mode the model cannot do
                        "electric_dark_pixels": len(device.electric_dark_pixels),
                        "nonlinearity_coefficients": len(device.nonlinearity_coefficients)}
        out["ok"] = True
    except (DeviceError, OSError, ValueError) as e:
        out["error"] = str(e).splitlines()[0]
    finally:
        device.close()
    return out


def _opentrons(config: LabConfig) -> dict[str, Any]:
    """In process: nothing to reach. Over HTTP, read only: the robot's ``/health`` (model,
    software), ``/instruments`` (against the lab's pipettes), calibration status, its current
    run, where its deck configuration has the trash, and the offsets it stores (newer
    robots). Both ways: the lab's labware offsets and its labware of assumed geometry."""
    from mscrobot.lab.opentrons.layout import geometry_warnings, labware_offsets

    lh = config.liquid_handler
    out: dict[str, Any] = {"role": "liquid_handler", "backend": "opentrons", "ok": False,
                           "identity": None, "state": None, "error": None,
                           "offsets": labware_offsets(config),
                           "warnings": geometry_warnings(config)}
    if lh.robot == "simulate":
        return {**out, "ok": True, "state": "ready",
                "identity": f"Opentrons {lh.robot_type}, Opentrons' protocol engine in "
                            "process on simulated hardware, over the digital twin"}
    import httpx

    from mscrobot.lab.opentrons.backend import ROBOT_TYPES

    out["url"] = lh.robot
    try:
        with httpx.Client(base_url=lh.robot.rstrip("/"), timeout=5.0,
                          headers={"Opentrons-Version": "*"}) as client:
            r = client.get("/health")
            r.raise_for_status()
            health = r.json()
            model = health.get("robot_model")
            out["identity"] = (f"{health.get('name')} ({model}, robot software "
                               f"{health.get('api_version')})")
            if model != ROBOT_TYPES[lh.robot_type]:
                out["error"] = f"{health.get('name')} is an {model}; the lab says {lh.robot_type}"
                return out
            state, problems = _robot_state(client, config, health)
    except (httpx.HTTPError, ValueError) as e:
        out["error"] = str(e).splitlines()[0] if str(e) else type(e).__name__
        return out
    if problems:
        return {**out, "state": state, "error": "; ".join(problems)}
    return {**out, "ok": True, "state": state}


def _robot_state(client: Any, config: LabConfig,
                 health: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """What a reachable robot says of itself, and what would stop a run of this lab on it."""
    from mscrobot.lab.opentrons.backend import ROBOT_TYPES, calibration_summary, trash_area
    from mscrobot.lab.opentrons.versions import UnknownSoftwareError, commands_of

    lh = config.liquid_handler
    problems: list[str] = []
    state: dict[str, Any] = {"software": health.get("api_version")}
    try:
        known = commands_of(str(health.get("api_version")))
        if known is not None and "airGapInPlace" not in known:
            state["air_gap"] = "aspirate in place (no airGapInPlace)"
    except UnknownSoftwareError as e:
        problems.append(str(e))
    instruments = client.get("/instruments").json().get("data") or []
    attached = {i["mount"]: i.get("instrumentName") for i in instruments
                if i.get("instrumentType") == "pipette"}
    for mount in ("left", "right"):
        state[f"{mount}_pipette"] = attached.get(mount) or "none"
        want = lh.pipettes.get(mount)  # type: ignore[call-overload]
        if want is not None and attached.get(mount) != want.name:
            problems.append(f"the {mount} mount holds {attached.get(mount) or 'nothing'}; the "
                            f"lab file says {want.name}")
    r = client.get("/calibration/status")
    calibration = (calibration_summary(ROBOT_TYPES[lh.robot_type], r.json(), instruments)
                   if r.status_code == 200 else {"status": f"not served ({r.status_code})"})
    state.update({f"calibration_{k}": v for k, v in calibration.items()})
    runs = client.get("/runs").json().get("data") or []
    current = next((run for run in runs if run.get("current")), None)
    state["current_run"] = "none" if current is None else (
        f"{current['id']} ({current.get('status')}, created {current.get('createdAt')})")
    r = client.get("/deck_configuration")
    if r.status_code == 200:
        trash = trash_area(ROBOT_TYPES[lh.robot_type],
                           r.json()["data"].get("cutoutFixtures") or [])
        state["trash"] = trash or "none"
        if trash is None:
            problems.append("its deck configuration has no trash bin or waste chute")
    r = client.get("/labwareOffsets")
    state["stored_offsets"] = (len(r.json().get("data") or []) if r.status_code == 200
                               else "none kept outside runs (this release)")
    return state, problems


def probe_lab(config: LabConfig) -> list[dict[str, Any]]:
    """One entry per instrument: identity and state, or why it cannot be reached. Raises
    ``LabBusyError`` while another process drives one of the lab's devices: a probe's own
    commands (a stirrer's reset) would disturb that run."""
    from mscrobot.app.lablock import hold_lab

    with hold_lab(config, "probe", "devices probe"):
        return _probe(config)


def _probe(config: LabConfig) -> list[dict[str, Any]]:
    return [
        _opentrons(config) if config.liquid_handler.backend == "opentrons"
        else _simulated("liquid_handler", "volume-tracking liquid handler"),
        _ika(config) if config.stirrer.backend == "ika" else _simulated("stirrer",
                                                                         "magnetic stirrer"),
        _ocean(config) if config.spectrometer.backend == "ocean"
        else _simulated("spectrometer", config.spectrometer.model),
    ]
