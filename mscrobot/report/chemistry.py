"""The chemist's part of a run's record: amounts and masses, the recipe check's warnings and
what the run relied on beyond the paper — read from the journaled recipe and lab, so a report
or a notebook entry written later says what the run was started with.

A run's record keeps the warnings and what it relied on beyond the paper as they were when it
was created (``meta['warnings']``, ``meta['beyond_the_paper']``); runs from before that get them
computed again from the journaled recipe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mscrobot.recipe.amounts import Amounts, amounts
from mscrobot.recipe.checks import DEFAULT_PATH_CM
from mscrobot.recipe.provenance import Reliance, beyond_the_paper, chemistry_caveat
from mscrobot.units import format_molar


@dataclass
class Chemistry:
    amounts: Amounts | None = None
    #: the lab's stock volumes (µL by deck role), for masses to weigh
    stocks_ul: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    beyond: list[Reliance] = field(default_factory=list)
    #: on a simulated lab every verdict rests on the twin's (assumed) kinetics
    simulated: bool = False
    caveat: str = ""
    path_cm: float = DEFAULT_PATH_CM
    #: the lab file gives the path (else it is the shipped labs' 2 mm, assumed)
    path_given: bool = False
    #: how the lab's spectrometer takes its darks (``spectrometer.dark``; each spectrum
    #: records it too, in ``meta['dark_mode']``)
    dark_mode: str = ""
    problems: list[str] = field(default_factory=list)

    def verdict_note(self) -> str:
        """What a verdict rests on beyond the paper, to print beside it ('' if nothing)."""
        parts = (["twin: assumed kinetics"] if self.simulated and self.caveat else [])
        parts += [self.caveat] if self.caveat else []
        return "; ".join(parts)


def chemistry_of(meta: dict[str, Any]) -> Chemistry:
    """The chemistry of the run whose journal ``meta`` this is; what cannot be read again
    becomes a problem line, never an exception (a report of a broken run still opens)."""
    from mscrobot.lab.config import LabError, lab_from_text
    from mscrobot.recipe.loader import load_recipe_text
    from mscrobot.yamldoc import DocumentError

    out = Chemistry()
    try:
        loaded = load_recipe_text(meta["recipe_text"], meta.get("recipe_source") or "<recipe>")
    except (KeyError, DocumentError) as e:
        out.problems.append(f"the journaled recipe cannot be read again: {e}")
        return out
    recipe = loaded.recipe
    out.amounts = amounts(recipe)
    out.warnings = list(meta["warnings"]) if "warnings" in meta else [
        str(w) for w in loaded.warnings]
    out.beyond = ([Reliance(**r) for r in meta["beyond_the_paper"]]
                  if "beyond_the_paper" in meta else beyond_the_paper(recipe))
    out.caveat = chemistry_caveat(recipe)
    try:
        lab = lab_from_text(meta["lab_text"])
    except (KeyError, LabError) as e:
        out.problems.append(f"the journaled lab cannot be read again: {e}")
        return out
    out.stocks_ul = {role: float(pos.volume.m_as("uL")) for role, pos in lab.deck.items()}
    out.simulated = (lab.stirrer.backend == "simulated"
                     and lab.spectrometer.backend == "simulated")
    out.path_cm = float(lab.spectrometer.path_length.m_as("cm"))
    out.path_given = "path_length" in lab.spectrometer.model_fields_set
    out.dark_mode = lab.spectrometer.dark_mode
    return out


#: What each dark mode means, for people (the lab file's modes, the emulator's, the twin's).
DARK_MEANING = {
    "emulator": "the spectrometer emulator's lamp, closed over its physics link",
    "simulated": "the twin's detector (a simulated dark)",
}


def amount_rows(c: Chemistry) -> list[tuple[str, str]]:
    """(what, how much) rows for a table."""
    a = c.amounts
    if a is None:
        return []
    rows = [("clusters", f"{a.cluster_nmol:.3g} nmol {a.cluster} ({a.cluster_um:.3g} µM stock)"),
            (f"{a.metal} from {a.salt}",
             f"{a.metal_umol:.3g} µmol ({format_molar(a.salt_molar)} stock)"),
            ("metal per cluster", f"{a.metal_per_cluster:.4g} {a.metal}")]
    if a.ola_ul > 0:
        rows.append(("oleylamine (back-exchange)", f"{a.ola_ul:.3g} µL = {a.ola_umol:.3g} µmol "
                                                   f"= {a.ola_per_cluster:.4g} per cluster"))
    for role, what, mg in (("salt_stock", a.salt, a.salt_mg),
                           ("cluster_stock", f"{a.cluster} (capped)", a.cluster_mg)):
        ul = c.stocks_ul.get(role)
        if ul:
            rows.append((f"to weigh for the {role.replace('_', ' ')}",
                         f"{mg(ul):.3g} mg {what} in {ul / 1000:.3g} mL"))
    rows.append(("flow-cell path", f"{c.path_cm * 10:g} mm" + (
        " (the lab file's)" if c.path_given else " (the shipped labs' cell; assumed)")))
    if c.dark_mode:
        from mscrobot.lab.config import DARK_MODES

        meaning = {**DARK_MODES, **DARK_MEANING}.get(c.dark_mode, "")
        rows.append(("darks", f"{c.dark_mode}: {meaning}" if meaning else c.dark_mode))
    return rows
