"""Chemistry knowledge base: clusters, salts, solvents and reagents, every number source-tagged.

Look-ups accept the spellings chemists use (case, spaces, ``·6H2O`` suffixes, common names,
any formula of the same composition: ``Zn(CF3SO3)2`` is ``Zn(OTf)2``) and raise
``UnknownNameError`` listing the known names; "did you mean …?" only for a typo of one, never
for a name that is another species (``names``).
"""

from __future__ import annotations

import re

from mscrobot.chemistry.clusters import CLUSTERS, Cluster, shifted_by_energy
from mscrobot.chemistry.facts import SOURCES, Fact, Source
from mscrobot.chemistry.names import (
    MAX_TYPO_EDITS,
    MIN_TYPO_LENGTH,
    composition,
    edits,
    is_known_compound,
    names_other_species,
)
from mscrobot.chemistry.reagents import OLEYLAMINE, Reagent
from mscrobot.chemistry.salts import SALTS, Salt, SaltAbsorption
from mscrobot.chemistry.solvents import SOLVENTS, Solvent

__all__ = [
    "CLUSTERS",
    "OLEYLAMINE",
    "SALTS",
    "SOLVENTS",
    "SOURCES",
    "Cluster",
    "Fact",
    "Reagent",
    "Salt",
    "SaltAbsorption",
    "Solvent",
    "Source",
    "UnknownNameError",
    "find_cluster",
    "find_salt",
    "find_solvent",
    "shifted_by_energy",
    "suggest",
]


class UnknownNameError(ValueError):
    """A name the knowledge base does not know; the message carries the nearest known names."""


def _norm(text: str) -> str:
    return re.sub(r"[\s_\-]", "", text).casefold()


def suggest(name: str, known: list[str], aliases: dict[str, str] | None = None) -> str:
    """'did you mean 'X'?' when ``name`` is a typo of one of ``known`` (or of an alias of one),
    else the known names. ``aliases`` maps other spellings to the canonical name suggested for
    them. A name that is itself another species never gets a suggestion (``names``)."""
    listing = "known: " + ", ".join(known)
    if not _may_be_typo(name):
        return listing
    spellings = {_norm(k): k for k in known}
    spellings.update({_norm(a): c for a, c in (aliases or {}).items()})
    wanted = _norm(name)
    distance = {s: edits(wanted, s) for s in spellings}
    best = min(distance.values(), default=MAX_TYPO_EDITS + 1)
    meant = {spellings[s] for s, d in distance.items() if d == best}
    if best > MAX_TYPO_EDITS or len(meant) > 1:  # far from all, or as near to two: no guess
        return listing
    return f"did you mean {meant.pop()!r}?"


def _may_be_typo(name: str) -> bool:
    atoms = composition(name.strip())
    if atoms is not None:
        return not is_known_compound(atoms)
    return len(_norm(name)) >= MIN_TYPO_LENGTH and not names_other_species(name)


def _lookup(kind: str, name: str, table: dict[str, tuple[str, ...]],
            by_composition: bool = False) -> str:
    """The canonical name ``name`` spells: the same letters or, ``by_composition``, a formula of
    the same composition as a known name or formula alias. Only salts are matched so: one
    composition is one salt here, while molecules have isomers (C3H7NO is DMF and also
    N-methylacetamide), so a solvent must be spelled as one of its names."""
    wanted = _norm(name)
    for canonical, aliases in table.items():
        if wanted in {_norm(canonical), *(_norm(a) for a in aliases)}:
            return canonical
    atoms = composition(name.strip()) if by_composition else None
    if atoms is not None:
        for canonical, aliases in table.items():
            if any(composition(n) == atoms for n in (canonical, *aliases)):
                return canonical
    aliases = {a: canonical for canonical, names in table.items() for a in names}
    raise UnknownNameError(f"unknown {kind} {name!r}; {suggest(name, list(table), aliases)}")


def find_cluster(material: str, size: int = 34) -> Cluster:
    canonical = _lookup("cluster", material, {c.material: () for c in CLUSTERS.values()})
    key = f"{canonical}{size}"
    if key not in CLUSTERS:
        sizes = sorted(c.size for c in CLUSTERS.values() if c.material == canonical)
        known = ", ".join(map(str, sizes))
        raise UnknownNameError(f"no ({canonical}){size} cluster in the knowledge base; "
                               f"known sizes: {known}")
    return CLUSTERS[key]


_HYDRATE = re.compile(r"^(?P<salt>.+?)\s*[·.*]\s*(?P<n>\d+)\s*H2O$", re.IGNORECASE)
#: "zinc nitrate hexahydrate", "Zn(OAc)2 dihydrate"
_HYDRATE_NAME = re.compile(r"^(?P<salt>.+?)\s+(?P<word>[a-z]+hydrate)$", re.IGNORECASE)


def find_salt(name: str) -> tuple[Salt, int | None]:
    """The salt named by ``name`` and the hydrate it names (``Zn(NO3)2·6H2O`` → 6), if any."""
    hydrate: int | None = None
    match = _HYDRATE.match(name.strip())
    if match:
        name, hydrate = match["salt"], int(match["n"])
    named = _HYDRATE_NAME.match(name.strip())
    if hydrate is None and named:
        name, word = named["salt"], named["word"].casefold()
    canonical = _lookup("salt", name, {s.name: s.aliases for s in SALTS.values()}, True)
    salt = SALTS[canonical]
    if hydrate is None and named:
        by_word = {w: n for n, w in salt.hydrate_names.items()}
        if word not in by_word:
            known = ", ".join(f"{w} (·{n}H2O)" for n, w in salt.hydrate_names.items()) or "none"
            raise UnknownNameError(f"{canonical} has no known {word}; known hydrates: {known}")
        hydrate = by_word[word]
    return salt, hydrate


def find_solvent(name: str) -> Solvent:
    canonical = _lookup("solvent", name, {s.name: s.aliases for s in SOLVENTS.values()})
    return SOLVENTS[canonical]
