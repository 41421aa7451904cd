"""Pydantic field types for quantities: parsed with pint, bounded, written back as text.

A field holds a ``pint.Quantity`` in the unit the chemist wrote; code reads it with
``q.m_as("uL")``. JSON/YAML output writes it back as ``"500 uL"``, which parses to an equal value.
Bounds reject the absurd (a 5 L sample, a negative time) with the bound in the message.
"""

from __future__ import annotations

from typing import Annotated, Any

import pint
from pydantic import GetPydanticSchema, WithJsonSchema
from pydantic_core import core_schema

from mscrobot.units import QuantityError, format_quantity, parse_quantity, ureg

VOLUME = "[length] ** 3"
MOLAR = "[substance] / [length] ** 3"
MASS_CONC = "[mass] / [length] ** 3"
RATE = "1 / [time]"
TIME = "[time]"
TEMPERATURE = "[temperature]"
LENGTH = "[length]"
AMOUNT = "[substance]"

_PATTERN = r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*[A-Za-zµμ°%].*$"


def quantity(
    *dims: str,
    unit: str,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    what: str,
    example: str,
    alt: tuple[float | None, float | None, float | None, str] = (None, None, None, ""),
) -> Any:
    """An annotated Quantity field type of dimension ``dims``, bounded in ``unit``.

    ``alt`` = (gt, ge, le, unit) bounds a second allowed dimension.
    """

    def validate(value: Any) -> pint.Quantity:
        try:
            return _checked(value)
        except QuantityError:
            raise
        except (pint.errors.PintError, TypeError, ValueError, ArithmeticError) as exc:
            raise QuantityError(f"cannot use {value!r} as a {what}: {exc}") from None

    def _checked(value: Any) -> pint.Quantity:
        if isinstance(value, pint.Quantity):
            q = value
            if str(q.dimensionality) not in dims:
                raise QuantityError(f"expected a {what}, got {format_quantity(q)}")
        else:
            q = parse_quantity(value, dims)
        # Bounds apply in ``unit`` for its own dimension and in ``alt_unit`` for a second
        # allowed one (mass vs molar concentration).
        same = str(q.dimensionality) == dims[0]
        lo_gt, lo_ge, hi, in_unit = (gt, ge, le, unit) if same else alt
        m = q.m_as(in_unit)
        if lo_gt is not None and not m > lo_gt:
            raise QuantityError(f"{format_quantity(q)} must be more than "
                                f"{_bound(lo_gt, in_unit)}")
        if lo_ge is not None and not m >= lo_ge:
            raise QuantityError(f"{format_quantity(q)} must be at least "
                                f"{_bound(lo_ge, in_unit)}")
        if hi is not None and not m <= hi:
            raise QuantityError(f"{format_quantity(q)} is more than the {_bound(hi, in_unit)} "
                                f"allowed for a {what}")
        return q

    def get_schema(_source: Any, _handler: Any) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                format_quantity, when_used="json"
            ),
        )

    json_schema = {
        "type": "string",
        "pattern": _PATTERN,
        "description": f"{what}, a number and a unit, e.g. {example!r}",
        "examples": [example],
    }
    return Annotated[pint.Quantity, GetPydanticSchema(get_schema), WithJsonSchema(json_schema)]


def _bound(value: float, unit: str) -> str:
    """A limit in the unit a chemist would say it in (1e6 uL → '1 L')."""
    if value == 0:
        return "zero"
    if 1e-3 <= abs(value) < 1e4:
        return f"{value:g} {unit}"
    q = ureg().Quantity(value, unit).to_compact()
    return format_quantity(ureg().Quantity(float(f"{q.magnitude:.6g}"), q.units))


Volume = quantity(VOLUME, unit="uL", ge=1, le=1e6, what="volume", example="500 uL")
NonNegativeVolume = quantity(VOLUME, unit="uL", ge=0, le=1e6, what="volume", example="0 uL")
MolarConcentration = quantity(MOLAR, unit="M", ge=1e-9, le=10, what="molar concentration",
                              example="0.05 M")
ClusterConcentration = quantity(MOLAR, MASS_CONC, unit="uM", ge=0.001, le=1e5,
                                what="cluster concentration (molar or mass)", example="20 uM",
                                alt=(None, 1e-5, 1e3, "mg/mL"))
SaltConcentration = quantity(MOLAR, MASS_CONC, unit="M", ge=1e-9, le=10,
                             what="salt concentration (molar or mass)", example="0.05 M",
                             alt=(None, 1e-6, 1e4, "mg/mL"))
StirRate = quantity(RATE, unit="rpm", gt=0, le=3000, what="stir rate", example="1000 rpm")
Duration = quantity(TIME, unit="s", ge=1, le=7 * 24 * 3600, what="duration", example="5 min")
NonNegativeDuration = quantity(TIME, unit="s", ge=0, le=24 * 3600, what="duration",
                               example="10 min")
Temperature = quantity(TEMPERATURE, unit="degC", ge=-40, le=150, what="temperature",
                       example="25 degC")
Wavelength = quantity(LENGTH, unit="nm", ge=190, le=1100, what="wavelength", example="365 nm")
PathLength = quantity(LENGTH, unit="mm", ge=0.01, le=100, what="optical path length",
                      example="2 mm")
WavelengthTolerance = quantity(LENGTH, unit="nm", gt=0, le=30, what="wavelength tolerance",
                               example="3 nm")
ReagentAmount = quantity(VOLUME, AMOUNT, unit="uL", ge=0.1, le=1e6,
                         what="amount (volume or moles)", example="50 uL",
                         alt=(None, 1e-6, 1e3, "mmol"))
