"""The example recipes, the JSON Schema and the `recipe new` template stay valid together."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from mscrobot.chemistry import CLUSTERS, SALTS
from mscrobot.recipe import dump_recipe, load_recipe, load_recipe_text
from mscrobot.recipe.schema import recipe_schema, recipe_schema_text
from mscrobot.recipe.template import recipe_template
from tests.examples import example_recipes

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = example_recipes()
SCHEMA_FILE = ROOT / "recipes" / "recipe.schema.json"


def test_there_is_an_example_for_every_system_in_the_paper() -> None:
    systems = set()
    for path in EXAMPLES:
        r = load_recipe(path).recipe
        systems.add((r.cluster.material, r.salt.compound))
    assert {("CdS", s) for s in ("ZnCl2", "Zn(NO3)2", "Zn(OTf)2", "Zn(OAc)2")} <= systems
    assert {("CdSe", "ZnCl2"), ("CdSe", "Zn(OAc)2"), ("ZnSe", "ZnCl2")} <= systems
    assert any(SALTS[s].metal == "In" for _, s in systems)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_is_valid_and_round_trips(path: Path) -> None:
    loaded = load_recipe(path)
    again = load_recipe_text(dump_recipe(loaded.recipe), "dumped")
    assert again.recipe == loaded.recipe


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_schema_validates_example(path: Path) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    jsonschema.validate(data, recipe_schema(), cls=jsonschema.Draft202012Validator)


def test_schema_rejects_what_the_loader_rejects() -> None:
    validator = jsonschema.Draft202012Validator(recipe_schema())
    good = {"name": "x", "cluster": {"material": "CdS", "concentration": "20 uM",
                                     "volume": "1 mL"},
            "salt": {"compound": "ZnCl2", "concentration": "0.05 M", "volume": "1 mL"}}
    assert validator.is_valid(good)
    assert not validator.is_valid({**good, "colour": "red"})
    assert not validator.is_valid({**good, "cluster": {**good["cluster"], "volume": 5}})
    assert not validator.is_valid({**good, "cluster": {**good["cluster"], "material": "CdTe"}})


def test_committed_schema_is_current() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == recipe_schema_text(), (
        "regenerate with: uv run mscrobot recipe schema -o recipes/recipe.schema.json")
    jsonschema.Draft202012Validator.check_schema(json.loads(recipe_schema_text()))


def test_paper_subthreshold_example_warns_and_the_others_do_not_overstate() -> None:
    warned = {p.name: load_recipe(p).warnings for p in EXAMPLES}
    assert any("below the ~7.5" in w.message for w in warned["cds34-zncl2-subthreshold.yaml"])
    assert any("assumption" in w.message for w in warned["cds34-incl3-assumed.yaml"])
    assert warned["cds34-zncl2.yaml"] == []


@pytest.mark.parametrize(("cluster", "salt"),
                         list(itertools.product(sorted({c.material for c in CLUSTERS.values()}),
                                                list(SALTS))))
def test_template_is_valid_for_every_cluster_and_salt(cluster: str, salt: str) -> None:
    text = recipe_template(cluster, salt)
    loaded = load_recipe_text(text, "template")
    assert loaded.recipe.cluster.material == cluster
    assert loaded.recipe.salt.compound == salt


def test_template_name_with_quotes_stays_data() -> None:
    name = 'x": 1\nevil: "'
    loaded = load_recipe_text(recipe_template(name=name.replace("\n", " ")), "template")
    assert loaded.recipe.name == name.replace("\n", " ")
