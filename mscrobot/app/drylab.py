"""A dry run of your exact lab: the lab file as written — deck, labware, pipettes, robot type,
timings, vessel holders — with every device backend replaced by its simulated counterpart.

The robot becomes Opentrons' own engine in this process (same robot type, pipettes, racks and
labware, so tips, volumes and deck conflicts are judged as the robot would), the stirrer the
twin's (with the real one's top speed, read from its profile file), the spectrometer the twin's
(with the real one's wavelength range), and the clock virtual. Nothing in it opens a port or
sends a byte to a device: ``mscrobot plan``, ``run --dry-run`` and ``recipe check --lab`` use
it, and a test points every device of a lab at listening sockets to prove it.
"""

from __future__ import annotations

import yaml

from mscrobot.app.feasibility import stirrer_max_rpm
from mscrobot.lab.config import LabConfig, SpectrometerConfig, StirrerConfig
from mscrobot.recipe.models import Recipe
from mscrobot.units import ureg


def dry_counterpart(config: LabConfig) -> LabConfig:
    """``config`` with simulated devices in place of real or emulated ones."""
    lh = config.liquid_handler
    if lh.backend == "opentrons" and lh.robot != "simulate":
        lh = lh.model_copy(update={"robot": "simulate"})
    stirrer = config.stirrer
    if stirrer.backend != "simulated":
        stirrer = StirrerConfig(backend="simulated",
                                max_rpm=ureg().Quantity(stirrer_max_rpm(config), "rpm"))
    spectrometer = config.spectrometer
    if spectrometer.backend != "simulated":
        spectrometer = SpectrometerConfig(range_min=spectrometer.range_min,
                                          range_max=spectrometer.range_max)
    if (lh is config.liquid_handler and stirrer is config.stirrer
            and spectrometer is config.spectrometer and config.clock == "virtual"):
        return config
    return config.model_copy(update={  # virtual time takes no speedup (the lab's is real)
        "name": f"{config.name} (dry run)", "clock": "virtual", "speedup": 1.0,
        "liquid_handler": lh, "stirrer": stirrer, "spectrometer": spectrometer})


def lab_text(config: LabConfig) -> str:
    """The config as lab YAML (a dry run's journal keeps the lab it really ran on)."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


#: The recipe field behind what a lab refuses (by the deck role or device it names), so the
#: refusal points at a line the chemist can change.
FIELD_OF = (("sample", ("monitoring", "sample_volume")), ("salt_stock", ("salt", "volume")),
            ("cluster_stock", ("cluster", "volume")),
            ("hexane_stock", ("back_exchange", "hexane_volume")),
            ("ola_stock", ("back_exchange", "ola")), ("reaction vessel", ("vessel",)),
            ("flow cell", ("monitoring", "sample_volume")),
            ("stirrer", ("exchange", "stir_rate")), ("spectrometer", ("monitoring", "bands")))


def _field(message: str) -> tuple[str, ...]:
    head = message.split(":", 1)[0]
    return next((loc for word, loc in FIELD_OF if word in head), ())


def refusals(recipe: Recipe, config: LabConfig) -> list[tuple[tuple[str, ...], str]]:
    """Everything ``config`` would refuse of ``recipe``, before anything moves: the lab check,
    then a dry run on its simulated counterpart up to the first step it refuses. Each comes
    with the recipe field it points at (``()``: the recipe as a whole)."""
    from mscrobot.app.dryrun import simulate
    from mscrobot.app.feasibility import check_lab
    from mscrobot.recipe.checks import DEFAULT_PATH_CM, readable

    found = [(_field(p), f"lab '{config.name}': {p}") for p in check_lab(config, recipe)]
    path_cm = float(config.spectrometer.path_length.m_as("cm"))
    if path_cm != DEFAULT_PATH_CM:  # the recipe check judged the shipped labs' cell
        found += [(f.loc, f"lab '{config.name}': {f.message}") for f in readable(recipe, path_cm)
                  if f.severity == "error"]
    if found:
        return found
    run = simulate(recipe, lab=dry_counterpart(config))
    if run.end == "failed":
        found.append((_field(run.reason.split("): ", 1)[0].split("(", 1)[-1]),
                      f"lab '{config.name}' refuses it in a dry run at {run.reason}"))
    return found
