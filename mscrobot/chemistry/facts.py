"""Numbers with provenance: every value in the knowledge base says where it comes from.

The paper (Ge et al., Chem. Sci. 2022, 13, 11755) shows less than one might think; tagging each
number keeps what it shows apart from what we assume, so an assumed constant is easy to find and
replace by a measurement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

#: ``derived``: the software's own conversion of a sourced number (its note names the source and
#: the arithmetic), so a converted number is never passed off as the source's.
Source = Literal["paper", "literature", "handbook", "derived", "assumed"]
SOURCES: tuple[Source, ...] = ("paper", "literature", "handbook", "derived", "assumed")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Fact(Generic[T]):
    """A value, the kind of source behind it, and a note saying exactly what that source says."""

    value: T
    source: Source
    note: str = ""

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"unknown source tag {self.source!r}")


def paper(value: T, note: str = "") -> Fact[T]:
    return Fact(value, "paper", note)


def literature(value: T, note: str = "") -> Fact[T]:
    return Fact(value, "literature", note)


def handbook(value: T, note: str = "") -> Fact[T]:
    return Fact(value, "handbook", note)


def derived(value: T, note: str = "") -> Fact[T]:
    return Fact(value, "derived", note)


def assumed(value: T, note: str = "") -> Fact[T]:
    return Fact(value, "assumed", note)
