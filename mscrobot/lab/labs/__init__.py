"""Lab configs shipped inside the package (the default simulated lab), and how a lab reference
names one. Light on purpose: ``mscrobot run`` reads a lab's text here before it imports the
config models (``mscrobot.lab.config`` parses and validates it)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

#: The lab a run uses when none is named.
DEFAULT_LAB = "simulated"


def shipped_labs() -> dict[str, str]:
    """Names of the labs inside the package, with their YAML text."""
    out = {}
    for entry in resources.files("mscrobot.lab.labs").iterdir():
        if entry.name.endswith(".yaml"):
            out[entry.name.removesuffix(".yaml")] = entry.read_text(encoding="utf-8")
    return out


def lab_source(ref: str | Path | None) -> tuple[str, str] | tuple[Path, None]:
    """What ``ref`` names: ``(name, text)`` of a shipped lab (a shipped name wins over a file
    of that name), else ``(path, None)``: a file, which may not exist."""
    ref = DEFAULT_LAB if ref is None else ref
    if isinstance(ref, str):
        text = shipped_labs().get(ref)
        if text is not None:
            return ref, text
    return Path(ref), None
