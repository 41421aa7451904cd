"""Lab configs: which devices a lab has, which backend drives each, and what is on the deck.

A lab file is YAML validated like a recipe (errors name file, line, column and field). The
default lab is the simulated one shipped inside the package, so ``mscrobot run`` works from any
directory: the digital twin with an OT-2 in front of its liquid handling, so every dry run's
tips, labware, pipette ranges and deck are judged by Opentrons' own engine. The shipped ``twin``
lab is the same without Opentrons (no ``import opentrons``: ~4 s faster), for the engine's
tests and benchmarks. ``hardware/labs/`` holds copies to edit. ``--lab NAME`` finds a shipped
lab by name, ``--lab PATH`` reads a file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from mscrobot.lab.labs import DEFAULT_LAB, lab_source, shipped_labs
from mscrobot.lab.opentrons.pipettes import PIPETTES
from mscrobot.recipe.quantities import (
    Duration,
    NonNegativeVolume,
    PathLength,
    StirRate,
    Volume,
    Wavelength,
)
from mscrobot.strictmodel import StrictModel
from mscrobot.yamldoc import (
    Document,
    DocumentError,
    FieldProblemError,
    Problem,
    parse_document,
    read_document,
    validate_document,
)

__all__ = ["DEFAULT_LAB", "LabConfig", "LabError", "lab_from_text", "load_lab", "shipped_labs"]


def _with_port(where: str, port: str | None) -> str:
    """``where`` if its port is one a socket can have: a pattern takes any digits, and a port
    past 65535 would otherwise pass here and fail only when the run starts, as a device."""
    if port is not None and not 1 <= int(port) <= 65535:
        raise ValueError(f"{where!r}: the port must be 1-65535, not {port}")
    return where


class Position(StrictModel):
    """A vessel on the deck. Stocks start with ``volume``; ``capacity`` bounds every fill."""

    slot: str = Field(description="deck slot (Opentrons: '1'..'11' or 'A1'..'D3')")
    well: str = Field("A1", description="well of the labware in that slot")
    labware: str = Field("vial", description="labware name (Opentrons load name on real decks)")
    capacity: Volume | None = Field(None, description="default: the recipe's vessel for "
                                                      "'reaction'")
    volume: NonNegativeVolume = Field("0 uL", description="what it holds at the start")


#: The largest offset a lab file may give a labware, per axis (mm): Labware Position Check
#: corrects millimetres; more is a wrong definition or a number in the wrong unit.
MAX_OFFSET_MM = 20.0


class LabwareOffsetConfig(StrictModel):
    """Where a labware really is in its slot, relative to its definition (mm): what the
    Opentrons App's Labware Position Check measures (``mscrobot lab offsets import``)."""

    labware: str = Field(description="the load name of a labware (or tip rack) of this lab")
    slot: str = Field(description="its deck slot, as the deck names it")
    x: float = Field(0.0, ge=-MAX_OFFSET_MM, le=MAX_OFFSET_MM, description="mm")
    y: float = Field(0.0, ge=-MAX_OFFSET_MM, le=MAX_OFFSET_MM, description="mm")
    z: float = Field(0.0, ge=-MAX_OFFSET_MM, le=MAX_OFFSET_MM, description="mm")


class PipetteConfig(StrictModel):
    """A pipette on one mount of an Opentrons robot and the tip racks it takes tips from."""

    name: str = Field(description="Opentrons pipette name: p20_single_gen2, p300_single_gen2, "
                      "p1000_single_gen2 (OT-2); p50_single_flex, p1000_single_flex (Flex)")
    tip_rack: str | None = Field(None, description="tip rack load name (default: the "
                                 "pipette's standard one)")
    tip_slots: list[str] = Field(min_length=1, description="deck slots of its tip racks, used "
                                 "in order")

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in PIPETTES:
            raise ValueError(f"unknown pipette {v!r}; known: {', '.join(PIPETTES)}")
        return v


class LiquidHandlerConfig(StrictModel):
    """``simulated``: the twin's volume-tracking handler. ``opentrons``: every operation
    becomes Opentrons protocol-engine commands, the handler tracking the volumes itself;
    ``robot: simulate`` runs them on Opentrons' own engine in this process (simulated
    hardware). On a lab that simulates anything the twin follows the robot and does the
    physics (and ``reports_outcomes``, ``transient_failures`` are the twin's)."""

    backend: Literal["simulated", "opentrons"] = "simulated"
    robot: str = Field("simulate", pattern=r"^(simulate|https?://[^\s/]+(:\d+)?/?)$",
                       description="opentrons: 'simulate' (Opentrons' engine in this process) "
                       "or the robot's HTTP API, e.g. http://10.0.0.5:31950 (the robot, or "
                       "`mscrobot emulate opentrons`)")
    timeout: Duration = Field("60 s", description="opentrons over HTTP: longest wait for "
                              "one command")
    robot_type: Literal["OT-2", "Flex"] = Field("OT-2", description="opentrons: the robot")
    pipettes: dict[Literal["left", "right"], PipetteConfig] = Field(
        default_factory=dict, description="opentrons: pipette per mount")
    air_gap: NonNegativeVolume = Field("10 uL", description="opentrons: air drawn after "
                                       "liquid (no drips) and before a polar sample (the tip "
                                       "passes through the alkane)")
    reports_outcomes: bool = Field(True, description="can the device say whether an "
                                                     "interrupted operation happened")
    dispense_time: Duration = Field("15 s", description="simulated time per dispense")
    sample_time: Duration = Field("20 s", description="aspirate, push through the cell, read")
    transient_failures: int = Field(0, ge=0, le=10, description="fault injection: the first "
                                    "N operations fail with a transient error")

    @field_validator("robot")
    @classmethod
    def _robot_port(cls, v: str) -> str:
        found = re.match(r"^https?://[^\s/:]+:(\d+)", v)
        return _with_port(v, found and found[1])

    @field_validator("transient_failures")
    @classmethod
    def _faults_into_the_twin(cls, v: int, info: ValidationInfo) -> int:
        robot = info.data.get("robot")
        if v and info.data.get("backend") == "opentrons" and robot != "simulate":
            raise ValueError(f"injects faults into the simulated lab; the robot at {robot} "
                             "is a real device and takes none")
        return v

    @field_validator("pipettes")
    @classmethod
    def _fit_the_robot(cls, v: dict[str, PipetteConfig],
                       info: ValidationInfo) -> dict[str, PipetteConfig]:
        robot = info.data.get("robot_type")
        wrong = [p.name for p in v.values() if robot and PIPETTES[p.name].robot != robot]
        if wrong:
            raise ValueError(f"{', '.join(wrong)} cannot be mounted on an {robot}")
        return v

    @model_validator(mode="after")
    def _opentrons_needs_pipettes(self) -> LiquidHandlerConfig:
        if self.backend == "opentrons" and not self.pipettes:
            raise ValueError("an opentrons liquid handler needs pipettes (left and/or right)")
        return self


class StirrerConfig(StrictModel):
    """``simulated``: the twin's stirrer. ``ika``: an IKA stirrer over NAMUR at ``url`` (a
    serial port, ``socket://host:port`` for a serial server or ``mscrobot emulate stirrer
    --tcp``, ``rfc2217://``); its read-back speed drives the simulated vial when the rest of
    the lab is simulated."""

    backend: Literal["simulated", "ika"] = "simulated"
    max_rpm: StirRate | None = Field(None, description="simulated: default 1500 rpm; ika: "
                                     "the profile's")
    fault_after: int | None = Field(None, ge=0, description="simulated fault injection: the "
                                    "motor reports a fault on this speed change (0 = first)")
    url: str | None = Field(None, min_length=1, description="ika: where the stirrer is")
    profile: str = Field("ika-rct-basic", description="ika: device profile (shipped name, "
                         "as in hardware/devices/, or a path)")
    watchdog: Duration | None = Field(None, description="ika: OUT_WD1@m time, 20-1500 s "
                                      "(default: the profile's)")
    timeout_s: float = Field(0.5, gt=0, le=30, description="ika: seconds to wait per reply")
    speedup: float | None = Field(None, description="moved: the lab's `speedup` (one for "
                                  "every device)")
    temperature_probe: bool = Field(False, description="ika: an external probe (PT1000) is "
                                    "in the vial; without one the recipe's temperature is "
                                    "neither controlled nor measured (the run says so). The "
                                    "heater is switched off at open and at every stop.")

    @field_validator("speedup")
    @classmethod
    def _one_speed_per_lab(cls, v: float | None) -> float | None:
        if v is not None:
            raise ValueError("a lab runs at one speed: write `speedup: "
                             f"{v:g}` at the top of the lab file instead (and start every "
                             f"emulator with --speed {v:g})")
        return v

    @field_validator("url")
    @classmethod
    def _url_port(cls, v: str | None) -> str | None:
        found = v and re.match(r"^(socket|rfc2217)://[^\s/]*:(\d+)", v)
        return v if v is None else _with_port(v, found and found[2])

    @model_validator(mode="after")
    def _needs_url(self) -> StirrerConfig:
        if self.backend == "ika" and self.url is None:
            raise ValueError("an ika stirrer needs a url (e.g. /dev/ttyUSB0 or "
                             "socket://127.0.0.1:4001)")
        return self


#: How a real rig takes its darks (``spectrometer.dark``); DARK_MODES[mode] says it to people.
DARK_MODES = {
    "lamp_shutter": "the light source's shutter, driven by the spectrometer's lamp-enable line",
    "ttl_shutter": "a shutter on its own TTL line (a serial port's RTS or DTR)",
    "electric_dark": "the detector's electric-dark (masked) pixels, read with every spectrum",
    "operator": "the operator closes the light path when the run asks",
}


class ShutterConfig(StrictModel):
    """A shutter in front of the light source on its own TTL line: one modem-control output of
    a serial port (a USB-serial adapter's RTS or DTR wired to the shutter's TTL input), or of
    a serial server speaking RFC 2217 (``rfc2217://host:port``, as ``mscrobot emulate
    spectrometer --shutter PORT`` does). A raw ``socket://`` carries no control lines."""

    url: str = Field(min_length=1, description="the port: /dev/ttyUSB1, COM4, "
                     "rfc2217://host:port")
    line: Literal["rts", "dtr"] = Field("rts", description="the output wired to the shutter")
    closed_when: Literal["high", "low"] = Field("high", description="the line level that "
                                                "closes the shutter")
    settle_s: float = Field(0.05, ge=0, le=10, description="seconds the shutter takes to "
                            "move")

    @field_validator("url")
    @classmethod
    def _carries_lines(cls, v: str) -> str:
        if v.startswith(("socket://", "loop://")):
            raise ValueError(f"{v!r} carries no control line: use the serial port itself "
                             "(/dev/ttyUSB1) or an RFC 2217 server (rfc2217://host:port)")
        found = re.match(r"^rfc2217://[^\s/]*:(\d+)", v)
        return _with_port(v, found and found[1])


class SpectrometerConfig(StrictModel):
    """``simulated``: the twin's instrument. ``ocean``: an Ocean spectrometer through seabreeze,
    over OBP/TCP at ``address`` (Ethernet HDX, or ``mscrobot emulate spectrometer --tcp``) or
    the first USB device of ``model``. ``dark`` says how the light path is closed for darks
    (``DARK_MODES``); an emulator's ``physics`` port carries the simulated flow cell's
    contents, and the lamp only when no ``dark`` is given (the emulator's shortcut)."""

    backend: Literal["simulated", "ocean"] = "simulated"
    model: str = Field("Ocean HDX (simulated)", description="ocean: seabreeze's model name "
                       "(HDX, FLAMES, USB2000PLUS, …; 'FLAME-S' is read as FLAMES)")
    path_length: PathLength = Field("2 mm", description="the flow cell's optical path (the "
                                    "shipped labs' cell; measure yours)")
    range_min: Wavelength = Field("200 nm", description="the lowest wavelength the analysis "
                                  "may use (checked against the device's at open)")
    range_max: Wavelength = Field("800 nm", description="the highest (an HDX UV-VIS reads "
                                  "≈200-800 nm)")
    address: str | None = Field(None, pattern=r"^[^:\s]*:\d+$", description="ocean: "
                                "host:port of an Ethernet model")
    serial: str | None = Field(None, description="ocean/USB: which device, if several")
    physics: str | None = Field(None, pattern=r"^[^:\s]*:\d+$", description="ocean: "
                                "host:port of the emulator's physics link (emulated labs)")
    usb_emulator: str | None = Field(None, pattern=r"^[^:\s]*:\d+$", description="ocean/"
                                     "USB: host:port of `mscrobot emulate flame`, plugged in "
                                     "instead of the USB bus (emulated labs)")
    dark: Literal["lamp_shutter", "ttl_shutter", "electric_dark", "operator"] | None = Field(
        None, description="ocean: how darks are taken: " + "; ".join(
            f"{k}: {v}" for k, v in DARK_MODES.items()))
    shutter: ShutterConfig | None = Field(None, description="ocean, dark: ttl_shutter: the "
                                          "shutter's line")
    operator_timeout: Duration = Field("5 min", description="ocean, dark: operator: how "
                                       "long the run waits for the operator to close (and "
                                       "open) the light path")
    nonlinearity: bool = Field(True, description="ocean: correct each read with the "
                               "device's own nonlinearity coefficients")
    integration_ms: float = Field(10.0, gt=0, le=60_000, description="ocean: starting "
                                  "integration time, ms (each reference auto-ranges)")
    scans: int = Field(4, ge=1, le=1000, description="ocean: scans averaged per spectrum")
    timeout_s: float = Field(1.0, gt=0, le=60, description="ocean: seconds to wait per "
                             "reply beyond the integration time")

    @field_validator("address", "physics", "usb_emulator")
    @classmethod
    def _port_in_range(cls, v: str | None) -> str | None:
        return v if v is None else _with_port(v, v.rsplit(":", 1)[1])

    @field_validator("model")
    @classmethod
    def _seabreeze_model(cls, v: str, info: ValidationInfo) -> str:
        if info.data.get("backend") != "ocean":
            return v
        from mscrobot.lab.spectrometer.models import seabreeze_model

        return seabreeze_model(v)

    @model_validator(mode="after")
    def _darks_are_possible(self) -> SpectrometerConfig:
        if self.backend != "ocean":
            return self
        if self.dark is None and self.physics is None:
            raise ValueError("spectrometer.dark: say how this rig takes its darks: "
                             + "; ".join(f"{k} ({v})" for k, v in DARK_MODES.items()))
        if self.dark == "ttl_shutter" and self.shutter is None:
            raise ValueError("dark: ttl_shutter needs spectrometer.shutter (url, line)")
        if self.shutter is not None and self.dark != "ttl_shutter":
            raise ValueError(f"spectrometer.shutter is given but dark is {self.dark}: set "
                             "dark: ttl_shutter, or remove the shutter")
        if self.range_min >= self.range_max:
            raise ValueError("range_min must be below range_max")
        if self.address is not None and self.usb_emulator is not None:
            raise ValueError("address (Ethernet) and usb_emulator (USB) name two devices: "
                             "give one")
        if self.address is not None:
            from mscrobot.lab.spectrometer.models import network_models

            if self.model not in network_models():
                raise ValueError(f"model {self.model} is reached over USB, not at an address: "
                                 f"seabreeze speaks Ethernet to {', '.join(network_models())}")
        return self

    @property
    def dark_mode(self) -> str:
        """What each spectrum records: the lab's ``dark``, or 'emulator' (physics shortcut)."""
        return self.dark or ("emulator" if self.physics is not None else "simulated")


class LabConfig(StrictModel):
    """One lab. Its clock follows its devices: real time wherever a real or emulated device
    keeps it, the simulated world's only where every device is simulated; a ``clock`` that
    contradicts the devices is refused at its line. ``speedup`` runs a lab of emulators (all
    started with that ``--speed``) faster as a whole, never one device alone."""

    name: str = Field(min_length=1, max_length=80)
    description: str = ""
    clock: Literal["virtual", "wall"] | None = Field(
        None, description="virtual: the simulated world's time, a dry run takes none (only a "
        "lab whose every device is simulated); wall: real time. Left out: wall on a lab with "
        "any real or emulated device, else virtual")
    speedup: float = Field(1.0, gt=0, le=1000, description="wall clock: lab seconds per real "
                           "second, for a lab of emulators all started with --speed X")
    liquid_handler: LiquidHandlerConfig = Field(default_factory=LiquidHandlerConfig)
    stirrer: StirrerConfig = Field(default_factory=StirrerConfig)
    spectrometer: SpectrometerConfig = Field(default_factory=SpectrometerConfig)
    deck: dict[str, Position]
    offsets: list[LabwareOffsetConfig] = Field(
        default_factory=list, description="opentrons: measured labware offsets, per labware "
        "and slot (Labware Position Check; `mscrobot lab offsets import`)")
    accept_assumed_geometry: bool = Field(
        False, description="opentrons: let a real robot run with labware whose geometry is "
        "assumed and unmeasured (no offset for it here)")

    @property
    def simulated(self) -> bool:
        """Whether the lab needs the simulated world: a simulated device, or an emulator
        whose physics link carries the simulated flow cell."""
        return ("simulated" in (self.liquid_handler.backend, self.stirrer.backend,
                                self.spectrometer.backend)
                or self.spectrometer.physics is not None)

    @property
    def real_devices(self) -> list[str]:
        """The roles whose device is not simulated (a robot, emulator or instrument spoken
        to): on such a lab the twin never answers a question about the world."""
        lh = self.liquid_handler
        return [role for role, real in (
            ("liquid_handler", lh.backend == "opentrons" and lh.robot != "simulate"),
            ("stirrer", self.stirrer.backend != "simulated"),
            ("spectrometer", self.spectrometer.backend != "simulated")) if real]

    @model_validator(mode="after")
    def _faults_are_the_twins(self) -> LabConfig:
        if self.liquid_handler.transient_failures and self.real_devices:
            raise FieldProblemError(("liquid_handler", "transient_failures"),
                                    "injects faults into the simulated lab; a lab with a real "
                                    "device (" + ", ".join(self.real_devices) + ") takes none")
        return self

    @model_validator(mode="after")
    def _clock_fits_the_devices(self) -> LabConfig:
        """Real (and emulated) devices keep real time: virtual time only where every device
        is simulated, and a speedup only on a wall clock."""
        real = self.real_devices
        if self.clock is None:
            self.clock = "wall" if real else "virtual"
        elif self.clock == "virtual" and real:
            raise FieldProblemError(("clock",), "virtual is the simulated world's time, and "
                                    "this lab speaks to devices that keep real time ("
                                    + ", ".join(real) + "): write clock: wall, or leave it out")
        if self.speedup != 1 and self.clock == "virtual":
            raise FieldProblemError(("speedup",), "speeds up a wall clock; this lab's clock "
                                    "is virtual and takes no real time")
        return self


class LabError(DocumentError):
    """A lab file that cannot be used; problems name file, line and field."""


def load_lab(ref: str | Path | None = None) -> tuple[LabConfig, str]:
    """The lab named or at ``ref`` (default: the simulated lab), with its YAML text."""
    name, text = lab_source(ref)
    try:
        if text is not None:
            return lab_from_text(text, f"<shipped lab {name}>"), text
        path = Path(name)
        if not path.exists():
            known = ", ".join(sorted(shipped_labs()))
            raise LabError([Problem(str(path), 1, 1, "", f"no such lab file (shipped labs: "
                                    f"{known})")])
        doc = read_document(path)
        return _validate(doc), doc.text
    except LabError:
        raise
    except DocumentError as e:
        raise LabError(e.problems) from None


def lab_from_text(text: str, source: str = "<lab>") -> LabConfig:
    """Validate lab YAML text (a journal keeps the text its run was started with)."""
    try:
        return _validate(parse_document(text, source))
    except LabError:
        raise
    except DocumentError as e:
        raise LabError(e.problems) from None


def offset_problems(lab: LabConfig) -> list[tuple[int, str, str]]:
    """(index, field, message) of each offset that names no labware of this lab in that slot,
    or one named twice (which one would the robot take?)."""
    from mscrobot.lab.opentrons.layout import same_slot, slot_loads

    if lab.offsets and lab.liquid_handler.backend != "opentrons":
        return [(0, "labware", "offsets are for an Opentrons robot; this lab's liquid handler "
                 f"is {lab.liquid_handler.backend}")]
    loads = slot_loads(lab)
    robot = lab.liquid_handler.robot_type
    out, seen = [], set()
    for i, o in enumerate(lab.offsets):
        slot = next((s for s in loads if same_slot(s, o.slot, robot)), None)
        if slot is None:
            used = ", ".join(sorted(loads)) or "none"
            out.append((i, "slot", f"no labware of this lab is in slot {o.slot!r} (slots "
                        f"used: {used})"))
        elif loads[slot] != o.labware:
            out.append((i, "labware", f"slot {o.slot} holds {loads[slot]}, not {o.labware}"))
        elif slot in seen:
            out.append((i, "slot", f"a second offset for {o.labware} in slot {o.slot}"))
        if slot is not None:
            seen.add(slot)
    return out


def _validate(doc: Document) -> LabConfig:
    """The lab in ``doc``, with the files it names: an IKA stirrer's profile is read here, so
    a missing or bad one is placed at ``stirrer.profile`` instead of failing a run or a plan."""
    lab = validate_document(LabConfig, doc)
    problems = [doc.problem(("offsets", i, field), message)
                for i, field, message in offset_problems(lab)]
    if problems:
        raise LabError(problems)
    if lab.stirrer.backend == "ika":
        from mscrobot.lab.stirrer.profiles import available_profiles, load_profile

        try:
            load_profile(lab.stirrer.profile)
        except DocumentError as e:
            first = e.problems[0]
            why = (f"no such stirrer profile (shipped: {', '.join(available_profiles())}; or "
                   "a profile file's path)") if first.message == "no such file" \
                else f"the profile is not valid: {first}"
            raise LabError([doc.problem(("stirrer", "profile"),
                                        f"{lab.stirrer.profile!r}: {why}")]) from None
    return lab
