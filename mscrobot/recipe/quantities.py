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
) -> Any:
    """An annotated Quantity field type of dimension ``dims``, bounded in ``unit``."""

    def validate(value: Any) -> pint.Quantity:
        if isinstance(value, pint.Quantity):
            q = value
            if str(q.dimensionality) not in dims:
                raise QuantityError(f"expected a {what}, got {format_quantity(q)}")
        else:
            q = parse_quantity(value, dims)
        # Bounds apply in ``unit`` only for the dimension it belongs to; a second allowed
        # dimension (mass vs molar concentration) is checked for sign only.
        same = str(q.dimensionality) == str(ureg().Quantity(1, unit).dimensionality)
        m = q.m_as(unit) if same else q.magnitude
        shown = format_quantity(q)
        if gt is not None and not m > (gt if same else 0):
            raise QuantityError(f"{shown} must be more than {_bound(gt, unit)}")
        if ge is not None and not m >= (ge if same else 0):
            raise QuantityError(f"{shown} must be at least {_bound(ge, unit)}")
        if le is not None and same and not m <= le:
            raise QuantityError(f"{shown} is more than the {le:g} {unit} allowed for a {what}")
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
    return "zero" if value == 0 else f"{value:g} {unit}"


Volume = quantity(VOLUME, unit="mL", gt=0, le=1000, what="volume", example="500 uL")
NonNegativeVolume = quantity(VOLUME, unit="mL", ge=0, le=1000, what="volume", example="0 uL")
MolarConcentration = quantity(MOLAR, unit="M", gt=0, le=10, what="molar concentration",
                              example="0.05 M")
ClusterConcentration = quantity(MOLAR, MASS_CONC, unit="M", gt=0, le=0.1,
                                what="cluster concentration (molar or mass)", example="20 uM")
StirRate = quantity(RATE, unit="rpm", gt=0, le=3000, what="stir rate", example="1000 rpm")
Duration = quantity(TIME, unit="s", gt=0, le=7 * 24 * 3600, what="duration", example="5 min")
Temperature = quantity(TEMPERATURE, unit="degC", ge=-40, le=150, what="temperature",
                       example="25 degC")
Wavelength = quantity(LENGTH, unit="nm", ge=190, le=1100, what="wavelength", example="365 nm")
WavelengthTolerance = quantity(LENGTH, unit="nm", gt=0, le=30, what="wavelength tolerance",
                               example="3 nm")
ReagentAmount = quantity(VOLUME, AMOUNT, unit="mL", gt=0, le=1000,
                         what="amount (volume or moles)", example="50 uL")
