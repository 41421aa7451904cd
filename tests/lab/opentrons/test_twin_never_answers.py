"""On a lab with any real device the twin never answers a question about the world: an
operation a robot no longer knows (restarted, another client's run) is 'unknown' even where
the simulated world follows the robot, and the twin's fault injection is refused there."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mscrobot.app.labs import assemble_lab
from mscrobot.lab.config import LabError, lab_from_text
from mscrobot.lab.opentrons.emulator import RobotEmulator, serve
from mscrobot.lab.opentrons.handler import OpentronsLiquidHandler
from mscrobot.recipe.loader import load_recipe

ROOT = Path(__file__).resolve().parents[3]
EMULATED_LAB = ROOT / "hardware/labs/opentrons-emulated.yaml"
REFERENCE = ROOT / "recipes/cds34-zncl2.yaml"


def _robot() -> Iterator[str]:
    robot = RobotEmulator("OT-2")
    server = serve(robot, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        robot.settle()
        server.shutdown()
        server.server_close()
        robot.close()


def _text(url: str) -> str:
    return EMULATED_LAB.read_text().replace("http://127.0.0.1:31950", url)


@pytest.mark.slow  # ~3 s: two robots' deck setups
def test_an_operation_a_restarted_robot_forgot_is_unknown_though_the_twin_follows(
        tmp_path: Path) -> None:
    recipe = load_recipe(REFERENCE).recipe
    for first in _robot():
        built = assemble_lab(lab_from_text(_text(first)), recipe, 0, tmp_path)
        h = built.lab.liquid_handler
        assert isinstance(h, OpentronsLiquidHandler) and h.follower is not None
        h.dispense("run/1", "salt_stock", "reaction", 1500.0, "polar")
        h.log.close()  # killed after its last command, before its done line
        assert built.world is not None
        built.world.close()
    log = tmp_path / "opentrons.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    assert json.loads(lines[-1]) == {"op": "run/1", "done": True}
    log.write_text("".join(lines[:-1]))
    for second in _robot():  # the robot restarted: it knows none of the earlier runs
        again = assemble_lab(lab_from_text(_text(second)), recipe, 0, tmp_path)
        try:
            h = again.lab.liquid_handler
            assert isinstance(h, OpentronsLiquidHandler) and not h.follower_answers
            assert again.world is not None and "run/1" in again.world.done_ops  # twin knew
            assert h.status_of("run/1") == "unknown"  # and is not asked: the operator is
            assert h.volumes()["reaction"] == 0.0
        finally:
            again.lab.close()


def test_the_twins_fault_injection_is_refused_on_a_lab_with_a_real_device() -> None:
    text = _text("http://127.0.0.1:31950").replace(
        "sample_time: 20 s", "sample_time: 20 s\n  transient_failures: 2")
    line = text.splitlines().index("  transient_failures: 2") + 1
    with pytest.raises(LabError, match=rf"<lab>:{line}:\d+: liquid_handler.transient_failures: "
                                       "injects faults .* is a real device"):
        lab_from_text(text)
    with_stirrer = (ROOT / "hardware/labs/simulated.yaml").read_text().replace(
        "sample_time: 20 s", "sample_time: 20 s\n  transient_failures: 2").replace(
        "backend: simulated\n  max_rpm", "backend: ika\n  url: socket://127.0.0.1:4001\n"
        "  max_rpm", 1)
    with pytest.raises(LabError, match=r"a real device \(stirrer\) takes none"):
        lab_from_text(with_stirrer)
    simulated = (ROOT / "hardware/labs/simulated.yaml").read_text().replace(
        "sample_time: 20 s", "sample_time: 20 s\n  transient_failures: 2")
    assert lab_from_text(simulated).liquid_handler.transient_failures == 2
    assert lab_from_text(simulated).real_devices == []
