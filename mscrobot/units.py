"""Quantities as chemists write them (``"500 uL"``, ``"0.05 M"``), parsed with pint.

Strings are split into a number and a unit expression by a strict grammar before pint sees
them: pint's expression evaluator would happily compute ``10**10**10`` from a hostile recipe,
and chemists never need arithmetic in a quantity. Every parse error is a ``QuantityError``
(a ``ValueError``) with a message fit for a chemist.
"""

from __future__ import annotations

import math
import re
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pint

__all__ = [
    "DIMENSIONS",
    "QuantityError",
    "format_molar",
    "format_quantity",
    "parse_quantity",
    "ureg",
]

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d{1,3})?"
_TERM = r"[A-Za-zµμ°Ω%][A-Za-z_µμ°]*(?:\^-?[1-4]|\*\*-?[1-4])?"
_UNIT = rf"{_TERM}(?:\s*(?:/|\*|·|\s)\s*{_TERM})*"
_QUANTITY = re.compile(rf"^\s*(?P<number>{_NUMBER})\s*(?P<unit>{_UNIT})\s*$")
_COMMA_DECIMAL = re.compile(r"^\s*[-+]?\d+,\d+")
#: Letters a chemist writes for a temperature that pint reads as other units (C is coulomb,
#: F farad), with the unit they meant.
_TEMPERATURE_LETTERS = {"C": "degC", "F": "degF", "°": "degC"}

#: Physical dimension names used in messages, keyed by pint dimensionality strings.
DIMENSIONS: dict[str, str] = {
    "[length] ** 3": "volume",
    "[substance] / [length] ** 3": "molar concentration",
    "[mass] / [length] ** 3": "mass concentration",
    "1 / [time]": "rotation rate",
    "[time]": "time",
    "[temperature]": "temperature",
    "[length]": "length",
    "[substance]": "amount of substance",
    "[mass]": "mass",
    "[current] * [time]": "electric charge",
    "[current] ** 2 * [time] ** 4 / [mass] / [length] ** 2": "capacitance",
    "[mass] / [substance]": "molar mass",
    "dimensionless": "dimensionless number",
}


class QuantityError(ValueError):
    """A string that is not a quantity of the expected kind."""


@cache
def ureg() -> pint.UnitRegistry:
    """The one unit registry of the process, built on first use."""
    import pint

    try:  # the on-disk cache of parsed definitions saves ~0.2 s per process
        registry = pint.UnitRegistry(autoconvert_offset_to_baseunit=True, cache_folder=":auto:")
    except Exception:
        registry = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
    registry.formatter.default_format = "~"
    return registry


def dimension_name(q: pint.Quantity) -> str:
    """A readable name for the dimension of ``q`` ('volume', 'time', ...)."""
    key = str(q.dimensionality)
    return DIMENSIONS.get(key, key)


def parse_quantity(text: Any, expected: tuple[str, ...] | None = None) -> pint.Quantity:
    """Parse ``"500 uL"`` into a pint Quantity whose dimension is one of ``expected``.

    ``expected`` holds pint dimensionality strings such as ``"[length] ** 3"``. Bare numbers
    are refused: a recipe must say which unit it means.
    """
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise QuantityError(f"expected a quantity with a unit such as {_example(expected)}, "
                            f"got {_describe(text)}")
    if isinstance(text, int | float):
        raise QuantityError(f"{text!r} has no unit; write it with one, e.g. {_example(expected)}")
    if len(text) > 64:
        raise QuantityError("quantity is longer than 64 characters")
    match = _QUANTITY.match(text)
    if match is None:
        if _COMMA_DECIMAL.match(text):
            raise QuantityError(f"cannot read {text!r}: use a decimal point, not a comma")
        if re.fullmatch(rf"\s*{_NUMBER}\s*", text):
            raise QuantityError(f"{text!r} has no unit; write it with one, e.g. "
                                f"{_example(expected)}")
        raise QuantityError(f"cannot read {text!r} as a quantity; write a number and a unit, "
                            f"e.g. {_example(expected)}")
    magnitude = float(match["number"])
    if not math.isfinite(magnitude):
        raise QuantityError(f"{text!r} is not a finite number")
    unit = _unit(match["unit"].replace("μ", "µ"))
    if unit is None:
        raise QuantityError(f"unknown unit {match['unit']!r} in {text!r}")
    q = ureg().Quantity(magnitude, unit)
    if expected is not None and str(q.dimensionality) not in expected:
        wanted = " or ".join(DIMENSIONS.get(e, e) for e in expected)
        written = match["unit"].strip()
        read_as = f"{unit:D}"
        example = _example(expected)
        if "[temperature]" in expected and written in _TEMPERATURE_LETTERS:
            example = f"'{match['number']} {_TEMPERATURE_LETTERS[written]}'"
        kind = dimension_name(q)
        kind = ("an " if kind[0] in "aeiou" else "a ") + kind
        said = (f"reads {written!r} as {read_as}, {kind}" if len(written) == 1 else f"is {kind}")
        raise QuantityError(f"{text!r} {said}; expected a {wanted} (e.g. {example})")
    return q


@lru_cache(maxsize=512)
def _unit(text: str) -> pint.Unit | None:
    """pint's parse of a unit expression, cached: recipes repeat a handful of units."""
    try:
        return ureg().parse_units(text)
    except Exception:  # pint raises several unrelated types for unknown units
        return None


_SHORT_FIXES = ((re.compile(r"µ"), "u"), (re.compile(r"(?<![A-Za-z])([munpk]?)l\b"), r"\1L"),
                (re.compile(r"°C"), "degC"), (re.compile(r"°F"), "degF"))


def format_quantity(q: pint.Quantity) -> str:
    """Write ``q`` back the way a chemist would (``"500 uL"``); parses back to an equal value.

    The short symbol is used when it reads back as the same unit; otherwise pint's long name
    (``"30 angstrom"`` rather than ``"30 Å"``).
    """
    magnitude = repr(float(q.magnitude))
    if magnitude.endswith(".0"):
        magnitude = magnitude[:-2]
    short = format(q.units, "~")
    for pattern, repl in _SHORT_FIXES:
        short = pattern.sub(repl, short)
    for unit_text in (short, format(q.units, "D")):
        text = f"{magnitude} {_POWER.sub('**', unit_text)}"
        try:
            if parse_quantity(text).units == q.units:
                return text
        except QuantityError:
            continue
    return f"{magnitude} {_POWER.sub('**', format(q.units, 'D'))}"


_POWER = re.compile(r"\s*\*\*\s*")


_EXAMPLES = {
    "[length] ** 3": "'500 uL'",
    "[substance] / [length] ** 3": "'0.05 M'",
    "[mass] / [length] ** 3": "'2 mg/mL'",
    "1 / [time]": "'1000 rpm'",
    "[time]": "'5 min'",
    "[temperature]": "'25 degC'",
    "[length]": "'365 nm'",
    "[substance]": "'0.1 mmol'",
}


def _example(expected: tuple[str, ...] | None) -> str:
    if not expected:
        return "'500 uL'"
    return _EXAMPLES.get(expected[0], "'1 unit'")


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    return f"{type(value).__name__} {value!r}"[:80]


def format_molar(molar: float) -> str:
    """A molar concentration in the unit a chemist would write it (``3e-05`` → ``"30 µM"``)."""
    for factor, unit in ((1.0, "M"), (1e-3, "mM"), (1e-6, "µM"), (1e-9, "nM")):
        if abs(molar) >= factor or unit == "nM":
            return f"{molar / factor:.4g} {unit}"
    raise AssertionError("unreachable")
