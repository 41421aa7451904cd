"""``mscrobot recipe new``: a commented recipe a chemist can start from, valid as written.

Values come from the knowledge base, and each comment says whether the paper shows it or we
assume it, so the template teaches the recipe language and the limits of the evidence at once.
"""

from __future__ import annotations

import json

from mscrobot.chemistry import Fact, find_cluster, find_salt, find_solvent
from mscrobot.units import format_quantity, ureg


def _tag(source: str) -> str:
    return {"paper": "paper", "literature": "literature", "handbook": "handbook",
            "derived": "derived"}.get(
        source, "assumed")


def _nm_list(facts: tuple[Fact[float], ...]) -> str:
    q = ureg().Quantity
    return "[" + ", ".join(format_quantity(q(f.value, "nm")) for f in facts) + "]"


def recipe_template(cluster: str = "CdS", salt: str = "ZnCl2", solvent: str = "DMF",
                    name: str | None = None) -> str:
    """Commented YAML for ``cluster`` with ``salt`` in ``solvent``; raises ``UnknownNameError``."""
    c = find_cluster(cluster, 34)
    s, hydrate = find_salt(salt)
    polar = find_solvent(solvent)
    hydrate = hydrate or 0
    alkane = c.paper_solvents[0]
    band_sources = sorted({_tag(f.source) for f in (*c.bands_nonpolar, *c.bands_polar)})
    shown = ", ".join(s.transfers.value) if not s.assumed else "nothing (an assumed salt)"
    back = s.back_exchange.value is True
    back_note = ("OLA back-exchange shown in the paper" if back
                 else "back-exchange not shown in the paper for this salt: off by default")
    title = name or f"({c.material}){c.size} with {s.formula(hydrate)} in {polar.name}"
    return f"""\
# yaml-language-server: $schema=recipe.schema.json
# mscrobot recipe: biphasic ligand exchange of ({c.material}){c.size} with {s.name}.
# Check it with: mscrobot recipe check THIS_FILE
# The paper (Ge et al., Chem. Sci. 2022) shows {s.name} transferring {shown}.
# Numbers marked 'assumed' are ours: replace them with your own.
recipe_version: 1
name: {json.dumps(title, ensure_ascii=False)}
description: ""

cluster:
  material: {c.material}
  size: {c.size}
  ligand: {c.paper_ligands[0]}            # paper
  solvent: {alkane}            # paper; the upper layer
  concentration: 20 uM         # assumed; molar ('20 uM') or mass ('0.1 mg/mL')
  volume: 1.5 mL

salt:
  compound: {s.name}            # {s.transfers.source}
  hydrate: {hydrate}                   # waters per formula unit; known: {sorted(s.molar_masses)}
  solvent: {polar.name}                 # the lower layer
  concentration: 0.05 M        # assumed
  volume: 1.5 mL

vessel: vial-8mL               # filled to at most 6.4 mL

exchange:
  stir_rate: 1000 rpm          # 'vigorous stirring for a short time' (paper); rate assumed
  temperature: 25 degC         # room temperature (paper)
  max_time: 30 min             # assumed
  sampling_interval: 2 min     # stirring between samples
  settle_time: 1 min           # stirrer off before sampling

monitoring:
  phases: [nonpolar, polar]
  sample_volume: 20 uL
  return_samples: false
  bands:                       # {", ".join(band_sources)}; strongest first, paired in order
    nonpolar: {_nm_list(c.bands_nonpolar)}
    polar: {_nm_list(c.bands_polar)}
  n_confirm: 2                 # consecutive samples that must agree

on_stall:                      # tried in order when transfer stops moving
  - action: extend
    by: 10 min
  - action: stop               # ask the operator

back_exchange:                 # {back_note}
  enabled: {"true" if back else "false"}
  ola: 50 uL                   # oleylamine; assumed amount
  hexane_volume: 1 mL          # fresh {alkane} added before the OLA
  stir_time: 2 min
  max_time: 10 min
"""
