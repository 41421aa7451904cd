"""Can this lab do this recipe? Checked before any step, with every reason at once.

A lab without a vessel the plan uses, a stock too small, a reaction vessel that would overflow,
a stirrer too slow or a spectrometer blind to the bands is refused, and nothing has been
touched. Pure: reads the lab config and the recipe only.
"""

from __future__ import annotations

from mscrobot.lab.config import LabConfig
from mscrobot.procedure.plan import DECK_ROLES, worst_case_volumes
from mscrobot.procedure.reading import analysis_windows
from mscrobot.recipe.models import Recipe
from mscrobot.recipe.vessels import VIAL_TYPES

#: The simulated stirrer's top speed when the lab file gives none (a typical hotplate stirrer).
DEFAULT_MAX_RPM = 1500.0


def capacities(config: LabConfig, recipe: Recipe) -> dict[str, float]:
    out = {}
    for name, pos in config.deck.items():
        if pos.capacity is not None:
            out[name] = float(pos.capacity.m_as("uL"))
        elif name == "reaction":
            out[name] = VIAL_TYPES[recipe.vessel].max_fill_ml * 1000.0
        else:
            out[name] = float("inf")
    return out


def check_lab(config: LabConfig, recipe: Recipe) -> list[str]:
    """Every reason this lab cannot run this recipe (empty: it can)."""
    problems = [f"deck has no '{v}' position" for v in DECK_ROLES if v not in config.deck]
    if problems:
        return problems
    caps = capacities(config, recipe)
    need = worst_case_volumes(recipe)
    for stock in ("salt_stock", "cluster_stock", "hexane_stock", "ola_stock"):
        have = float(config.deck[stock].volume.m_as("uL"))
        if need[stock] > have + 1e-9:
            problems.append(f"{stock} holds {have:.0f} µL; the recipe may need "
                            f"{need[stock]:.0f} µL")
    if need["reaction"] > caps["reaction"] + 1e-9:
        problems.append(f"the reaction vessel holds at most {caps['reaction']:.0f} µL; the "
                        f"recipe may fill it with {need['reaction']:.0f} µL")
    if need["flow_cell"] > caps["flow_cell"] + 1e-9:
        problems.append(f"the flow cell holds {caps['flow_cell']:.0f} µL; samples are "
                        f"{need['flow_cell']:.0f} µL")
    rpms = [float(recipe.exchange.stir_rate.m_as("rpm"))]
    if recipe.back_exchange.enabled and recipe.back_exchange.stir_rate is not None:
        rpms.append(float(recipe.back_exchange.stir_rate.m_as("rpm")))
    top = stirrer_max_rpm(config)
    problems += [f"the stirrer reaches {top:.0f} rpm; the recipe asks {r:.0f} rpm"
                 for r in rpms if r > top]
    w = analysis_windows(recipe)
    lo, hi = (float(config.spectrometer.range_min.m_as("nm")),
              float(config.spectrometer.range_max.m_as("nm")))
    if w.window[0] < lo or w.scatter_window[1] > hi:
        problems.append(f"the spectrometer covers {lo:.0f}–{hi:.0f} nm; the analysis needs "
                        f"{w.window[0]:.0f}–{w.scatter_window[1]:.0f} nm")
    if config.liquid_handler.backend == "opentrons":
        from mscrobot.lab.opentrons.layout import check_deck

        problems += check_deck(config, recipe.vessel)
    return problems


def lab_warnings(config: LabConfig, recipe: Recipe) -> list[str]:
    """What this lab will not do of the recipe although it can run it (shown as the run starts
    and kept in its record)."""
    st, out = config.stirrer, []
    if st.backend == "ika":
        temp = f"{float(recipe.exchange.temperature.m_as('degC')):g} °C"
        out.append(f"the stirrer has no temperature probe (stirrer.temperature_probe: false): "
                   f"the recipe's {temp} drives nothing and is not measured; the heater is "
                   "kept off" if not st.temperature_probe else
                   f"the heater is kept off (mscrobot does not heat): the vial's probe is read "
                   f"at start and must be within {PROBE_TOLERANCE_C:g} °C of the recipe's "
                   f"{temp}")
    return out


#: How far the probe's reading at start may be from the recipe's temperature (°C, assumed).
PROBE_TOLERANCE_C = 5.0


def stirrer_max_rpm(config: LabConfig) -> float:
    st = config.stirrer
    if st.max_rpm is not None:
        return float(st.max_rpm.m_as("rpm"))
    if st.backend == "ika":
        from mscrobot.lab.stirrer.profiles import load_profile

        return load_profile(st.profile).max_rpm
    return DEFAULT_MAX_RPM
