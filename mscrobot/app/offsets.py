"""``mscrobot lab offsets import``: labware offsets measured by the Opentrons App into a lab file.

Labware Position Check measures where each labware really is in its slot. The robot keeps the
result as labware offsets, ``{definitionUri, location: {slotName}, vector: {x, y, z}}`` (mm),
in the run it was made for (``GET /runs/{id}``; the shape a new run's ``labwareOffsets``
takes), and a newer robot also stores them (``GET /labwareOffsets``, located by a
``locationSequence``); the App shows them as "labware offset data", a Python snippet
(``labware_3 = protocol.load_labware("NAME", location="1")`` then
``labware_3.set_offset(x=0.10, y=-0.20, z=0.00)``). Any of those is read here: the snippet
as the App shows it, a list of offsets, a robot's answer (``{"data": [...]}``, a run's
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
        name, shown = uri.split("/")[1], record.get("shown", uri)
        slot = _slot(record)
        if slot is None:
            skipped.append(f"{shown}: on a module or adapter, which this lab's deck has not")
            continue
        ours = next((s for s in loads if same_slot(s, slot, robot)), None)
        if ours is None or loads[ours] != name:
            skipped.append(
                f"{shown} in slot {slot}: this lab loads {loads[ours] if ours else 'nothing'} there"
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


_LOAD = re.compile(
    r"^\s*(\w+)\s*=\s*(\w+)\.load_labware\(\s*\"([^\"]+)\""
    r"(?:\s*,\s*(?:location\s*=\s*)?\"([^\"]+)\")?",
    re.MULTILINE,
)
_SET = re.compile(
    r"^\s*(\w+)\.set_offset\(\s*x\s*=\s*([-+.\d]+)\s*,\s*y\s*=\s*([-+.\d]+)"
    r"\s*,\s*z\s*=\s*([-+.\d]+)\s*\)",
    re.MULTILINE,
)


def snippet_offsets(text: str) -> list[dict[str, Any]]:
    """The offsets in the App's labware offset data (its Jupyter or command-line snippet):
    each ``set_offset`` of a labware the snippet loads, a slot's (``protocol.load_labware``)
    or a module's (no slot)."""
    loads = {m[1]: (m[3], m[4] if m[2] == "protocol" else None) for m in _LOAD.finditer(text)}
    out = []
    for m in _SET.finditer(text):
        if m[1] not in loads:
            continue
        name, slot = loads[m[1]]
        out.append(
            {
                "definitionUri": f"snippet/{name}/0",
                "shown": name,
                "location": {"slotName": slot} if slot else {"moduleModel": "a module"},
                "vector": {"x": float(m[2]), "y": float(m[3]), "z": float(m[4])},
            }
        )
    return out


def read_offsets(path: Path) -> Any:
    """The offsets in ``path``: JSON, or the App's Python snippet."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise OffsetImportError(f"{path}: {e.strerror or e}") from None
    try:
        return json.loads(text)
    except ValueError as e:
        found = snippet_offsets(text)
        if found:
            return found
        raise OffsetImportError(
            f"{path}: neither JSON offsets ({e}) nor the Opentrons App's "
            "labware offset data (load_labware and set_offset lines)"
        ) from None


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
