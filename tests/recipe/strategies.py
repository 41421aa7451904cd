"""Hypothesis strategies for recipes: valid ones in the spellings chemists use, and garbage.

``valid_recipe_dicts()`` builds plain, YAML-ready dicts (quantities as text in varied units)
whose numbers are chosen so the cross-field checks in ``mscrobot.recipe.checks`` usually pass:
the vessel is one the liquids fit in, the monitoring samples fit in the phases, timings nest.
``yamlish()`` is arbitrary JSON/YAML-like data; ``mutated_recipe_dicts()`` is a valid recipe
with one field deleted or replaced by garbage, or an unknown key added;
``corrupted_recipe_texts()`` is the YAML text of a valid recipe with a random edit.
"""

from __future__ import annotations

import copy
import io
import json
import math
import re
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st
from ruamel.yaml import YAML

from mscrobot.chemistry import SOLVENTS
from mscrobot.recipe.vessels import DEFAULT_VESSEL, VESSELS

Path = tuple[str | int, ...]

# --- numbers written with a unit ---------------------------------------------------------------

#: (spelling, size of one of it in the base unit). Base units: uL, M, mg/mL, rpm, s, nm, umol.
VOLUME_UNITS = [("uL", 1.0), ("µL", 1.0), ("μL", 1.0), ("ul", 1.0), ("mL", 1e3), ("ml", 1e3),
                ("L", 1e6), ("nL", 1e-3), ("cc", 1e3), ("cm^3", 1e3)]
MOLAR_UNITS = [("M", 1.0), ("mM", 1e-3), ("uM", 1e-6), ("µM", 1e-6), ("nM", 1e-9),
               ("mol/L", 1.0), ("mmol/L", 1e-3), ("umol/L", 1e-6)]
MASS_CONC_UNITS = [("mg/mL", 1.0), ("g/L", 1.0), ("ug/mL", 1e-3), ("µg/uL", 1.0)]
RATE_UNITS = [("rpm", 1.0), ("Hz", 60.0), ("revolution/minute", 1.0)]
TIME_UNITS = [("s", 1.0), ("sec", 1.0), ("min", 60.0), ("h", 3600.0), ("hr", 3600.0),
              ("ms", 1e-3)]
LENGTH_UNITS = [("nm", 1.0), ("um", 1e3), ("µm", 1e3), ("pm", 1e-3), ("angstrom", 0.1)]
AMOUNT_UNITS = [("umol", 1.0), ("µmol", 1.0), ("nmol", 1e-3), ("mmol", 1e3)]

_NUMBER_FORMATS: list[Callable[[float], str]] = [
    lambda x: f"{x:.6g}",
    lambda x: repr(float(f"{x:.6g}")),
    lambda x: f"{x:.4e}",
    lambda x: f"+{x:.6g}",
]


@st.composite
def quantity_text(draw: st.DrawFn, value: float, units: list[tuple[str, float]]) -> str:
    """``value`` (in the base unit of ``units``) written in one of ``units``, e.g. '1.5 mL'."""
    spelling, size = draw(st.sampled_from(units))
    number = draw(st.sampled_from(_NUMBER_FORMATS))(value / size)
    space = draw(st.sampled_from([" ", " ", "", "  "]))
    return f"{number}{space}{spelling}"


@st.composite
def temperature_text(draw: st.DrawFn, celsius: float) -> str:
    kind = draw(st.sampled_from(["degC", "°C", "K", "degF"]))
    if kind == "K":
        return f"{celsius + 273.15:.6g} K"
    if kind == "degF":
        return f"{celsius * 1.8 + 32:.6g} degF"
    return f"{celsius:.6g} {kind}"


def _nice(lo: float, hi: float, places: int = 2) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False).map(
        lambda x: min(max(round(x, places), lo), hi))


# --- the chemistry a valid recipe may use -------------------------------------------------------

MATERIALS = ["CdS", "CdSe", "ZnSe"]
LIGANDS = {"BTA": ["BTA", "bta", "butylamine", "Butylamine"],
           "OTA": ["OTA", "ota", "octylamine"]}
CLUSTER_SOLVENTS = {"hexane": ["hexane", "n-hexane", "Hexane"], "hexene": ["hexene", "1-hexene"]}
POLAR_SOLVENTS = {"DMF": ["DMF", "dmf", "N,N-dimethylformamide"],
                  "NMF": ["NMF", "N-methylformamide"], "DMSO": ["DMSO", "dimethyl sulfoxide"]}
#: salt -> (hydrates allowed, other spellings)
SALT_CHOICES: dict[str, tuple[tuple[int, ...], tuple[str, ...]]] = {
    "ZnCl2": ((0,), ("zinc chloride", "zncl2")),
    "Zn(NO3)2": ((0, 6), ("zinc nitrate",)),
    "Zn(OTf)2": ((0,), ("zinc triflate",)),
    "Zn(OAc)2": ((0, 2), ("zinc acetate",)),
    "InCl3": ((0, 4), ("indium chloride",)),
    "In(NO3)3": ((0,), ("indium nitrate",)),
}
BLANKS = ["polar_salt", "nonpolar", "nonpolar_ola"]
CHARACTERISATION = ["PL", "PLE", "ECL", "ICP-OES", "FTIR", "TGA", "Raman", "LDI-MS"]
DEFAULT_BANDS_OK_MIN_NM = 250.0
#: Margin (nm) the checks want between a band and the solvent's UV cutoff, plus slack.
CUTOFF_MARGIN_NM = 15.0

_NAME_CHARS = st.characters(blacklist_categories=("Cc", "Cs"))
NAMES = st.one_of(
    st.sampled_from(["CdS34 with ZnCl2", "(CdSe)34 with Zn(OAc)2·2H2O in DMF", "run 7",
                     "yes", "null", "123", "1.5", "- x", "# not a comment", "a: b", "'q'",
                     "~", "@home", "%TAG", "!tag", "&anchor", "*alias", "[x]", "{y}", "Ünïcødé"]),
    st.text(_NAME_CHARS, min_size=1, max_size=60).filter(lambda s: s.strip()),
)
DESCRIPTIONS = st.one_of(
    st.just(""),
    st.text(max_size=200),
    st.sampled_from(["line one\nline two\n", "  leading", "trailing  ", "tab\there", "a: b",
                     "# hash", "\u2028", "x\u0085y", "\ufeffbom", "\\n literal"]),
)


def _maybe_key(draw: st.DrawFn, out: dict[str, Any], key: str, text: Any,
               needed: bool = False) -> None:
    """Write ``key`` if it is needed (value differs from the default), else at random."""
    if needed or draw(st.booleans()):
        out[key] = text


@st.composite
def _band_list(draw: st.DrawFn, n: int, low_nm: float) -> list[str]:
    return [draw(quantity_text(draw(_nice(low_nm, 800.0, 1)), LENGTH_UNITS)) for _ in range(n)]


@st.composite
def valid_recipe_dicts(draw: st.DrawFn) -> dict[str, Any]:
    """A recipe as a plain dict that usually passes every check (tests ``assume`` the rest)."""
    recipe: dict[str, Any] = {}
    if draw(st.booleans()):
        recipe["recipe_version"] = 1
    recipe["name"] = draw(NAMES)
    if draw(st.booleans()):
        recipe["description"] = draw(DESCRIPTIONS)

    # Cluster phase (top).
    material = draw(st.sampled_from(MATERIALS))
    ligand = draw(st.sampled_from(sorted(LIGANDS)))
    top = draw(st.sampled_from(sorted(CLUSTER_SOLVENTS)))
    cluster_ul = draw(_nice(500.0, 2500.0, 0))
    cluster: dict[str, Any] = {
        "material": draw(st.sampled_from([material, material.lower(), material.upper()])),
    }
    if draw(st.booleans()):
        cluster["size"] = 34
    _maybe_key(draw, cluster, "ligand", draw(st.sampled_from(LIGANDS[ligand])),
               needed=ligand != "BTA")
    _maybe_key(draw, cluster, "solvent", draw(st.sampled_from(CLUSTER_SOLVENTS[top])),
               needed=top != "hexane")
    if draw(st.booleans()):
        cluster["concentration"] = draw(quantity_text(draw(_nice(2e-6, 1e-4, 7)), MOLAR_UNITS))
    else:
        cluster["concentration"] = draw(quantity_text(draw(_nice(0.01, 2.0, 3)),
                                                      MASS_CONC_UNITS))
    cluster["volume"] = draw(quantity_text(cluster_ul, VOLUME_UNITS))
    recipe["cluster"] = dict(draw(st.permutations(list(cluster.items()))))

    # Salt phase (bottom).
    salt_name = draw(st.sampled_from(sorted(SALT_CHOICES)))
    hydrates, spellings = SALT_CHOICES[salt_name]
    hydrate = draw(st.sampled_from(hydrates))
    bottom = draw(st.sampled_from(sorted(POLAR_SOLVENTS)))
    salt_ul = draw(_nice(500.0, 2500.0, 0))
    salt: dict[str, Any] = {}
    how = draw(st.sampled_from(["field", "formula", "both"]))
    if hydrate and how != "field":
        dot = draw(st.sampled_from(["·", ".", "*", " · "]))
        salt["compound"] = f"{salt_name}{dot}{hydrate}H2O"
        if how == "both":
            salt["hydrate"] = hydrate
    else:
        salt["compound"] = draw(st.sampled_from([salt_name, *spellings]))
        _maybe_key(draw, salt, "hydrate", hydrate, needed=hydrate != 0)
    _maybe_key(draw, salt, "solvent", draw(st.sampled_from(POLAR_SOLVENTS[bottom])),
               needed=bottom != "DMF")
    salt["concentration"] = draw(quantity_text(draw(_nice(0.005, 0.5, 4)), MOLAR_UNITS))
    salt["volume"] = draw(quantity_text(salt_ul, VOLUME_UNITS))
    recipe["salt"] = dict(draw(st.permutations(list(salt.items()))))

    # Exchange: max_time >= n_confirm * sampling_interval, settle_time < max_time.
    n_confirm = draw(st.integers(1, 5))
    max_s = draw(_nice(600.0, 5400.0, 0))
    interval_s = draw(_nice(30.0, min(600.0, 0.95 * max_s / n_confirm), 0))
    settle_s = draw(_nice(5.0, min(300.0, 0.5 * max_s), 0))
    exchange: dict[str, Any] = {}
    _maybe_key(draw, exchange, "stir_rate", draw(quantity_text(draw(_nice(100, 2500, 0)),
                                                               RATE_UNITS)))
    _maybe_key(draw, exchange, "temperature", draw(temperature_text(draw(_nice(4, 45, 1)))))
    _maybe_key(draw, exchange, "max_time", draw(quantity_text(max_s, TIME_UNITS)),
               needed=max_s != 1800)
    _maybe_key(draw, exchange, "sampling_interval", draw(quantity_text(interval_s, TIME_UNITS)),
               needed=interval_s != 120)
    _maybe_key(draw, exchange, "settle_time", draw(quantity_text(settle_s, TIME_UNITS)),
               needed=settle_s != 60)
    if exchange or draw(st.booleans()):
        recipe["exchange"] = exchange

    # Stall policy: extend/add_salt in any order, 'stop' only last.
    on_stall: list[Any] = []
    extend_s = 0.0
    added_ul = 0.0
    default_policy = draw(st.booleans())
    if default_policy:
        extend_s = 600.0
    else:
        for kind in draw(st.lists(st.sampled_from(["extend", "add_salt"]), max_size=4)):
            times = draw(st.integers(1, 3))
            if kind == "extend":
                by_s = draw(_nice(60.0, 1200.0, 0))
                extend_s += by_s * times
                action: Any = {"action": "extend", "by": draw(quantity_text(by_s, TIME_UNITS)),
                               "times": times}
                if by_s == 600 and times == 1 and draw(st.booleans()):
                    action = draw(st.sampled_from(["extend", {"action": "extend"}]))
            else:
                volume_ul = draw(_nice(20.0, 300.0, 0))
                added_ul += volume_ul * times
                action = {"action": "add_salt",
                          "volume": draw(quantity_text(volume_ul, VOLUME_UNITS)),
                          "times": times}
                if volume_ul == 100 and times == 1 and draw(st.booleans()):
                    action = draw(st.sampled_from(["add_salt", {"action": "add_salt"}]))
            on_stall.append(action)
        if not on_stall or draw(st.booleans()):
            on_stall.append(draw(st.sampled_from(["stop", {"action": "stop"}])))
        if on_stall == ["stop"] and draw(st.booleans()):
            recipe["on_stall"] = "stop"
        else:
            recipe["on_stall"] = on_stall

    # Back-exchange.
    enabled = draw(st.booleans())
    back: dict[str, Any] = {}
    ola_ul = hexane_ul = 0.0
    be_max_s = be_stir_s = 0.0
    if enabled:
        _maybe_key(draw, back, "enabled", True)
        if draw(st.booleans()):
            ola_ul = draw(_nice(10.0, 100.0, 0))
            back["ola"] = draw(quantity_text(ola_ul, VOLUME_UNITS))
        elif draw(st.booleans()):
            umol = draw(_nice(30.0, 300.0, 1))
            ola_ul = umol * 267.49 / 0.813 / 1000.0 * 1.01
            back["ola"] = draw(quantity_text(umol, AMOUNT_UNITS))
        else:
            ola_ul = 50.0
        hexane_ul = draw(_nice(0.0, 1500.0, 0))
        _maybe_key(draw, back, "hexane_volume", draw(quantity_text(hexane_ul, VOLUME_UNITS)),
                   needed=hexane_ul != 1000)
        if draw(st.booleans()):
            back["stir_rate"] = draw(st.one_of(
                st.none(), _nice(100, 2500, 0).flatmap(lambda v: quantity_text(v, RATE_UNITS))))
        be_stir_s = draw(_nice(30.0, 300.0, 0))
        be_max_s = draw(_nice(be_stir_s, 1800.0, 0))
        _maybe_key(draw, back, "stir_time", draw(quantity_text(be_stir_s, TIME_UNITS)),
                   needed=be_stir_s != 120)
        _maybe_key(draw, back, "max_time", draw(quantity_text(be_max_s, TIME_UNITS)),
                   needed=be_max_s != 600)
        if draw(st.booleans()):
            back["settle_time"] = draw(quantity_text(draw(_nice(5.0, 300.0, 0)), TIME_UNITS))
        if draw(st.booleans()):
            confirm: dict[str, Any] = {}
            _maybe_key(draw, confirm, "position_tolerance",
                       draw(quantity_text(draw(_nice(0.5, 25.0, 1)), LENGTH_UNITS)))
            _maybe_key(draw, confirm, "min_recovery",
                       draw(st.floats(0.01, 0.99, allow_nan=False)))
            _maybe_key(draw, confirm, "n_confirm", draw(st.integers(1, 10)))
            back["confirm"] = confirm
        if back or draw(st.booleans()):
            recipe["back_exchange"] = back
    else:
        back["enabled"] = False
        if draw(st.booleans()):
            back["ola"] = draw(quantity_text(draw(_nice(10.0, 100.0, 0)), VOLUME_UNITS))
        recipe["back_exchange"] = back

    # Monitoring: samples must fit in each phase unless they are returned.
    monitoring: dict[str, Any] = {}
    phase_choices = [["nonpolar", "polar"], ["polar", "nonpolar"], ["nonpolar"]]
    if not enabled:
        phase_choices.append(["polar"])
    phases = draw(st.sampled_from(phase_choices))
    _maybe_key(draw, monitoring, "phases", phases, needed=phases != ["nonpolar", "polar"])
    return_samples = draw(st.booleans())
    _maybe_key(draw, monitoring, "return_samples", return_samples, needed=return_samples)
    samples = 1 + math.ceil((max_s + extend_s) / interval_s) + 2
    if enabled:
        samples += 1 + math.ceil(be_max_s / be_stir_s)
    fits_ul = 0.5 * min(cluster_ul, salt_ul) / samples
    if return_samples:
        sample_ul = draw(_nice(1.0, 50.0, 1))
    else:
        sample_ul = float(f"{fits_ul * draw(st.floats(0.05, 0.9)):.3g}")
    if return_samples or sample_ul != 20 or 20 > 0.9 * fits_ul:
        monitoring["sample_volume"] = draw(quantity_text(sample_ul, VOLUME_UNITS))
    if draw(st.booleans()):
        n_bands = draw(st.integers(1, 4))
        low = {phase: max(DEFAULT_BANDS_OK_MIN_NM,
                          (SOLVENTS[solvent].uv_cutoff_nm.value or 0.0) + CUTOFF_MARGIN_NM)
               for phase, solvent in (("nonpolar", top), ("polar", bottom))}
        monitoring["bands"] = {"nonpolar": draw(_band_list(n_bands, low["nonpolar"])),
                               "polar": draw(_band_list(n_bands, low["polar"]))}
    if draw(st.booleans()):
        others = draw(st.lists(st.sampled_from(BLANKS[1:]), unique=True))
        monitoring["blanks"] = draw(st.permutations(["polar_salt", *others]))
    _maybe_key(draw, monitoring, "n_confirm", n_confirm, needed=n_confirm != 2)
    if draw(st.booleans()):
        monitoring["thresholds"] = draw(_thresholds())
    if monitoring or draw(st.booleans()):
        recipe["monitoring"] = monitoring

    # The vessel: any the liquids fit in, with room to spare.
    total_ul = cluster_ul + salt_ul + added_ul + ola_ul + hexane_ul
    fits = [name for name, v in VESSELS.items() if v.max_fill_ml * 1000 >= 1.02 * total_ul]
    vessel = draw(st.sampled_from(fits))
    _maybe_key(draw, recipe, "vessel", vessel, needed=vessel != DEFAULT_VESSEL)

    if draw(st.booleans()):
        recipe["characterisation"] = draw(st.lists(st.sampled_from(CHARACTERISATION),
                                                    unique=True, max_size=4))
    return dict(draw(st.permutations(list(recipe.items()))))


def _fraction() -> st.SearchStrategy[float]:
    return st.floats(1e-6, 1.0, exclude_max=True, allow_nan=False)


@st.composite
def _thresholds(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("complete_fraction", "mass_balance_tolerance", "stall_change",
                "degraded_loss"):
        _maybe_key(draw, out, key, draw(_fraction()))
    _maybe_key(draw, out, "scatter_limit", draw(st.floats(1e-6, 2.0)))
    _maybe_key(draw, out, "stall_samples", draw(st.integers(2, 20)))
    _maybe_key(draw, out, "degraded_broadening",
               draw(st.floats(1.0, 5.0, exclude_min=True)))
    _maybe_key(draw, out, "band_tolerance",
               draw(quantity_text(draw(_nice(0.1, 30.0, 2)), LENGTH_UNITS)))
    return out


# --- garbage ------------------------------------------------------------------------------------

def yamlish(max_leaves: int = 25) -> st.SearchStrategy[Any]:
    """Arbitrary JSON/YAML-like data: nested dicts (text or int keys), lists and scalars."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),  # nan and +-inf included
        st.text(max_size=30),
    )
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=5),
            st.dictionaries(st.one_of(st.text(max_size=12), st.integers()), children,
                            max_size=5),
        ),
        max_leaves=max_leaves,
    )


#: Field names of every recipe part, so garbage lands on fields the model knows.
RECIPE_KEYS = ["recipe_version", "name", "description", "cluster", "salt", "vessel",
               "exchange", "monitoring", "on_stall", "back_exchange", "characterisation"]
PART_KEYS = {
    "cluster": ["material", "size", "ligand", "solvent", "concentration", "volume"],
    "salt": ["compound", "hydrate", "solvent", "concentration", "volume"],
    "exchange": ["stir_rate", "temperature", "max_time", "sampling_interval", "settle_time"],
    "monitoring": ["phases", "sample_volume", "return_samples", "bands", "blanks", "n_confirm",
                   "thresholds"],
    "back_exchange": ["enabled", "ola", "hexane_volume", "stir_rate", "stir_time",
                      "settle_time", "max_time", "confirm"],
}


def recipe_shaped_yamlish() -> st.SearchStrategy[dict[str, Any]]:
    """A mapping with the recipe's own keys (and parts' keys) holding arbitrary data."""
    value = st.one_of(yamlish(10), st.sampled_from(WRONG_WORDS), hostile_quantities())
    parts = {
        key: st.one_of(value, st.fixed_dictionaries({}, optional=dict.fromkeys(names, value)))
        for key, names in PART_KEYS.items()
    }
    return st.fixed_dictionaries(
        {}, optional={key: parts.get(key, value) for key in RECIPE_KEYS})


#: Words that are nearly right: other materials, solvents, salts, actions, hydrates.
WRONG_WORDS = ["CdTe", "cdse ", "PbS", "Cd S", "toluene", "acetone", "water", "acetonitrile",
               "hexanes", "DMF ", "nmf", "ZnBr2", "Zn(NO3)2·5H2O", "InCl3·4H2O", "ZnCl2·2H2O",
               "ZnCl2 . 99999999999999999999 H2O", "In(NO3)3·5H2O", "zinc", "stop", "extend",
               "add_salt", "pause", "vial-2mL", "vial-100mL", "polar", "nonpolar",
               "nonpolar_ola", "BTA", "OLA", "PL", "", " ", "~", "null", "true", "0x10", "1e3",
               "34", "35", "\t", "·", "µ", "°"]

_EXTREME_NUMBERS = ["0", "-0", "-1", "0.0", "5e-324", "1e-320", "1e-310", "1e-300", "1e-30",
                    "1e30", "1e300", "1e308", "1.7976931348623157e308", "1e999", "-1e999",
                    "1e-999", ".5", "5.", "+5", "00005", "1_000", "1,5", "nan", "inf", "1e+300"]
ALL_UNITS = [u for u, _ in (*VOLUME_UNITS, *MOLAR_UNITS, *MASS_CONC_UNITS, *RATE_UNITS,
                            *TIME_UNITS, *LENGTH_UNITS, *AMOUNT_UNITS)] + [
    "degC", "°C", "K", "degF", "delta_degC", "kelvin", "day", "week", "year", "fortnight",
    "lambda", "Å", "m**3", "m^3", "mm^3", "percent", "%", "ohm", "Ω", "mol", "kg", "g/mol",
    "degC*s/K", "K/degC", "degC/min", "degC^2", "mL/min", "rpm^2", "s^-1", "Hz*min", "1/s",
    "mmol/mL", "kg/m^3", "bohr", "parsec", "furlong", "dimensionless", "turn", "rad/s",
    "uL uL", "mL * mL / mL", "mL·M", "uL**-1", "nm^4", "mM/M", "M M", "abc", "x_unit"]


def hostile_quantities(unit: str | None = None) -> st.SearchStrategy[str]:
    """Quantity-like text with extreme numbers and odd units (``unit`` is used half the time)."""
    units = st.sampled_from(ALL_UNITS)
    if unit:
        units = st.one_of(st.just(unit), units)
    numbers = st.one_of(st.sampled_from(_EXTREME_NUMBERS),
                        st.floats().map(repr),
                        st.integers(-(10**30), 10**30).map(str))
    return st.builds(lambda n, s, u: f"{n}{s}{u}", numbers,
                     st.sampled_from([" ", "", "\t", "  "]), units)


_QUANTITY_LIKE = re.compile(r"^\s*[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?\s*(?P<unit>\S.*)$")


def _paths(node: Any, prefix: Path = ()) -> list[Path]:
    out: list[Path] = []
    if isinstance(node, dict):
        for key, value in node.items():
            out.append((*prefix, key))
            out.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out.append((*prefix, i))
            out.extend(_paths(value, (*prefix, i)))
    return out


def _get(node: Any, path: Path) -> Any:
    for part in path:
        node = node[part]
    return node


@st.composite
def mutated_recipe_dicts(draw: st.DrawFn) -> dict[str, Any]:
    """A valid recipe with one field deleted, one replaced by garbage, or an unknown key added."""
    recipe = copy.deepcopy(draw(valid_recipe_dicts()))
    paths = _paths(recipe)
    kind = draw(st.sampled_from(["delete", "replace", "quantity", "unknown_key"]))
    if kind == "quantity":
        quantities = [p for p in paths
                      if isinstance(_get(recipe, p), str) and _QUANTITY_LIKE.match(_get(recipe, p))]
        path = draw(st.sampled_from(quantities))
        match = _QUANTITY_LIKE.match(_get(recipe, path))
        assert match is not None
        _get(recipe, path[:-1])[path[-1]] = draw(hostile_quantities(match["unit"]))
    elif kind == "delete":
        path = draw(st.sampled_from(paths))
        del _get(recipe, path[:-1])[path[-1]]
    elif kind == "replace":
        path = draw(st.sampled_from(paths))
        garbage = st.one_of(yamlish(), st.sampled_from(WRONG_WORDS), hostile_quantities())
        _get(recipe, path[:-1])[path[-1]] = draw(garbage)
    else:
        maps = [(), *(p for p in paths if isinstance(_get(recipe, p), dict))]
        node = _get(recipe, draw(st.sampled_from(maps)))
        known = list(node) + [k for names in PART_KEYS.values() for k in names] + RECIPE_KEYS
        near = [k + suffix for k in known if isinstance(k, str) for suffix in ("s", "_")]
        key = draw(st.one_of(st.sampled_from(near), st.text(min_size=1, max_size=15),
                             st.integers()).filter(lambda k: k not in node))
        node[key] = draw(yamlish(5))
    return recipe


# --- text ---------------------------------------------------------------------------------------

def _yaml(flow: bool | None, allow_unicode: bool) -> YAML:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = flow
    yaml.allow_unicode = allow_unicode
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[attr-defined]
    return yaml


_YAMLS = {(flow, uni): _yaml(flow, uni) for flow in (False, True, None) for uni in (True, False)}


def yaml_text(data: Any, *, flow: bool | None = False, allow_unicode: bool = True) -> str:
    buffer = io.StringIO()
    _YAMLS[flow, allow_unicode].dump(data, buffer)
    return buffer.getvalue()


def json_text(data: Any, *, indent: int | None = None, ensure_ascii: bool = True) -> str:
    return json.dumps(data, indent=indent, ensure_ascii=ensure_ascii)


#: Ways to write a dict as recipe text: (label, function).
SERIALISERS: list[tuple[str, Callable[[Any], str]]] = [
    ("yaml-block", lambda d: yaml_text(d, flow=False)),
    ("yaml-block-ascii", lambda d: yaml_text(d, flow=False, allow_unicode=False)),
    ("yaml-flow", lambda d: yaml_text(d, flow=True)),
    ("yaml-mixed", lambda d: yaml_text(d, flow=None)),
    ("json", lambda d: json_text(d)),
    ("json-indented-unicode", lambda d: json_text(d, indent=2, ensure_ascii=False)),
]


def serialisers() -> st.SearchStrategy[tuple[str, Callable[[Any], str]]]:
    return st.sampled_from(SERIALISERS)


@st.composite
def corrupted_recipe_texts(draw: st.DrawFn) -> str:
    """The YAML text of a valid recipe with one random edit: a line inserted, deleted,
    duplicated or re-indented, or a few characters inserted or removed."""
    text = yaml_text(draw(valid_recipe_dicts()), flow=draw(st.sampled_from([False, None])))
    lines = text.splitlines(keepends=True)
    i = draw(st.integers(0, len(lines)))
    edit = draw(st.sampled_from(["insert_line", "delete_line", "duplicate_line", "indent",
                                 "insert_chars", "delete_chars", "truncate"]))
    noise = st.text(st.sampled_from(list(" \t\n\r:-#&*!|>'\"%@`{}[],?.~") + ["a", "1", "é"]),
                    min_size=1, max_size=12)
    if edit == "insert_line":
        lines.insert(i, draw(st.one_of(noise, st.text(max_size=20))) + "\n")
    elif edit == "delete_line" and i < len(lines):
        del lines[i]
    elif edit == "duplicate_line" and i < len(lines):
        lines.insert(i, lines[i])
    elif edit == "indent" and i < len(lines):
        lines[i] = draw(st.sampled_from([" ", "  ", "\t", "    "])) + lines[i]
    out = "".join(lines)
    if edit == "insert_chars":
        at = draw(st.integers(0, len(out)))
        out = out[:at] + draw(st.one_of(noise, st.text(max_size=5))) + out[at:]
    elif edit == "delete_chars":
        at = draw(st.integers(0, len(out)))
        out = out[:at] + out[at + draw(st.integers(1, 10)):]
    elif edit == "truncate":
        out = out[: draw(st.integers(0, len(out)))]
    return out
