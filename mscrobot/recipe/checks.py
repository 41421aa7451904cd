"""Chemistry checks that span fields, run before anything touches a lab.

Each finding is a ``Finding`` with the field it belongs to, so the loader can point at the line.
Errors make a recipe unusable; warnings say where it leaves what the paper shows or is likely to
disappoint (too little salt for a full transfer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from mscrobot.chemistry import CLUSTERS, find_salt, find_solvent
from mscrobot.chemistry.uptake import SHARPNESS, bound_loading, carried_fraction, equivalents_for
from mscrobot.recipe.amounts import amounts, ola_volume_ul
from mscrobot.recipe.models import AddSalt, Recipe
from mscrobot.recipe.timings import timings
from mscrobot.recipe.vessels import VIAL_TYPES
from mscrobot.spectra.correction import MAX_RELIABLE_ABSORBANCE
from mscrobot.units import format_quantity as fq
from mscrobot.yamldoc import Location

#: Bands must sit this far above a solvent's UV cutoff to be measurable (assumed).
CUTOFF_MARGIN_NM = 10.0
#: Temperature must stay this far below the lowest boiling point (assumed).
BOILING_MARGIN_C = 10.0
#: At most this fraction of a phase may be drawn off by monitoring samples (assumed).
MAX_SAMPLED_FRACTION = 0.5
#: Salt absorbance (per cm) above which a salt blank is required at a band (assumed).
SALT_ABSORBANCE_LIMIT = 0.5


#: The flow cell's optical path (cm) a recipe is judged against without a lab (the shipped
#: labs' cell; assumed).
DEFAULT_PATH_CM = 0.2
#: A first band above this in the cell is beyond what any integration time reads (the analysis
#: flags reads over it: noise and stray light set the number).
UNREADABLE_AU = MAX_RELIABLE_ABSORBANCE
#: Above this, reads are dark and noisy: a warning.
DARK_AU = 1.5
#: The confirmation threshold (5 % left) of a first band below this is within ~3x the noise
#: of a read (~1 mAU): a warning.
FAINT_AU = 0.06
#: Written bands within this of another material's (and not of the recipe's own) are that
#: material's bands pasted in.
OTHER_MATERIAL_NM = 3.0
#: Polar solvents toluene mixes with in all proportions (handbook).
TOLUENE_MISCIBLE = frozenset({"DMF", "DMSO", "acetonitrile", "acetone"})


@dataclass(frozen=True, slots=True)
class Finding:
    loc: Location
    message: str
    severity: Literal["error", "warning"] = "error"


def check_recipe(recipe: Recipe) -> list[Finding]:
    """Every cross-field problem in ``recipe``: errors first in field order, then warnings."""
    found: list[Finding] = []
    for check in (_phases, _hydrate, _equivalents, _paper_support, _temperature, _timing,
                  _volumes, _wavelengths, _band_species, readable, _back_exchange,
                  _stall_policy):
        found.extend(check(recipe))
    return sorted(found, key=lambda f: f.severity != "error")


def _phases(r: Recipe) -> list[Finding]:
    top, bottom = find_solvent(r.cluster.solvent), find_solvent(r.salt.solvent)
    out = []
    if top.name == "toluene" and bottom.name in TOLUENE_MISCIBLE:
        out.append(Finding(("cluster", "solvent"), f"toluene mixes with {bottom.name}: there "
                           "would be one phase, no upper layer to transfer from; use hexane or "
                           "hexene"))
    elif top.name == "toluene":
        out.append(Finding(("cluster", "solvent"), "toluene is not an alkane: the exchange is "
                           "shown from hexane or hexene only; use hexane or hexene"))
    elif top.role != "nonpolar" or not top.miscible_with_alkanes.value:
        out.append(Finding(("cluster", "solvent"), f"{top.name} cannot hold the clusters as "
                           "the upper alkane phase; use hexane or hexene"))
    if bottom.role != "polar":
        out.append(Finding(("salt", "solvent"), f"{bottom.name} is not a polar solvent; the "
                           "salt phase must be polar (DMF, NMF, ...)"))
    elif bottom.miscible_with_alkanes.value:
        out.append(Finding(("salt", "solvent"), f"{bottom.name} mixes with {top.name}: there is "
                           "no second phase to transfer into; use DMF or NMF"))
    elif bottom.density_g_per_ml.value <= top.density_g_per_ml.value:
        out.append(Finding(("salt", "solvent"), f"{bottom.name} "
                           f"({bottom.density_g_per_ml.value} g/mL) is not denser than "
                           f"{top.name} ({top.density_g_per_ml.value} g/mL); the salt phase "
                           "must be the bottom layer"))
    return out


def _hydrate(r: Recipe) -> list[Finding]:
    salt, _ = find_salt(r.salt.compound)
    if r.salt.hydrate in salt.molar_masses:
        return []
    known = ", ".join(map(str, sorted(salt.molar_masses)))
    return [Finding(("salt", "hydrate"), f"{salt.name} with {r.salt.hydrate} H2O is not in "
                    f"the knowledge base; known hydrates: {known}")]


#: The dose–response must leave at most this fraction of ``complete_fraction`` in the alkane:
#: the rest is room for a read's noise and the confirmation's 2-sd margin (assumed).
DOSE_MARGIN = 0.5


def dose_needed(r: Recipe) -> float:
    """Metal ions per cluster below which the recipe's transfer may stall short of its
    confirmation: from the dose–response the twin runs (``chemistry.uptake``)."""
    cluster = CLUSTERS[f"{r.cluster.material}{r.cluster.size}"]
    salt, _ = find_salt(r.salt.compound)
    left = DOSE_MARGIN * r.monitoring.thresholds.complete_fraction
    return equivalents_for(1.0 - left, bound_loading(cluster, salt).value)


def _equivalents(r: Recipe) -> list[Finding]:
    cluster = CLUSTERS[f"{r.cluster.material}{r.cluster.size}"]
    salt, _ = find_salt(r.salt.compound)
    eq = r.equivalents_per_cluster()
    needed = dose_needed(r)
    if eq >= needed:
        return []
    loading = bound_loading(cluster, salt)
    bound = {"paper": "the paper found bound", "derived": "bound (derived from the paper's Zn "
             "content)"}.get(loading.source, f"bound ({loading.source})")
    carried = carried_fraction(eq, loading.value)
    shape = (f"the dose–response ({SHARPNESS.source}, chemistry/uptake.py) carries "
             f"~{carried:.0%} across")
    if eq < loading.value:
        return [Finding(("salt", "concentration"), f"{eq:.3g} {salt.metal} per cluster is below "
                        f"the ~{loading.value:g} {bound} per ({cluster.material}){cluster.size} "
                        f"cluster; expect a partial, stalled transfer: {shape}", "warning")]
    target = r.monitoring.thresholds.complete_fraction
    enough = math.ceil(needed * 10) / 10
    return [Finding(("salt", "concentration"), f"{eq:.3g} {salt.metal} per cluster is barely "
                    f"above the ~{loading.value:g} {bound} per ({cluster.material})"
                    f"{cluster.size} cluster: {shape}, and the transfer may stall short of the "
                    f"{target:.0%} left that confirms it; use at least ~{enough:g}", "warning")]


def _paper_support(r: Recipe) -> list[Finding]:
    out = _exchange_solvent(r)
    cluster_key = f"{r.cluster.material}{r.cluster.size}"
    salt, _ = find_salt(r.salt.compound)
    if salt.assumed:
        return [*out, Finding(("salt", "compound"), f"{salt.name}: {salt.transfers.note}; the "
                        "exchange is an assumption, not a result", "warning")]
    if cluster_key not in salt.transfers.value:
        shown = ", ".join(salt.transfers.value)
        return [*out, Finding(("salt", "compound"), f"the paper shows {salt.name} transferring "
                        f"{shown}, not {cluster_key}", "warning")]
    return out


def _exchange_solvent(r: Recipe) -> list[Finding]:
    """The paper runs the exchange in DMF only (it redisperses in NMF): another polar phase's
    partition, kinetics and band positions are assumed."""
    solvent = find_solvent(r.salt.solvent)
    if solvent.name == "DMF" or solvent.role != "polar" or solvent.miscible_with_alkanes.value:
        return []  # DMF, or already refused by the phase check
    return [Finding(("salt", "solvent"), f"the paper runs the exchange in DMF only: in "
                    f"{r.salt.solvent} the transfer, its rate and the band positions are "
                    "assumed", "warning")]


def _temperature(r: Recipe) -> list[Finding]:
    t = r.exchange.temperature.m_as("degC")
    out = []
    for name in (r.cluster.solvent, r.salt.solvent):
        bp = find_solvent(name).boiling_point_c.value
        if t > bp - BOILING_MARGIN_C:
            out.append(Finding(("exchange", "temperature"), f"{t:g} °C is too close to the "
                               f"boiling point of {name} ({bp:g} °C)"))
    return out


def _timing(r: Recipe) -> list[Finding]:
    ex, mon = r.exchange, r.monitoring
    out = []
    if ex.sampling_interval > ex.max_time:
        out.append(Finding(("exchange", "sampling_interval"), "is longer than max_time: no "
                           "sample would be taken"))
    elif mon.n_confirm * ex.sampling_interval > ex.max_time:
        out.append(Finding(("monitoring", "n_confirm"), f"{mon.n_confirm} confirmations at "
                           f"one per {fq(ex.sampling_interval)} do not fit in max_time "
                           f"{fq(ex.max_time)}"))
    if ex.settle_time >= ex.max_time:
        out.append(Finding(("exchange", "settle_time"), "is as long as max_time"))
    return out


def samples_per_phase(r: Recipe) -> int:
    """Most monitoring samples one phase can give: forward stage with every extension, blanks
    excluded, plus the back-exchange confirmations."""
    tm = timings(r)
    forward = 1 + math.ceil(tm.max_forward_stir_s / tm.sampling_interval_s)
    back = 0
    if r.back_exchange.enabled:
        back = 1 + math.ceil(tm.back_max_s / tm.back_stir_s)
    return forward + back


def _volumes(r: Recipe) -> list[Finding]:
    vessel = VIAL_TYPES[r.vessel]
    ul = {
        "cluster": r.cluster.volume.m_as("uL"),
        "salt": r.salt.volume.m_as("uL"),
        "added salt": sum(a.volume.m_as("uL") * a.times for a in r.on_stall
                          if isinstance(a, AddSalt)),
        "OLA": ola_volume_ul(r) if r.back_exchange.enabled else 0.0,
        "fresh hexane": r.back_exchange.hexane_volume.m_as("uL") if r.back_exchange.enabled
        else 0.0,
    }
    out = []
    total = sum(ul.values())
    if total > vessel.max_fill_ml * 1000:
        parts = " + ".join(f"{v:g} uL {k}" for k, v in ul.items() if v)
        out.append(Finding(("vessel",), f"{parts} = {total:g} uL can exceed the "
                           f"{vessel.max_fill_ml * 1000:g} uL a {vessel.name} may be filled to"))
    if not r.monitoring.return_samples:
        n = samples_per_phase(r)
        drawn = n * r.monitoring.sample_volume.m_as("uL")
        for phase, loc in (("nonpolar", ("cluster", "volume")), ("polar", ("salt", "volume"))):
            if phase not in r.monitoring.phases:
                continue
            volume = ul["cluster"] if phase == "nonpolar" else ul["salt"]
            if drawn > MAX_SAMPLED_FRACTION * volume:
                out.append(Finding(loc, f"monitoring may draw {n} samples x "
                                   f"{fq(r.monitoring.sample_volume)} = {drawn:g} uL, more than "
                                   f"{MAX_SAMPLED_FRACTION:.0%} of this {volume:g} uL phase; "
                                   "use more volume, smaller samples or return_samples"))
    return out


def _wavelengths(r: Recipe) -> list[Finding]:
    bands = r.monitoring.bands
    assert bands is not None  # filled by the model from the knowledge base
    blanks = r.monitoring.blanks or []
    out = []
    if len(bands.nonpolar) != len(bands.polar):
        out.append(Finding(("monitoring", "bands"), "nonpolar and polar need the same number of "
                           "bands (paired in order)"))
    cluster = CLUSTERS[f"{r.cluster.material}{r.cluster.size}"]
    own = ([b.m_as("nm") for b in bands.nonpolar], [b.m_as("nm") for b in bands.polar])
    written = own != ([f.value for f in cluster.bands_nonpolar],
                      [f.value for f in cluster.bands_polar])
    for phase, solvent_name, values in (("nonpolar", r.cluster.solvent, bands.nonpolar),
                                        ("polar", r.salt.solvent, bands.polar)):
        solvent = find_solvent(solvent_name)
        cutoff = solvent.uv_cutoff_nm.value
        # the cluster's own bands (the knowledge base's, written or left out): the solvent
        # chosen is what makes them unreadable, so that is the line the finding points at
        field = "cluster" if phase == "nonpolar" else "salt"
        for i, band in enumerate(values):
            loc = ("monitoring", "bands", phase, i) if written else (field, "solvent")
            nm = band.m_as("nm")
            if cutoff is None:
                if phase == "polar" and "polar_salt" not in blanks:
                    out.append(Finding(loc, f"{solvent.name} has no dependable UV cutoff: "
                                       "measure the polar_salt blank"))
            elif nm < cutoff + CUTOFF_MARGIN_NM:
                which = "" if written else f"the cluster's {phase} band at "
                out.append(Finding(loc, f"{which}{nm:g} nm is hidden by {solvent.name}, which "
                                   f"absorbs below ~{cutoff:g} nm"))
    salt, _ = find_salt(r.salt.compound)
    if salt.absorption is not None and "polar" in r.monitoring.phases:
        a = salt.absorption
        scale = r.salt.concentration.m_as("M") / 0.1 * a.absorbance_per_cm_at_0_1_m
        for band in bands.polar:
            at_band = scale * math.exp(-0.5 * ((band.m_as("nm") - a.peak_nm) / a.half_width_nm)
                                       ** 2)
            if at_band > SALT_ABSORBANCE_LIMIT and "polar_salt" not in blanks:
                out.append(Finding(("monitoring", "blanks"), f"{salt.name} absorbs "
                                   f"~{at_band:.2g} AU/cm at {fq(band)}: measure the "
                                   "polar_salt blank"))
                break
    return out


def _back_exchange(r: Recipe) -> list[Finding]:
    be = r.back_exchange
    if not be.enabled:
        return []
    out = []
    if "nonpolar" not in r.monitoring.phases:
        out.append(Finding(("back_exchange", "enabled"), "the back-exchange is confirmed "
                           "against the run's own pre-exchange alkane spectrum: "
                           "monitoring.phases must include nonpolar"))
    salt, _ = find_salt(r.salt.compound)
    if salt.back_exchange.value is None:
        out.append(Finding(("back_exchange", "enabled"), f"{salt.back_exchange.note}; the "
                           "back-exchange is an assumption here", "warning"))
    if "nonpolar_ola" not in (r.monitoring.blanks or []):
        out.append(Finding(("monitoring", "blanks"), "technical OLA tints hexane in the near "
                           "UV: add the nonpolar_ola blank", "warning"))
    return out


#: An add_salt rung adding less than this fraction of the starting metal per cluster barely
#: changes the loading: a stall from too little salt would stay.
SMALL_DOSE_FRACTION = 0.25


def _band_species(r: Recipe) -> list[Finding]:
    """Bands written for the alkane phase that are another material's, not this one's."""
    bands = r.monitoring.bands
    assert bands is not None
    written = [float(b.m_as("nm")) for b in bands.nonpolar]
    own = CLUSTERS[f"{r.cluster.material}{r.cluster.size}"]
    for other in CLUSTERS.values():
        if other.material == own.material or not written:
            continue
        theirs = [f.value for f in other.bands_nonpolar]
        if (len(written) == len(theirs)
                and all(abs(w - x) <= OTHER_MATERIAL_NM for w, x in zip(written, theirs,
                                                                        strict=True))
                and any(abs(w - f.value) > OTHER_MATERIAL_NM
                        for w, f in zip(written, own.bands_nonpolar, strict=False))):
            shown = "/".join(f"{x:g}" for x in theirs)
            mine = "/".join(f"{f.value:g}" for f in own.bands_nonpolar)
            return [Finding(("monitoring", "bands", "nonpolar"), f"these are "
                            f"({other.material}){other.size}'s bands ({shown} nm); the recipe's "
                            f"clusters are ({own.material}){own.size} ({mine} nm)")]
    return []


def readable(r: Recipe, path_cm: float = DEFAULT_PATH_CM) -> list[Finding]:
    """The first band's absorbance in the flow cell, from the cluster concentration, the
    band's absorptivity (assumed) and the path: unreadable, dark or too faint to confirm."""
    cluster = CLUSTERS[f"{r.cluster.material}{r.cluster.size}"]
    epsilon = cluster.epsilon_first_band.value
    a = amounts(r)
    start = epsilon * a.cluster_um * 1e-6 * path_cm
    polar_ul = float(r.salt.volume.m_as("uL"))
    moved = epsilon * (a.cluster_nmol / polar_ul) * 1e-3 * path_cm if polar_ul > 0 else 0.0
    where = ("cluster", "concentration")
    peak = max(start, moved)
    said = (f"the first band would read {peak:.3g} AU in the {path_cm * 10:g} mm flow cell "
            f"(ε ≈ {epsilon:.0e} M⁻¹cm⁻¹, {cluster.epsilon_first_band.source})")
    if peak > UNREADABLE_AU:
        most = a.cluster_um * UNREADABLE_AU / peak
        return [Finding(where, f"{said}: beyond what any integration time reads; use at most "
                        f"~{most:.3g} µM")]
    if peak > DARK_AU:
        return [Finding(where, f"{said}: reads will be dark and noisy", "warning")]
    faint = min(start, moved)
    if faint < FAINT_AU:
        return [Finding(where, f"the first band would read {faint:.3g} AU in the "
                        f"{path_cm * 10:g} mm flow cell: 5 % of it, the confirmation "
                        "threshold, is within the noise of a read", "warning")]
    return []


def _stall_policy(r: Recipe) -> list[Finding]:
    out = []
    for i, action in enumerate(r.on_stall[:-1]):
        if action.action == "stop":
            out.append(Finding(("on_stall", i), "'stop' must be the last action: the ones after "
                               "it would never run"))
    salt = find_salt(r.salt.compound)[0]
    start = r.equivalents_per_cluster()
    for i, action in enumerate(r.on_stall):
        if not isinstance(action, AddSalt):
            continue
        added = start * float(action.volume / r.salt.volume)
        if added < SMALL_DOSE_FRACTION * start:
            out.append(Finding(("on_stall", i, "volume"), f"each add_salt rung doses "
                               f"{fq(action.volume)} of the same salt stock "
                               f"({fq(r.salt.concentration)}): +{added:.3g} {salt.metal} per "
                               f"cluster on the {start:.3g} at the start, too little to end a "
                               "stall from too little salt", "warning"))
    return out
