"""Quantities as chemists write them: parsed with pint, refused with a readable reason."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mscrobot.recipe.quantities import MOLAR, TIME, VOLUME
from mscrobot.units import QuantityError, format_quantity, parse_quantity, ureg


@pytest.mark.parametrize(
    ("text", "dims", "unit", "value"),
    [
        ("500 uL", VOLUME, "uL", 500),
        ("500 µL", VOLUME, "uL", 500),
        ("1.5 mL", VOLUME, "uL", 1500),
        ("0.05 M", MOLAR, "mM", 50),
        ("20 uM", MOLAR, "M", 2e-5),
        ("5 min", TIME, "s", 300),
        ("1 h", TIME, "min", 60),
    ],
)
def test_chemist_notation_parses(text: str, dims: str, unit: str, value: float) -> None:
    assert parse_quantity(text, (dims,)).m_as(unit) == pytest.approx(value)


def test_temperature_with_offset_unit() -> None:
    assert parse_quantity("25 degC", ("[temperature]",)).m_as("K") == pytest.approx(298.15)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("0.05 M", "reads 'M' as molar, a molar concentration; expected a volume"),
        ("500", "has no unit"),
        ("1,5 mL", "decimal point"),
        ("five mL", "cannot read"),
        ("5 parsecs_per_fortnight", "unknown unit"),
        ("10 ** 10 ** 10 uL", "cannot read"),
        ("1e999 uL", "not a finite number"),
        ("x" * 100, "longer than 64"),
    ],
)
def test_bad_quantities_are_explained(text: str, fragment: str) -> None:
    with pytest.raises(QuantityError, match=fragment):
        parse_quantity(text, (VOLUME,))


def test_a_temperature_in_c_says_pint_read_coulomb_and_suggests_degc() -> None:
    with pytest.raises(QuantityError) as e:
        parse_quantity("25 C", ("[temperature]",))
    assert str(e.value) == ("'25 C' reads 'C' as coulomb, an electric charge; expected a "
                            "temperature (e.g. '25 degC')")


def test_non_text_is_refused() -> None:
    for value in (None, [1], {"a": 1}, True, 5, 2.5):
        with pytest.raises(QuantityError):
            parse_quantity(value, (VOLUME,))


@given(
    st.floats(min_value=1e-6, max_value=1e6, allow_nan=False),
    st.sampled_from(["uL", "mL", "L", "M", "mM", "uM", "rpm", "s", "min", "h", "degC", "nm",
                     "mg/mL", "mmol"]),
)
def test_format_parses_back_to_the_same_quantity(magnitude: float, unit: str) -> None:
    q = ureg().Quantity(magnitude, unit)
    back = parse_quantity(format_quantity(q))
    assert back.units == q.units
    assert back.magnitude == q.magnitude


@given(st.text(max_size=80))
def test_any_text_parses_or_raises_quantity_error(text: str) -> None:
    try:
        parse_quantity(text, (VOLUME,))
    except QuantityError as exc:
        assert str(exc)
