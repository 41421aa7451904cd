"""Campaign files in, the list of runs out: every recipe validated, every error placed.

Errors name the campaign file's line (a grid value that makes a bad recipe points at that value,
not at the base recipe), or the recipe file's own line for a listed recipe that is invalid
alone. Grid points are written back out as recipe YAML (``dump_recipe``), so each run's journal
holds the exact recipe it ran and ``mscrobot run --resume`` needs no campaign file.
"""

from __future__ import annotations

import copy
import itertools
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from mscrobot.app.feasibility import check_lab
from mscrobot.campaign.models import EQUIVALENTS, Campaign
from mscrobot.campaign.stocks import stock_sheet
from mscrobot.lab.config import LabConfig, LabError, load_lab
from mscrobot.recipe.checks import check_recipe
from mscrobot.recipe.loader import dump_recipe, load_recipe, load_recipe_document
from mscrobot.recipe.models import Recipe
from mscrobot.yamldoc import (
    Document,
    DocumentError,
    Problem,
    Severity,
    parse_document,
    read_document,
    validate_document,
)

CampaignError = DocumentError
#: A grid point's recipe is named after its base and its values, cut to the recipe's limit.
MAX_NAME = 80


@dataclass
class PlannedRun:
    """One run of the campaign: its recipe (and the text its journal keeps), seed, grid values."""

    index: int
    recipe: Recipe
    recipe_text: str
    recipe_source: str
    seed: int
    axes: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.axes.items()) or self.recipe.name


@dataclass
class LoadedCampaign:
    campaign: Campaign
    source: str
    text: str
    lab: LabConfig
    lab_text: str
    runs: list[PlannedRun]
    warnings: list[Problem] = field(default_factory=list)


def load_campaign(path: str | Path, lab_override: str | None = None) -> LoadedCampaign:
    """Read and validate a campaign file and everything it names; raises ``CampaignError``."""
    doc = read_document(path)
    campaign = validate_document(Campaign, doc)
    base_dir = Path(path).parent
    lab, lab_text = _lab(doc, campaign, base_dir, lab_override)
    problems: list[Problem] = [_at(doc, ("lab",), m) for m in _connected(lab)]
    warnings: list[Problem] = []
    recipes: list[tuple[Recipe, str, str, dict[str, str], tuple[Any, ...]]] = []
    for i, ref in enumerate(campaign.recipes):
        try:
            loaded = load_recipe(_resolve(base_dir, ref))
        except DocumentError as e:
            problems += [_at(doc, ("recipes", i), f"recipe {ref}: {p}") for p in e.problems
                         if p.severity == "error"]
            continue
        warnings += loaded.warnings
        recipes.append((loaded.recipe, loaded.text, loaded.source, {}, ("recipes", i)))
    if campaign.grid is not None:
        points, grid_problems, grid_warnings = _grid(doc, campaign, base_dir)
        problems += grid_problems
        warnings += grid_warnings
        recipes += points
    for recipe, _, _, axes, loc in recipes:
        where = ", ".join(f"{k}={v}" for k, v in axes.items())
        problems += [_at(doc, loc, f"lab '{lab.name}' cannot run "
                         + (f"the grid point {where}" if where else f"recipe '{recipe.name}'")
                         + f": {reason}") for reason in check_lab(lab, recipe)]
    if problems:
        raise CampaignError(_dedupe(problems))
    runs = []
    for recipe, text, source, axes, _ in recipes:
        for _ in range(campaign.replicates):
            k = len(runs)
            runs.append(PlannedRun(k, recipe, text, source, campaign.seed + k, axes))
    warnings += [_at(doc, ("lab",), f"on a lab, the {len(s.runs)} runs using {s.position} "
                     f"({s.contents}) may take {s.worst_case_ul / 1000:.3g} mL together; one "
                     f"vial there holds {s.deck_holds_ul / 1000:.3g} mL (a dry run gives each "
                     "run a fresh deck)", "warning")
                 for s in stock_sheet([r.recipe for r in runs], lab) if s.short]
    return LoadedCampaign(campaign, doc.source, doc.text, lab, lab_text, runs,
                          _dedupe(warnings))


def _connected(lab: LabConfig) -> list[str]:
    """Why a campaign cannot run on this lab: one that drives real instruments (or their
    emulators) has one reaction vial, one stock of each kind and one robot run, which every
    run would share; lab configs cannot yet name a vial and stirrer per stir position."""
    devices = [what for what, real in (
        (f"the robot at {lab.liquid_handler.robot}", lab.liquid_handler.backend == "opentrons"
         and lab.liquid_handler.robot != "simulate"),
        ("an IKA stirrer", lab.stirrer.backend == "ika"),
        ("an Ocean spectrometer", lab.spectrometer.backend == "ocean")) if real]
    if not devices:
        return []
    return [f"lab '{lab.name}' drives {', '.join(devices)}: every run of a campaign would use "
            "its one reaction vial, its stocks and its robot, so campaigns run only on simulated "
            "labs (e.g. 'simulated', 'twin') until a lab config names a vial and stirrer per "
            "stir position; run its recipes one at a time with `mscrobot run`"]


def _resolve(base_dir: Path, ref: str) -> Path:
    p = Path(ref)
    return p if p.is_absolute() else base_dir / p


def _at(doc: Document, loc: tuple[Any, ...], message: str,
        severity: Severity = "error") -> Problem:
    return doc.problem(loc, message, severity)


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen, out = set(), []
    for p in problems:
        key = (p.source, p.line, p.column, p.path, p.message)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def _lab(doc: Document, campaign: Campaign, base_dir: Path, override: str | None
         ) -> tuple[LabConfig, str]:
    ref: str | Path = override if override is not None else campaign.lab
    if override is None and (campaign.lab.endswith((".yaml", ".yml")) or "/" in campaign.lab):
        ref = _resolve(base_dir, campaign.lab)
    try:
        return load_lab(ref)
    except LabError as e:
        if override is not None:
            raise
        raise CampaignError([_at(doc, ("lab",), f"lab {campaign.lab}: {p}")
                             for p in e.problems]) from None


# --- grids ------------------------------------------------------------------------------------

def _grid(doc: Document, campaign: Campaign, base_dir: Path
          ) -> tuple[list[tuple[Recipe, str, str, dict[str, str], tuple[Any, ...]]],
                     list[Problem], list[Problem]]:
    grid = campaign.grid
    assert grid is not None
    base_path = _resolve(base_dir, grid.base)
    try:
        base_doc = read_document(base_path)
        base = load_recipe_document(base_doc)
    except DocumentError as e:
        return [], [_at(doc, ("grid", "base"), f"recipe {grid.base}: {p}") for p in e.problems
                    if p.severity == "error"], []
    problems = [_at(doc, ("grid", "vary", key), f"unknown recipe field {key!r}")
                for key in grid.vary if key != EQUIVALENTS and not _is_field(key)]
    if problems:
        return [], problems, []
    points, warnings = [], list(base.warnings)
    keys = list(grid.vary)
    for combo in itertools.product(*(list(enumerate(grid.vary[k])) for k in keys)):
        chosen = {k: (i, v) for k, (i, v) in zip(keys, combo, strict=True)}
        data = copy.deepcopy(base_doc.data)
        for key, (_, value) in chosen.items():
            if key != EQUIVALENTS:
                _set(data, key.split("."), value)
        label = ", ".join(f"{k.split('.')[-1]} {_shown(v)}" for k, (_, v) in chosen.items())
        data["name"] = f"{base.recipe.name} [{label}]"[:MAX_NAME]
        found = _grid_point(doc, base_doc, data, chosen)
        if isinstance(found, list):
            problems += found
            continue
        recipe, point_warnings = found
        warnings += point_warnings
        axes = {k: _shown(v) for k, (_, v) in chosen.items()}
        points.append((recipe, dump_recipe(recipe), f"{doc.source} (grid: {base_path})", axes,
                       ("grid",)))
    return points, problems, warnings


def _grid_point(doc: Document, base_doc: Document, data: dict[str, Any],
                chosen: dict[str, tuple[int, Any]]) -> tuple[Recipe, list[Problem]] | list[Problem]:
    """The recipe of one grid point, or the problems placed at the campaign values behind them."""
    try:
        recipe = _validate(base_doc, data)
        if EQUIVALENTS in chosen:
            i, eq = chosen[EQUIVALENTS]
            if not isinstance(eq, int | float) or isinstance(eq, bool) or eq <= 0:
                return [_at(doc, ("grid", "vary", EQUIVALENTS, i),
                            f"{eq!r}: equivalents are a positive number (metal per cluster)")]
            molar = float(recipe.salt.concentration.m_as("M")) * eq \
                / recipe.equivalents_per_cluster()
            data["salt"]["concentration"] = f"{molar * 1e3:.6g} mM"
            recipe = _validate(base_doc, data)
    except DocumentError as e:
        return [_placed(doc, p, chosen) for p in e.problems]
    findings = check_recipe(recipe)
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        return [_placed(doc, Problem(base_doc.source, 1, 1, ".".join(map(str, f.loc)),
                                     f.message), chosen) for f in errors]
    where = ", ".join(f"{k}={_shown(v)}" for k, (_, v) in chosen.items())
    return recipe, [_at(doc, ("grid", "vary"), f"for {where}: "
                        f"{'.'.join(map(str, f.loc))}: {f.message}", "warning")
                    for f in findings]


def _validate(base_doc: Document, data: dict[str, Any]) -> Recipe:
    return validate_document(Recipe, Document(base_doc.source, data, base_doc.value_marks,
                                              base_doc.key_marks))


def _placed(doc: Document, problem: Problem, chosen: dict[str, tuple[int, Any]]) -> Problem:
    """A grid point's problem, at the campaign value it comes from (or the whole grid)."""
    for key, (i, value) in chosen.items():
        target = "salt.concentration" if key == EQUIVALENTS else key
        if problem.path == target or problem.path.startswith(target + "."):
            return _at(doc, ("grid", "vary", key, i), f"{_shown(value)}: "
                       + (f"{problem.path}: " if problem.path != target else "")
                       + problem.message)
    where = ", ".join(f"{k}={_shown(v)}" for k, (_, v) in chosen.items())
    return _at(doc, ("grid", "vary"), f"with {where}: "
               + (f"{problem.path}: " if problem.path else "") + problem.message)


def _shown(value: Any) -> str:
    return str(value) if not isinstance(value, dict | list) else repr(value)


def _set(data: dict[str, Any], parts: list[str], value: Any) -> None:
    node = data
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[parts[-1]] = value


def _is_field(dotted: str) -> bool:
    """Whether ``dotted`` names a field of the recipe (through nested models)."""
    current: Any = Recipe
    for part in dotted.split("."):
        model = _model_in(current)
        if model is None or part not in model.model_fields:
            return False
        current = model.model_fields[part].annotation
    return True


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def parse_campaign_text(text: str, source: str = "<campaign>") -> Campaign:
    """Validate campaign text alone (no recipe files read): for tests and editors."""
    return validate_document(Campaign, parse_document(text, source))
