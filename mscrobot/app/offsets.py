"""``mscrobot lab offsets import``: labware offsets measured by the Opentrons App into a lab file.

Labware Position Check measures where each labware really is in its slot and keeps the result
as labware offsets: ``{definitionUri, location: {slotName}, vector: {x, y, z}}`` (mm), the
shape the robot takes in a new run's ``labwareOffsets`` and lists in ``GET /runs/{id}``; a
newer robot also stores them (``GET /labwareOffsets``, located by a ``locationSequence``). Any
of those is read here: a list of offsets, a robot's answer (``{"data": [...]}``, a run's
``{"data": {"labwareOffsets": [...]}}``) or ``{"labwareOffsets": [...]}``. For one labware in
one slot the last offset wins, as on the robot. Each is matched to this lab's deck by load name
and slot; one on a module or an adapter, or for labware this lab does not load there, is left
out and said. The lab file's ``offsets:`` block is then replaced (the rest of the file is kept
as written), and the new text is validated as a lab before it is written.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mscrobot.lab.config import LabConfig, lab_from_text
from mscrobot.lab.opentrons.layout import same_slot, slot_loads


class OffsetImportError(Exception):
    """Offsets that cannot be read (the message names the file and what is wrong)."""


@dataclass(frozen=True)
class Offset:
    labware: str
    slot: str
    x: float
    y: float
    z: float


def offsets_in(data: Any, source: str) -> list[dict[str, Any]]:
    """The offset records in a Labware Position Check export or a robot's answer."""
    if isinstance(data, dict) and "data" in data:
        data = data["data"]
    if isinstance(data, dict) and "labwareOffsets" in data:
        data = data["labwareOffsets"]
    if not isinstance(data, list) or not all(isinstance(o, dict) for o in data):
        raise OffsetImportError(
            f"{source}: not labware offsets (a list of "
            "{definitionUri, location, vector}, or a robot's answer)"
        )
    return data


def _slot(record: dict[str, Any]) -> str | None:
    """The deck slot an offset is for, or None if it is on a module or an adapter."""
    location = record.get("location")
    if isinstance(location, dict):
        if location.get("moduleModel") or location.get("definitionUri"):
            return None
        return location.get("slotName")
    sequence = record.get("locationSequence")
    if (
        isinstance(sequence, list)
        and len(sequence) == 1
        and sequence[0].get("kind") == "onAddressableArea"
    ):
        return sequence[0].get("addressableAreaName")
    return None


def match(
    records: list[dict[str, Any]], lab: LabConfig, source: str
) -> tuple[list[Offset], list[str]]:
    """The offsets for this lab's labware (in deck order), and why each other one is left out."""
    loads = slot_loads(lab)
    robot = lab.liquid_handler.robot_type
    found: dict[str, Offset] = {}
    skipped: list[str] = []
    for i, record in enumerate(records):
        uri, vector = record.get("definitionUri"), record.get("vector")
        if not isinstance(uri, str) or uri.count("/") != 2 or not isinstance(vector, dict):
            raise OffsetImportError(
                f"{source}: offset {i} has no definitionUri "
                "(namespace/loadName/version) or no vector"
            )
        try:
            x, y, z = (float(vector[axis]) for axis in "xyz")
        except (KeyError, TypeError, ValueError):
            raise OffsetImportError(
                f"{source}: offset {i} ({uri}): its vector needs numbers x, y and z (mm)"
            ) from None
        name = uri.split("/")[1]
        slot = _slot(record)
        if slot is None:
            skipped.append(f"{uri}: on a module or adapter, which this lab's deck has not")
            continue
        ours = next((s for s in loads if same_slot(s, slot, robot)), None)
        if ours is None or loads[ours] != name:
            skipped.append(
                f"{uri} in slot {slot}: this lab loads {loads[ours] if ours else 'nothing'} there"
            )
            continue
        found[ours] = Offset(name, ours, round(x, 2), round(y, 2), round(z, 2))
    order = list(loads)
    return sorted(found.values(), key=lambda o: order.index(o.slot)), skipped


def offsets_block(offsets: list[Offset], note: str) -> str:
    """The lab file's ``offsets:`` block for ``offsets``."""
    lines = [f"# labware offsets (mm) from {note}", "offsets:"]
    lines += [
        f'  - {{labware: {o.labware}, slot: "{o.slot}", x: {o.x:g}, y: {o.y:g}, z: {o.z:g}}}'
        for o in offsets
    ]
    return "\n".join(lines) + "\n" if offsets else "offsets: []\n"


_BLOCK = re.compile(
    r"^(?:# labware offsets \(mm\) from .*\n)?offsets:.*\n"
    r"(?:(?:[ \t]+.*|[ \t]*)\n)*",
    re.MULTILINE,
)


def with_offsets(text: str, block: str) -> str:
    """``text`` (a lab file) with its top-level ``offsets:`` block replaced by ``block``, or
    ``block`` appended if it has none."""
    if _BLOCK.search(text):
        return _BLOCK.sub(lambda _: block, text, count=1)
    return text + ("" if text.endswith("\n") else "\n") + block


def import_offsets(
    lab_path: Path, data: Any, source: str, write: bool = True
) -> tuple[str, list[Offset], list[str]]:
    """The lab file at ``lab_path`` with the offsets in ``data``: (new text, the offsets
    taken, why others were left out). Written back only if ``write``; the new text is
    validated as a lab first (``LabError`` if it is not one)."""
    text = lab_path.read_text(encoding="utf-8")
    lab = lab_from_text(text, str(lab_path))
    offsets, skipped = match(offsets_in(data, source), lab, source)
    new = with_offsets(text, offsets_block(offsets, source))
    lab_from_text(new, str(lab_path))
    if write:
        lab_path.write_text(new, encoding="utf-8")
    return new, offsets, skipped


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise OffsetImportError(f"{path}: {e.strerror or e}") from None
    except ValueError as e:
        raise OffsetImportError(f"{path}: not JSON ({e})") from None


def robot_offsets(url: str) -> tuple[Any, str]:
    """The offsets a robot keeps: its stored ones (``GET /labwareOffsets``, newer releases),
    else those of its most recent run that has any (where 8.1's Labware Position Check leaves
    them). Returns the records and where they came from."""
    import httpx

    try:
        with httpx.Client(
            base_url=url.rstrip("/"), timeout=10.0, headers={"Opentrons-Version": "*"}
        ) as client:
            r = client.get("/labwareOffsets", params={"pageLength": "1000"})
            if r.status_code == 200:
                return r.json(), f"{url} (stored offsets)"
            runs = client.get("/runs").json().get("data") or []
            for run in reversed(runs):
                if run.get("labwareOffsets"):
                    return run["labwareOffsets"], (
                        f"{url} run {run['id']} (created {run.get('createdAt')})"
                    )
    except (httpx.HTTPError, ValueError) as e:
        raise OffsetImportError(f"robot at {url}: {e}") from None
    raise OffsetImportError(
        f"the robot at {url} keeps no labware offsets (none stored, no "
        "run with any): run Labware Position Check in the Opentrons App"
    )
