"""Chemistry knowledge base: clusters, salts, solvents and reagents, every number source-tagged.

Look-ups accept the spellings chemists use (case, spaces, ``·6H2O`` suffixes) and raise
``UnknownNameError`` with the nearest known names, so a recipe error can say "did you mean …?".
"""

from __future__ import annotations

import difflib
import re

from mscrobot.chemistry.clusters import CLUSTERS, Cluster, shifted_by_energy
from mscrobot.chemistry.facts import SOURCES, Fact, Source
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
    """'did you mean 'X'?' for the closest of ``known`` (or of an alias of one), else the list.

    ``aliases`` maps other spellings to the canonical name that is suggested for them.
    """
    by_norm = {_norm(k): k for k in known}
    by_norm.update({_norm(a): c for a, c in (aliases or {}).items()})
    close = difflib.get_close_matches(_norm(name), list(by_norm), n=1, cutoff=0.5)
    if close:
        return f"did you mean {by_norm[close[0]]!r}?"
    return "known: " + ", ".join(known)


def _lookup(kind: str, name: str, table: dict[str, tuple[str, ...]]) -> str:
    wanted = _norm(name)
    for canonical, aliases in table.items():
        if wanted in {_norm(canonical), *(_norm(a) for a in aliases)}:
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


def find_salt(name: str) -> tuple[Salt, int | None]:
    """The salt named by ``name`` and the hydrate it names (``Zn(NO3)2·6H2O`` → 6), if any."""
    hydrate: int | None = None
    match = _HYDRATE.match(name.strip())
    if match:
        name, hydrate = match["salt"], int(match["n"])
    canonical = _lookup("salt", name, {s.name: s.aliases for s in SALTS.values()})
    return SALTS[canonical], hydrate


def find_solvent(name: str) -> Solvent:
    canonical = _lookup("solvent", name, {s.name: s.aliases for s in SOLVENTS.values()})
    return SOLVENTS[canonical]
