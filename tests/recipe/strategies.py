"""Hypothesis strategies for recipes: valid ones in the spellings chemists use, and garbage.

``valid_recipe_dicts()`` builds plain, YAML-ready dicts (quantities as text in varied units)
whose numbers are chosen so the cross-field checks in ``mscrobot.recipe.checks`` usually pass:
the vessel is one the liquids fit in, the monitoring samples fit in the phases, timings nest.
``yamlish()`` is arbitrary JSON/YAML-like data; ``mutated_recipe_dicts()`` is a valid recipe
with one field deleted or replaced by garbage, or an unknown key added;
``extreme_quantity_recipe_dicts()`` is a valid recipe with one quantity pushed to the edges of a
float or written in an odd unit of its kind; ``corrupted_recipe_texts()`` is the YAML text of a
valid recipe with a random edit.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Callable
from typing import Any

import yaml
from hypothesis import strategies as st

from mscrobot.chemistry import SOLVENTS
from mscrobot.recipe.vessels import DEFAULT_VESSEL, VIAL_TYPES

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

_NUMBER_FORMATS = st.sampled_from([
    lambda x: f"{x:.6g}",
    lambda x: repr(float(f"{x:.6g}")),
    lambda x: f"{x:.4e}",
    lambda x: f"+{x:.6g}",
])
_SPACES = st.sampled_from([" ", " ", "", "  "])
_UNIT_CHOICES: dict[int, st.SearchStrategy[tuple[str, float]]] = {}
_BOOLEANS = st.booleans()
_UNIT_INTERVAL = st.floats(0.0, 1.0)


def _units(units: list[tuple[str, float]]) -> st.SearchStrategy[tuple[str, float]]:
    key = id(units)
    if key not in _UNIT_CHOICES:
        _UNIT_CHOICES[key] = st.sampled_from(units)
    return _UNIT_CHOICES[key]


def _quantity(draw: st.DrawFn, value: float, units: list[tuple[str, float]]) -> str:
    """``value`` (in the base unit of ``units``) written in one of ``units``, e.g. '1.5 mL'."""
    spelling, size = draw(_units(units))
    number = draw(_NUMBER_FORMATS)(value / size)
    return f"{number}{draw(_SPACES)}{spelling}"


_TEMPERATURE_KINDS = st.sampled_from(["degC", "°C", "K", "degF"])


def _temperature(draw: st.DrawFn, celsius: float) -> str:
    kind = draw(_TEMPERATURE_KINDS)
    if kind == "K":
        return f"{celsius + 273.15:.6g} K"
    if kind == "degF":
        return f"{celsius * 1.8 + 32:.6g} degF"
    return f"{celsius:.6g} {kind}"


def _nice(draw: st.DrawFn, lo: float, hi: float, places: int = 2) -> float:
    """A number in [lo, hi] rounded to ``places`` decimals (shrinks towards ``lo``)."""
    x = round(lo + draw(_UNIT_INTERVAL) * (hi - lo), places)
    return min(max(x, lo), hi)


def _bool(draw: st.DrawFn) -> bool:
    return draw(_BOOLEANS)


def _int(draw: st.DrawFn, lo: int, hi: int) -> int:
    return draw(st.integers(lo, hi))  # cached by hypothesis: integers() takes hashable args


def _pick(draw: st.DrawFn, options: list[Any] | tuple[Any, ...]) -> Any:
    """One of ``options`` (cheaper than a fresh ``sampled_from`` inside a composite)."""
    return options[_int(draw, 0, len(options) - 1)]


def _shuffled(draw: st.DrawFn, items: list[Any]) -> list[Any]:
    items = list(items)
    for i in range(len(items) - 1, 0, -1):
        j = _int(draw, 0, i)
        items[i], items[j] = items[j], items[i]
    return items


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
#: Lowest band written (nm): well above every cutoff the knowledge base knows.
LOWEST_BAND_NM = 250.0
#: Margin (nm) the checks want between a band and the solvent's UV cutoff, plus slack.
CUTOFF_MARGIN_NM = 15.0

_NAME_CHARS = st.characters(blacklist_categories=("Cc", "Cs"),
                            blacklist_characters="\u2028\u2029")
#: C1 controls and the Unicode line/paragraph separators are refused in names and descriptions
#: (a YAML dumper writes them raw, and YAML then reads them as line breaks).
_TEXT_CHARS = st.characters(blacklist_categories=("Cs",),
                            blacklist_characters="".join(map(chr, range(0x80, 0xA0)))
                            + "\u2028\u2029")
NAMES = st.one_of(
    st.sampled_from(["CdS34 with ZnCl2", "(CdSe)34 with Zn(OAc)2·2H2O in DMF", "run 7",
                     "yes", "null", "123", "1.5", "- x", "# not a comment", "a: b", "'q'",
                     "~", "@home", "%TAG", "!tag", "&anchor", "*alias", "[x]", "{y}", "Ünïcødé",
                     "CdS34 🧪", "\ufeffBOM", "'", '"', "\\"]),
    st.text(_NAME_CHARS, min_size=1, max_size=60).filter(lambda s: s.strip()),
)
DESCRIPTIONS = st.one_of(
    st.just(""),
    st.text(_TEXT_CHARS, max_size=200),
    st.sampled_from(["line one\nline two\n", "  leading", "trailing  ", "tab\there", "a: b",
                     "# hash", "\ufeffbom", "\\n literal"]),
)


def _maybe_key(draw: st.DrawFn, out: dict[str, Any], key: str, value: Any,
               needed: bool = False) -> None:
    """Write ``key`` if it is needed (the value differs from the default), else at random."""
    if needed or _bool(draw):
        out[key] = value


def _shuffled_dict(draw: st.DrawFn, d: dict[str, Any]) -> dict[str, Any]:
    return dict(_shuffled(draw, list(d.items())))


@st.composite
def valid_recipe_dicts(draw: st.DrawFn) -> dict[str, Any]:
    """A recipe as a plain dict that usually passes every check (tests ``assume`` the rest)."""
    recipe: dict[str, Any] = {}
    if _bool(draw):
        recipe["recipe_version"] = 1
    recipe["name"] = draw(NAMES)
    if _bool(draw):
        recipe["description"] = draw(DESCRIPTIONS)

    # Cluster phase (top).
    material = _pick(draw, MATERIALS)
    ligand = _pick(draw, sorted(LIGANDS))
    top = _pick(draw, sorted(CLUSTER_SOLVENTS))
    cluster_ul = _nice(draw, 500.0, 2500.0, 0)
    cluster: dict[str, Any] = {
        "material": _pick(draw, [material, material.lower(), material.upper()]),
    }
    if _bool(draw):
        cluster["size"] = 34
    _maybe_key(draw, cluster, "ligand", _pick(draw, LIGANDS[ligand]), needed=ligand != "BTA")
    _maybe_key(draw, cluster, "solvent", _pick(draw, CLUSTER_SOLVENTS[top]),
               needed=top != "hexane")
    if _bool(draw):
        cluster["concentration"] = _quantity(draw, _nice(draw, 2e-6, 1e-4, 7), MOLAR_UNITS)
    else:
        cluster["concentration"] = _quantity(draw, _nice(draw, 0.01, 0.6, 3), MASS_CONC_UNITS)
    cluster["volume"] = _quantity(draw, cluster_ul, VOLUME_UNITS)
    recipe["cluster"] = _shuffled_dict(draw, cluster)

    # Salt phase (bottom).
    salt_name = _pick(draw, sorted(SALT_CHOICES))
    hydrates, spellings = SALT_CHOICES[salt_name]
    hydrate = _pick(draw, hydrates)
    bottom = _pick(draw, sorted(POLAR_SOLVENTS))
    salt_ul = _nice(draw, 500.0, 2500.0, 0)
    salt: dict[str, Any] = {}
    how = _pick(draw, ["field", "formula", "both"])
    if hydrate and how != "field":
        salt["compound"] = f"{salt_name}{_pick(draw, ['·', '.', '*', ' · '])}{hydrate}H2O"
        if how == "both":
            salt["hydrate"] = hydrate
    else:
        salt["compound"] = _pick(draw, [salt_name, *spellings])
        _maybe_key(draw, salt, "hydrate", hydrate, needed=hydrate != 0)
    _maybe_key(draw, salt, "solvent", _pick(draw, POLAR_SOLVENTS[bottom]),
               needed=bottom != "DMF")
    salt["concentration"] = _quantity(draw, _nice(draw, 0.005, 0.5, 4), MOLAR_UNITS)
    salt["volume"] = _quantity(draw, salt_ul, VOLUME_UNITS)
    recipe["salt"] = _shuffled_dict(draw, salt)

    # Exchange: max_time >= n_confirm * sampling_interval, settle_time < max_time.
    n_confirm = _int(draw, 1, 5)
    max_s = _nice(draw, 600.0, 5400.0, 0)
    interval_s = _nice(draw, 30.0, min(600.0, 0.95 * max_s / n_confirm), 0)
    settle_s = _nice(draw, 5.0, min(300.0, 0.5 * max_s), 0)
    exchange: dict[str, Any] = {}
    _maybe_key(draw, exchange, "stir_rate", _quantity(draw, _nice(draw, 100, 2500, 0),
                                                      RATE_UNITS))
    _maybe_key(draw, exchange, "temperature", _temperature(draw, _nice(draw, 4, 45, 1)))
    _maybe_key(draw, exchange, "max_time", _quantity(draw, max_s, TIME_UNITS),
               needed=max_s != 1800)
    _maybe_key(draw, exchange, "sampling_interval", _quantity(draw, interval_s, TIME_UNITS),
               needed=interval_s != 120)
    _maybe_key(draw, exchange, "settle_time", _quantity(draw, settle_s, TIME_UNITS),
               needed=settle_s != 60)
    if exchange or _bool(draw):
        recipe["exchange"] = _shuffled_dict(draw, exchange)

    # Stall policy: extend/add_salt in any order, 'stop' only last.
    extend_s = 0.0
    added_ul = 0.0
    if _bool(draw):  # the default policy: extend 10 min once, then stop
        extend_s = 600.0
    else:
        on_stall: list[Any] = []
        for _ in range(_int(draw, 0, 4)):
            times = _int(draw, 1, 3)
            action: Any
            if _bool(draw):
                by_s = _nice(draw, 60.0, 1200.0, 0)
                extend_s += by_s * times
                action = {"action": "extend", "by": _quantity(draw, by_s, TIME_UNITS),
                          "times": times}
                if by_s == 600 and times == 1 and _bool(draw):
                    action = _pick(draw, ["extend", {"action": "extend"}])
            else:
                volume_ul = _nice(draw, 20.0, 300.0, 0)
                added_ul += volume_ul * times
                action = {"action": "add_salt",
                          "volume": _quantity(draw, volume_ul, VOLUME_UNITS),
                          "times": times}
                if volume_ul == 100 and times == 1 and _bool(draw):
                    action = _pick(draw, ["add_salt", {"action": "add_salt"}])
            on_stall.append(action)
        if not on_stall or _bool(draw):
            on_stall.append(_pick(draw, ["stop", {"action": "stop"}]))
        if on_stall == ["stop"] and _bool(draw):
            recipe["on_stall"] = "stop"
        else:
            recipe["on_stall"] = on_stall

    # Back-exchange.
    enabled = _bool(draw)
    back: dict[str, Any] = {}
    ola_ul = hexane_ul = 0.0
    be_max_s = be_stir_s = 0.0
    if enabled:
        _maybe_key(draw, back, "enabled", True)
        ola = _pick(draw, ["default", "volume", "moles"])
        if ola == "volume":
            ola_ul = _nice(draw, 10.0, 100.0, 0)
            back["ola"] = _quantity(draw, ola_ul, VOLUME_UNITS)
        elif ola == "moles":
            umol = _nice(draw, 30.0, 300.0, 1)
            ola_ul = umol * 267.49 / 0.813 / 1000.0 * 1.01  # OLA molar mass / density
            back["ola"] = _quantity(draw, umol, AMOUNT_UNITS)
        else:
            ola_ul = 50.0
        hexane_ul = _nice(draw, 0.0, 1500.0, 0)
        _maybe_key(draw, back, "hexane_volume", _quantity(draw, hexane_ul, VOLUME_UNITS),
                   needed=hexane_ul != 1000)
        if _bool(draw):
            back["stir_rate"] = (None if _bool(draw)
                                 else _quantity(draw, _nice(draw, 100, 2500, 0), RATE_UNITS))
        be_stir_s = _nice(draw, 30.0, 300.0, 0)
        be_max_s = _nice(draw, be_stir_s, 1800.0, 0)
        _maybe_key(draw, back, "stir_time", _quantity(draw, be_stir_s, TIME_UNITS),
                   needed=be_stir_s != 120)
        _maybe_key(draw, back, "max_time", _quantity(draw, be_max_s, TIME_UNITS),
                   needed=be_max_s != 600)
        if _bool(draw):
            back["settle_time"] = _quantity(draw, _nice(draw, 5.0, 300.0, 0), TIME_UNITS)
        if _bool(draw):
            confirm: dict[str, Any] = {}
            _maybe_key(draw, confirm, "position_tolerance",
                       _quantity(draw, _nice(draw, 0.5, 25.0, 1), LENGTH_UNITS))
            _maybe_key(draw, confirm, "min_recovery", draw(_FRACTIONS))
            _maybe_key(draw, confirm, "n_confirm", _int(draw, 1, 10))
            back["confirm"] = confirm
        if back or _bool(draw):
            recipe["back_exchange"] = _shuffled_dict(draw, back)
    else:
        back["enabled"] = False
        if _bool(draw):
            back["ola"] = _quantity(draw, _nice(draw, 10.0, 100.0, 0), VOLUME_UNITS)
        recipe["back_exchange"] = back

    # Monitoring: samples must fit in each phase unless they are returned.
    monitoring: dict[str, Any] = {}
    phase_choices = [["nonpolar", "polar"], ["polar", "nonpolar"], ["nonpolar"]]
    if not enabled:
        phase_choices.append(["polar"])
    phases = _pick(draw, phase_choices)
    _maybe_key(draw, monitoring, "phases", phases, needed=phases != ["nonpolar", "polar"])
    return_samples = _bool(draw)
    _maybe_key(draw, monitoring, "return_samples", return_samples, needed=return_samples)
    samples = 1 + math.ceil((max_s + extend_s) / interval_s) + 2
    if enabled:
        samples += 1 + math.ceil(be_max_s / be_stir_s)
    fits_ul = 0.5 * min(cluster_ul, salt_ul) / samples
    if return_samples:
        sample_ul = _nice(draw, 1.0, 50.0, 1)
    else:
        sample_ul = float(f"{fits_ul * _nice(draw, 0.05, 0.9):.3g}")
    if return_samples or sample_ul != 20 or 0.9 * fits_ul < 20:
        monitoring["sample_volume"] = _quantity(draw, sample_ul, VOLUME_UNITS)
    if _bool(draw):
        n_bands = _int(draw, 1, 4)
        bands = {}
        for phase, solvent in (("nonpolar", top), ("polar", bottom)):
            cutoff = SOLVENTS[solvent].uv_cutoff_nm.value or 0.0
            low = max(LOWEST_BAND_NM, cutoff + CUTOFF_MARGIN_NM)
            bands[phase] = [_quantity(draw, _nice(draw, low, 800.0, 1), LENGTH_UNITS)
                            for _ in range(n_bands)]
        monitoring["bands"] = bands
    if _bool(draw):
        blanks = ["polar_salt", *(b for b in BLANKS[1:] if _bool(draw))]
        monitoring["blanks"] = _shuffled(draw, blanks)
    _maybe_key(draw, monitoring, "n_confirm", n_confirm, needed=n_confirm != 2)
    if _bool(draw):
        monitoring["thresholds"] = _thresholds(draw)
    if monitoring or _bool(draw):
        recipe["monitoring"] = _shuffled_dict(draw, monitoring)

    # The vessel: any the liquids fit in, with room to spare.
    total_ul = cluster_ul + salt_ul + added_ul + ola_ul + hexane_ul
    fits = [name for name, v in VIAL_TYPES.items() if v.max_fill_ml * 1000 >= 1.02 * total_ul]
    vessel = _pick(draw, fits)
    _maybe_key(draw, recipe, "vessel", vessel, needed=vessel != DEFAULT_VESSEL)

    if _bool(draw):
        recipe["characterisation"] = [c for c in CHARACTERISATION if _bool(draw)]
    return _shuffled_dict(draw, recipe)


_FRACTIONS = st.floats(1e-6, 1.0, exclude_max=True)
_SCATTER = st.floats(1e-6, 2.0)
_BROADENING = st.floats(1.0, 5.0, exclude_min=True)


def _thresholds(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("complete_fraction", "mass_balance_tolerance", "stall_change",
                "degraded_loss"):
        _maybe_key(draw, out, key, draw(_FRACTIONS))
    _maybe_key(draw, out, "scatter_limit", draw(_SCATTER))
    _maybe_key(draw, out, "stall_samples", _int(draw, 2, 20))
    _maybe_key(draw, out, "degraded_broadening", draw(_BROADENING))
    _maybe_key(draw, out, "band_tolerance",
               _quantity(draw, _nice(draw, 0.1, 30.0, 2), LENGTH_UNITS))
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

#: Numbers at and past the edges of a float, and spellings a strict grammar may refuse.
EXTREME_NUMBERS = ["0", "-0", "-1", "0.0", "5e-324", "1e-320", "1e-310", "2.2e-308", "1e-300",
                   "1e-30", "1e30", "1e300", "1e308", "1.7976931348623157e308", "1e999",
                   "-1e999", "1e-999", ".5", "5.", "+5", "00005", "1_000", "1,5", "nan", "inf"]
#: Numbers whose products and quotients underflow to zero or overflow to infinity.
TINY_NUMBERS = ["5e-324", "1e-320", "1e-310", "2.2e-308", "1e-300"]
HUGE_NUMBERS = ["1e300", "1e308", "1.7976931348623157e308"]
#: Other spellings of each kind of quantity, the odd ones included.
ODD_UNITS = {
    "volume": ["m^3", "cm^3", "mm^3", "m**3", "lambda", "gallon", "uL*M/M", "µl"],
    "molar": ["mol/m^3", "kmol/L", "M*M/M", "mmol/uL", "pM", "fM"],
    "mass concentration": ["kg/m^3", "ng/L", "g/mL", "mg/uL"],
    "rate": ["kHz", "rad/s", "turn/s", "Hz*Hz/Hz", "mHz"],
    "time": ["day", "week", "year", "fortnight", "ns", "ps", "min*min/min"],
    "temperature": ["delta_degC", "delta_degF", "degR", "degRe", "mK", "kK", "K*degC/degC"],
    "length": ["Å", "km", "mil", "bohr", "fm", "nm*nm/nm"],
    "amount": ["mol", "kmol", "fmol", "umol*M/M"],
}
UNIT_KINDS = {
    spelling: kind
    for kind, table in (("volume", VOLUME_UNITS), ("molar", MOLAR_UNITS),
                        ("mass concentration", MASS_CONC_UNITS), ("rate", RATE_UNITS),
                        ("time", TIME_UNITS), ("length", LENGTH_UNITS), ("amount", AMOUNT_UNITS),
                        ("temperature", [(u, 1.0) for u in ("degC", "°C", "K", "degF")]))
    for spelling, _ in table
}
ALL_UNITS = [*UNIT_KINDS, *(u for odd in ODD_UNITS.values() for u in odd),
             "percent", "%", "ohm", "Ω", "kg", "g/mol", "degC*s/K", "K/degC", "degC/min",
             "degC^2", "mL/min", "rpm^2", "s^-1", "Hz*min", "1/s", "parsec", "dimensionless",
             "uL uL", "mL * mL / mL", "mL·M", "uL**-1", "nm^4", "mM/M", "M M", "abc", "x_unit"]
_SEPARATORS = st.sampled_from([" ", "", "\t", "  "])


def hostile_quantities(unit: str | None = None) -> st.SearchStrategy[str]:
    """Quantity-like text: extreme numbers with ``unit``, others of its kind, or any unit."""
    units = st.sampled_from(ALL_UNITS)
    if unit:
        same = [unit, *ODD_UNITS.get(UNIT_KINDS.get(unit, ""), [])]
        units = st.one_of(st.sampled_from(same), units)
    numbers = st.one_of(st.sampled_from(EXTREME_NUMBERS),
                        st.floats().map(repr),
                        st.integers(-(10**30), 10**30).map(str))
    return st.builds(lambda n, s, u: f"{n}{s}{u}", numbers, _SEPARATORS, units)


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
    kind = draw(st.sampled_from(["delete", "replace", "unknown_key"]))
    if kind == "delete":
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


@st.composite
def extreme_quantity_recipe_dicts(draw: st.DrawFn) -> dict[str, Any]:
    """A valid recipe with one quantity rewritten: an extreme number (5e-324, 1e308, ...), a
    unit of the same kind that is rarely used (delta_degC, Å, m^3), or both."""
    recipe = copy.deepcopy(draw(valid_recipe_dicts()))
    quantities = [p for p in _paths(recipe)
                  if isinstance(_get(recipe, p), str) and _QUANTITY_LIKE.match(_get(recipe, p))]
    path = draw(st.sampled_from(quantities))
    match = _QUANTITY_LIKE.match(_get(recipe, path))
    assert match is not None
    unit = match["unit"]
    kind = UNIT_KINDS.get(unit)
    units = [unit, *ODD_UNITS.get(kind, [])] if kind else [unit]
    number = draw(st.one_of(st.sampled_from(TINY_NUMBERS), st.sampled_from(HUGE_NUMBERS),
                            st.sampled_from(EXTREME_NUMBERS), st.sampled_from(["1", "25", "0.5"]),
                            st.floats().map(repr)))
    _get(recipe, path[:-1])[path[-1]] = f"{number} {draw(st.sampled_from(units))}"
    return recipe


# --- text ---------------------------------------------------------------------------------------

def yaml_text(data: Any, *, flow: bool | None = False, allow_unicode: bool = True) -> str:
    return yaml.safe_dump(data, default_flow_style=flow, allow_unicode=allow_unicode,
                          sort_keys=False)


_YAML_SPECIAL = re.compile("[\x80-\x9f\u2028\u2029]")


def json_text(data: Any, *, indent: int | None = None, ensure_ascii: bool = True) -> str:
    """JSON text. Even with ``ensure_ascii=False``, C1 controls and U+2028/U+2029 are escaped:
    the loader reads JSON as YAML, which refuses raw C1 controls and folds NEL, LS and PS as
    line breaks (a known limitation, reported, not re-found on every run)."""
    text = json.dumps(data, indent=indent, ensure_ascii=ensure_ascii)
    return _YAML_SPECIAL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


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
    noise = st.text(st.sampled_from([*" \t\n\r:-#&*!|>'\"%@`{}[],?.~", "a", "1", "é"]),
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
