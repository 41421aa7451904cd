"""Stirrer device profiles (hardware/devices/*.yaml): what a model can do and how fast.

The driver checks requests against the speed range and waits for the ramp the profile states
before calling a motor stalled; the emulator ramps its motor at the same rate. A profile is YAML
a person writes, so it goes through ``mscrobot.yamldoc`` (errors name file, line and field).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from mscrobot.strictmodel import StrictModel
from mscrobot.yamldoc import read_document, validate_document

#: Profiles ship inside the package (an installed mscrobot finds them from any directory);
#: hardware/devices/ holds the same files for people to copy and edit.
DEVICES_DIR = Path(__file__).resolve().parent / "devices"


class StirrerProfile(StrictModel):
    """One stirrer model: its NAMUR name, speed range, ramp and read-back tolerance."""

    name: str = Field(min_length=1, max_length=80, description="profile name (file stem)")
    model: str = Field(min_length=1, description="what IN_NAME answers, e.g. 'RCT basic'")
    min_rpm: float = Field(ge=0, description="lowest speed the motor holds when running")
    max_rpm: float = Field(gt=0, le=3000, description="highest settable speed")
    ramp_rpm_per_s: float = Field(gt=0, description="how fast the motor changes speed")
    tolerance_rpm: float = Field(gt=0, description="read-back within this counts as reached")
    settle_s: float = Field(2.0, ge=0, description="extra time allowed on top of the ramp")
    watchdog_s: int = Field(60, ge=20, le=1500, description="default OUT_WD1@m time")

    @model_validator(mode="after")
    def _range(self) -> StirrerProfile:
        if self.min_rpm >= self.max_rpm:
            raise ValueError(f"min_rpm {self.min_rpm:g} must be below max_rpm "
                             f"{self.max_rpm:g}")
        return self

    def ramp_time(self, from_rpm: float, to_rpm: float) -> float:
        """Seconds the motor needs to go from one speed to another, settling included."""
        return abs(to_rpm - from_rpm) / self.ramp_rpm_per_s + self.settle_s


def available_profiles() -> list[str]:
    return sorted(p.stem for p in DEVICES_DIR.glob("*.yaml"))


def load_profile(ref: str | Path) -> StirrerProfile:
    """A profile by name (a shipped one, as in hardware/devices/NAME.yaml) or by path;
    ``DocumentError`` if bad."""
    path = Path(ref)
    if not path.suffix and not path.exists():
        path = DEVICES_DIR / f"{ref}.yaml"
    return validate_document(StirrerProfile, read_document(path))
