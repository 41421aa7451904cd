"""A valid recipe as YAML text, with single fields changed by the tests."""

from __future__ import annotations

import copy
from typing import Any

import yaml

BASE: dict[str, Any] = {
    "name": "test recipe",
    "cluster": {"material": "CdS", "ligand": "BTA", "solvent": "hexane",
                "concentration": "20 uM", "volume": "1.5 mL"},
    "salt": {"compound": "ZnCl2", "solvent": "DMF", "concentration": "0.05 M",
             "volume": "1.5 mL"},
}


def recipe_yaml(**changes: Any) -> str:
    """BASE with dotted-path changes applied (``salt__solvent="acetone"``); None deletes."""
    data = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        node = data
        for p in parents:
            node = node.setdefault(p, {})
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
