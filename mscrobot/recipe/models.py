"""The recipe: what a chemist wants done in one biphasic ligand exchange (pure data, no I/O).

Clusters in an alkane over a metal salt in a polar solvent; stir until the clusters move into
the polar phase, confirmed from UV-vis; then, optionally, pull them back with oleylamine (OLA).
Types are checked here; chemistry that spans fields (miscibility, equivalents, vessel volume,
UV cutoffs) is checked in ``mscrobot.recipe.checks`` so each problem can name its own field.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pint
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    WithJsonSchema,
    model_validator,
)

from mscrobot.chemistry import (
    CLUSTERS,
    SALTS,
    SOLVENTS,
    UnknownNameError,
    find_cluster,
    find_salt,
    find_solvent,
    suggest,
)
from mscrobot.recipe.quantities import (
    ClusterConcentration,
    Duration,
    NonNegativeDuration,
    NonNegativeVolume,
    ReagentAmount,
    SaltConcentration,
    StirRate,
    Temperature,
    Volume,
    Wavelength,
    WavelengthTolerance,
)
from mscrobot.recipe.vessels import DEFAULT_VESSEL, VIAL_TYPES
from mscrobot.strictmodel import StrictModel
from mscrobot.units import ureg

RECIPE_VERSION = 1
Phase = Literal["nonpolar", "polar"]
Blank = Literal["polar_salt", "nonpolar", "nonpolar_ola"]


def _canonical_material(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return find_cluster(value, 34).material if value else value
        except UnknownNameError:
            pass
        materials = sorted({c.material for c in CLUSTERS.values()})
        raise ValueError(f"unknown cluster material {value!r}; {suggest(value, materials)}")
    return value


def _canonical_solvent(value: Any) -> Any:
    if isinstance(value, str):
        return find_solvent(value).name
    return value


def _canonical_vessel(value: Any) -> Any:
    if isinstance(value, str) and value not in VIAL_TYPES:
        raise ValueError(f"unknown vessel {value!r}; {suggest(value, list(VIAL_TYPES))}")
    return value


_LIGANDS = {"bta": "BTA", "butylamine": "BTA", "ota": "OTA", "octylamine": "OTA"}


def _canonical_ligand(value: Any) -> Any:
    if isinstance(value, str):
        return _LIGANDS.get(value.strip().casefold(), value)
    return value


def _canonical_salt(value: str) -> str:
    return find_salt(value)[0].name


SaltName = Annotated[str, AfterValidator(_canonical_salt)]
SolventName = Annotated[
    str,
    AfterValidator(_canonical_solvent),
    WithJsonSchema({"type": "string", "enum": list(SOLVENTS),
                    "description": "solvent name (aliases such as '1-hexene' also accepted)"}),
]
Material = Annotated[
    Literal["CdS", "CdSe", "ZnSe"],
    BeforeValidator(_canonical_material),
]
Ligand = Annotated[Literal["BTA", "OTA"], BeforeValidator(_canonical_ligand)]
VesselName = Annotated[
    str,
    AfterValidator(_canonical_vessel),
    WithJsonSchema({"type": "string", "enum": list(VIAL_TYPES)}),
]
Fraction = Annotated[float, Field(gt=0, lt=1)]


class ClusterPhase(StrictModel):
    """The clusters as made: capped by an amine, dispersed in an alkane (the top layer)."""

    material: Material = Field(description="CdS, CdSe or ZnSe")
    size: Literal[34] = Field(34, description="atoms of each element: (CdS)34")
    ligand: Ligand = Field("BTA", description="capping amine: BTA (butylamine) or OTA")
    solvent: SolventName = Field("hexane", description="hexane, or hexene for (CdSe)34")
    concentration: ClusterConcentration = Field(
        description="cluster concentration, molar ('20 uM') or mass ('0.1 mg/mL')")
    volume: Volume = Field(description="volume of cluster solution dispensed")


class SaltPhase(StrictModel):
    """The metal salt in a polar solvent (the bottom layer) that the clusters move into."""

    compound: SaltName = Field(description="ZnCl2, Zn(NO3)2, Zn(OTf)2, Zn(OAc)2, InCl3, In(NO3)3; "
                                      "'Zn(NO3)2·6H2O' also sets the hydrate",
                          json_schema_extra={"examples": list(SALTS)})
    hydrate: int = Field(0, ge=0, le=12, description="waters per formula unit (0 = anhydrous)")
    solvent: SolventName = Field("DMF", description="polar solvent: DMF, NMF, ...")
    concentration: SaltConcentration = Field(
        description="salt concentration, molar ('0.05 M') or mass ('6.8 mg/mL', converted with "
                    "the molar mass of the form weighed, hydrate included)")
    volume: Volume = Field(description="volume of salt solution dispensed")

    @model_validator(mode="after")
    def _to_molar(self) -> SaltPhase:
        """A mass concentration becomes the molar one it stands for (the journal keeps the text
        as written; every number downstream is molar)."""
        c = self.concentration
        if c.check("[mass] / [length] ** 3"):
            salt, _ = find_salt(self.compound)
            mass = salt.molar_masses.get(self.hydrate)
            if mass is None:
                known = ", ".join(map(str, salt.molar_masses))
                raise ValueError(f"a mass concentration needs the molar mass of the form "
                                 f"weighed: {salt.name} has no known hydrate with "
                                 f"{self.hydrate} H2O (known hydrates: {known})")
            self.concentration = (c / ureg().Quantity(mass.value, "g/mol")).to("M")
        return self

    @model_validator(mode="before")
    @classmethod
    def _split_hydrate(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("compound"), str):
            try:
                salt, hydrate = find_salt(data["compound"])
            except UnknownNameError:
                return data
            data = {**data, "compound": salt.name}
            if hydrate is not None:
                if "hydrate" in data and data["hydrate"] != hydrate:
                    raise ValueError(f"compound says {hydrate} H2O but hydrate says "
                                     f"{data['hydrate']}")
                data["hydrate"] = hydrate
        return data



class Exchange(StrictModel):
    """Stirring the two phases together, sampled at intervals until transfer is confirmed."""

    stir_rate: StirRate = Field("1000 rpm", description="'vigorous stirring' in the paper")
    temperature: Temperature = Field("25 degC", description="room temperature in the paper")
    max_time: Duration = Field("30 min", description="stop stirring and decide by then")
    sampling_interval: Duration = Field("2 min", description="stirring between samples (up "
                                        "to 3x when the run's own rate predicts completion "
                                        "further away)")
    settle_time: Duration = Field("1 min", description="stirring off before sampling, so the "
                                                       "phases separate")


class Bands(StrictModel):
    """Band positions watched in each phase, strongest first; paired in order."""

    nonpolar: list[Wavelength] = Field(min_length=1, max_length=4)
    polar: list[Wavelength] = Field(min_length=1, max_length=4)


class Thresholds(StrictModel):
    """Numbers behind the verdicts (DESIGN.md §4). Defaults are assumed, not from the paper."""

    complete_fraction: Fraction = Field(0.05, description="source-phase amount left, as a "
                                                          "fraction of the initial, for complete")
    mass_balance_tolerance: Fraction = Field(0.35, description="relative mismatch allowed "
                                                               "between phases")
    scatter_limit: float = Field(0.05, gt=0, le=2, description="absorbance of scatter in the "
                                                               "window clusters do not absorb")
    stall_change: Fraction = Field(0.02, description="change in source amount (fraction of "
                                                     "initial) below which transfer stalls")
    stall_samples: int = Field(3, ge=2, le=20, description="samples the stall rule looks back")
    degraded_broadening: float = Field(1.5, gt=1, le=5, description="band width ratio to the "
                                                                    "initial that means damage")
    degraded_loss: Fraction = Field(0.06, description="fraction of clusters lost without "
                                                     "scatter that means damage")
    band_tolerance: WavelengthTolerance = Field("3 nm", description="band position tolerance")


class Recovery(StrictModel):
    """Bounds on what the robot tries by itself before it asks the operator about a sample it
    cannot read (``0`` turns an action off). Defaults suit the paper's system: a 1.5 mL DMF
    layer leaves room to draw 2 mm lower, a 20 uL rinse is a fifth of a 2 mm cell's fill."""

    resample: int = Field(2, ge=0, le=5, description="fresh draws of the polar phase, each "
                          "1 mm further below the interface with a fresh tip (a dragged film)")
    flushes: int = Field(2, ge=0, le=5, description="rinses of the flow cell with the phase's "
                         "blank before a refill (air in the cell, carry-over)")
    settle_max: NonNegativeDuration = Field("10 min", description="longest settling before a "
                                            "sample, reached in steps from settle_time (a slow "
                                            "emulsion); at or below settle_time: off")
    scans_max: int = Field(16, ge=0, le=64, description="most reads of one sample averaged "
                           "(noise falls as the square root); 0 or 1: off")


class Monitoring(StrictModel):
    """What the inline UV-vis measures and how the verdicts are reached."""

    phases: list[Phase] = Field(["nonpolar", "polar"], min_length=1, max_length=2)
    sample_volume: Volume = Field("20 uL", description="drawn from each phase per sample")
    return_samples: bool = Field(False, description="return each sample to its phase after "
                                                    "measuring")
    bands: Bands | None = Field(None, description="defaults from the chemistry knowledge base")
    blanks: list[Blank] | None = Field(None, description="defaults: every blank the run needs")
    n_confirm: int = Field(2, ge=1, le=10, description="consecutive samples that must agree")
    thresholds: Thresholds = Field(default_factory=Thresholds)
    recovery: Recovery = Field(default_factory=Recovery)


class Extend(StrictModel):
    action: Literal["extend"]
    by: Duration = Field("10 min", description="more stirring per extension")
    times: int = Field(1, ge=1, le=10)


class AddSalt(StrictModel):
    action: Literal["add_salt"]
    volume: Volume = Field("100 uL", description="salt solution added each time")
    times: int = Field(1, ge=1, le=5, description="bound on additions")


class Stop(StrictModel):
    action: Literal["stop"]


StallAction = Annotated[Extend | AddSalt | Stop, Field(discriminator="action")]


def _stall_shorthand(value: Any) -> Any:
    if isinstance(value, str):
        return [{"action": value}]
    if isinstance(value, list):
        return [{"action": v} if isinstance(v, str) else v for v in value]
    return value


class BackExchangeConfirm(StrictModel):
    position_tolerance: WavelengthTolerance = Field(
        "3 nm", description="bands back within this of the run's own pre-exchange spectrum")
    min_recovery: Fraction = Field(0.8, description="fraction of the pre-exchange amount "
                                                    "back in the alkane phase")
    n_confirm: int = Field(2, ge=1, le=10)


class BackExchange(StrictModel):
    """OLA pulls the clusters back into the alkane phase ('immediate' in the paper)."""

    enabled: bool = True
    ola: ReagentAmount = Field("50 uL", description="oleylamine, volume or moles")
    hexane_volume: NonNegativeVolume = Field("1 mL", description="fresh alkane added first")
    stir_rate: StirRate | None = Field(None, description="default: the exchange stir rate")
    stir_time: Duration = Field("2 min")
    settle_time: Duration = Field("1 min")
    max_time: Duration = Field("10 min")
    confirm: BackExchangeConfirm = Field(default_factory=BackExchangeConfirm)


Characterisation = Literal["PL", "PLE", "ECL", "ICP-OES", "FTIR", "TGA", "Raman", "LDI-MS"]


class Recipe(StrictModel):
    """One biphasic ligand exchange, and optionally its OLA back-exchange."""

    recipe_version: Literal[1] = RECIPE_VERSION
    name: str = Field(min_length=1, max_length=80,
                      pattern=r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029]+$")
    description: str = Field("", max_length=4000,
                             pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]*$")
    cluster: ClusterPhase
    salt: SaltPhase
    vessel: VesselName = DEFAULT_VESSEL
    exchange: Exchange = Field(default_factory=Exchange)
    monitoring: Monitoring = Field(default_factory=Monitoring)
    on_stall: Annotated[list[StallAction], BeforeValidator(_stall_shorthand)] = Field(
        default_factory=lambda: [Extend(action="extend"), Stop(action="stop")],
        min_length=1, max_length=6,
        description="what to do, in order, when transfer stalls; 'stop' asks the operator")
    back_exchange: BackExchange = Field(default_factory=BackExchange)
    characterisation: list[Characterisation] = Field(
        default_factory=list, description="off-line measurements planned (recorded only)")

    @model_validator(mode="after")
    def _defaults_from_chemistry(self) -> Recipe:
        """Fill band positions and blanks the chemist left out from the knowledge base."""
        if self.monitoring.bands is None:
            cluster = CLUSTERS[f"{self.cluster.material}{self.cluster.size}"]
            q = ureg().Quantity
            self.monitoring.bands = Bands(
                nonpolar=[q(f.value, "nm") for f in cluster.bands_nonpolar],
                polar=[q(f.value, "nm") for f in cluster.bands_polar],
            )
        if self.monitoring.blanks is None:
            blanks: list[Blank] = ["polar_salt", "nonpolar"]
            if self.back_exchange.enabled:
                blanks.append("nonpolar_ola")
            self.monitoring.blanks = blanks
        return self

    # Derived numbers used by checks, the planner and the twin.

    def cluster_moles(self) -> pint.Quantity:
        c = self.cluster.concentration
        if c.check("[mass] / [length] ** 3"):
            cluster = CLUSTERS[f"{self.cluster.material}{self.cluster.size}"]
            c = c / ureg().Quantity(cluster.molar_mass_with_shell_g_per_mol, "g/mol")
        return (c * self.cluster.volume).to("nmol")

    def metal_moles(self, salt_volume: pint.Quantity | None = None) -> pint.Quantity:
        salt, _ = find_salt(self.salt.compound)
        volume = self.salt.volume if salt_volume is None else salt_volume
        return (self.salt.concentration * volume * salt.metal_per_formula).to("nmol")

    def equivalents_per_cluster(self) -> float:
        """Metal ions per cluster in the vial at the start."""
        clusters = float(self.cluster_moles().m_as("nmol"))
        metal = float(self.metal_moles().m_as("nmol"))
        return metal / clusters if clusters > 0 else float("inf")
