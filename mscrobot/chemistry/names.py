"""Names chemists write, and when a close name may be suggested without switching chemistry.

A suggestion a chemist accepts changes the experiment, so "did you mean …?" is offered only
for a typo of a known name, never for a name that is itself another species:

- a **formula** (``ZnI2``, ``Zn(CF3SO3)2``, ``Zn(O2CCH3)2``) is matched by its elemental
  composition, so any way of writing a known salt finds it; a formula of another composition
  that balances its charges (``ZnI2``, ``Zn(NO2)2``, ``CdTe``) names a real other compound and
  gets no suggestion; one that does not balance (``ZnCl``) is a typo and may get one;
- a **word name** is suggested only within two edits of a known name or alias, only when it is
  longer than an abbreviation (``DMA`` is not a typo of ``DMF``), and never when one of its
  words names another metal, anion or solvent (``zinc nitrite``, ``heptane``).
"""

from __future__ import annotations

import re
from collections import Counter


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


ELEMENTS = _words("""
H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As
Se Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd
Tb Dy Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am
Cm Bk Cf Es Fm Md No Lr
""")
#: Abbreviations chemists write inside formulas, as the atoms they stand for.
ABBREVIATIONS = {"OTf": "CF3SO3", "OAc": "CH3COO", "acac": "C5H7O2", "Et": "C2H5",
                 "Me": "CH3"}
#: Common ions by composition and charge, to tell a real other compound from a typo.
CATIONS: dict[str, tuple[int, ...]] = {
    "Zn": (2,), "Cd": (2,), "In": (3,), "Cu": (1, 2), "Ag": (1,), "Au": (1, 3), "Ga": (3,),
    "Hg": (1, 2), "Pb": (2,), "Sn": (2, 4), "Ni": (2,), "Co": (2, 3), "Fe": (2, 3), "Mn": (2,),
    "Mg": (2,), "Ca": (2,), "Na": (1,), "K": (1,), "Li": (1,), "Al": (3,), "Cs": (1,),
    "Ba": (2,), "Sr": (2,), "Cr": (3,), "Bi": (3,), "Sb": (3,), "Ge": (4,), "Ti": (4,),
}
ANIONS: dict[str, int] = {
    "F": 1, "Cl": 1, "Br": 1, "I": 1, "O": 2, "S": 2, "Se": 2, "Te": 2, "NO3": 1, "NO2": 1,
    "SO4": 2, "SO3": 2, "CO3": 2, "PO4": 3, "ClO4": 1, "BF4": 1, "PF6": 1, "CN": 1, "SCN": 1,
    "OH": 1, "CF3SO3": 1, "CH3COO": 1, "HCOO": 1, "C5H7O2": 1,
}
#: Words that name another species: a name holding one is never a typo of a known name.
OTHER_SPECIES = _words("""
cadmium copper silver gold gallium mercury lead tin nickel cobalt iron manganese magnesium
calcium sodium potassium lithium aluminium aluminum caesium cesium barium strontium
chromium bismuth antimony germanium titanium fluoride bromide iodide oxide sulfide
sulphide selenide telluride nitrite sulfate sulphate sulfite carbonate phosphate
perchlorate chlorate hydroxide cyanide thiocyanate formate propionate stearate oleate
acetylacetonate tetrafluoroborate hexafluorophosphate triflimide tosylate mesylate pentane
heptane octane decane dodecane cyclohexane octadecene benzene xylene chloroform
dichloromethane methanol ethanol propanol isopropanol butanol ether diethylether thf dma
dmac nmp dcm pyridine formamide acetamide dimethylacetamide sulfolane nitromethane
""")
#: Shorter names than this are abbreviations: one letter off is another compound.
MIN_TYPO_LENGTH = 5
MAX_TYPO_EDITS = 2

_TOKEN = re.compile(r"([A-Z][a-z]?|\d+|\(|\))")


def composition(formula: str) -> Counter[str] | None:
    """Atoms of each element in ``formula`` (None when it is not a formula)."""
    text = formula.replace(" ", "")
    for abbreviation, atoms in ABBREVIATIONS.items():
        text = text.replace(abbreviation, f"({atoms})")
    if not text or _TOKEN.sub("", text):
        return None
    stack: list[Counter[str]] = [Counter()]
    last: Counter[str] | None = None
    for token in _TOKEN.findall(text):
        if token.isdigit():
            if last is None or int(token) == 0:
                return None
            for element, n in last.items():
                stack[-1][element] += n * (int(token) - 1)
            last = None
        elif token == "(":
            stack.append(Counter())
            last = None
        elif token == ")":
            if len(stack) == 1:
                return None
            group = stack.pop()
            stack[-1].update(group)
            last = group
        else:
            if token not in ELEMENTS:
                return None
            stack[-1][token] += 1
            last = Counter({token: 1})
    return stack[0] if len(stack) == 1 and stack[0] else None


def is_known_compound(atoms: Counter[str]) -> bool:
    """Whether ``atoms`` is one cation with one common anion, charges balanced (ZnI2, CdTe,
    Zn(NO2)2): a real compound, so not a typo of another."""
    for metal, charges in CATIONS.items():
        m = atoms.get(metal, 0)
        if not m:
            continue
        rest = atoms - Counter({metal: m})
        for anion, charge in ANIONS.items():
            unit = composition(anion)
            assert unit is not None
            k = min(rest[e] // n for e, n in unit.items())
            if (k and rest == Counter({e: n * k for e, n in unit.items()})
                    and any(m * c == k * charge for c in charges)):
                return True
    return False


def edits(a: str, b: str) -> int:
    """Optimal-string-alignment distance: insertions, deletions, substitutions, swaps."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i]
        for j, cb in enumerate(b, 1):
            d = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                d = min(d, prev2[j - 2] + 1)
            row.append(d)
        prev2, prev = prev, row
    return prev[-1]


def names_other_species(name: str) -> bool:
    """Whether a word of ``name`` names another metal, anion or solvent."""
    return any(w in OTHER_SPECIES for w in re.split(r"[^a-z]+", name.casefold()) if w)
