"""A lab file's spectrometer model, matched to the model names seabreeze knows.

People write what is on the label ("FLAME-S", "Flame S", "USB2000+", "Ocean HDX"); seabreeze
names its model classes without punctuation ("FLAMES", "USB2000PLUS", "HDX") and a device it
opens reports that name. A name that matches none is refused with the list, never guessed.
"""

from __future__ import annotations

import re
from functools import cache


@cache
def known_models() -> tuple[str, ...]:
    """Every model name seabreeze's pyseabreeze backend supports."""
    from seabreeze.pyseabreeze.api import SeaBreezeAPI

    return tuple(SeaBreezeAPI.supported_models())


@cache
def network_models() -> tuple[str, ...]:
    """The models seabreeze can reach over Ethernet (its IPv4 transport): an ``address``."""
    from seabreeze.pyseabreeze import devices
    from seabreeze.pyseabreeze.transport import IPv4Transport

    registry = devices._model_class_registry  # seabreeze's own table of model classes
    return tuple(
        name
        for name in known_models()
        if any(
            issubclass(t, IPv4Transport) for t in getattr(registry[name], "_transport_classes", ())
        )
    )


def _key(name: str) -> str:
    text = name.upper().replace("+", "PLUS")
    text = re.sub(r"^OCEAN\s*(INSIGHT|OPTICS)?\s*", "", text)
    return re.sub(r"[^A-Z0-9]", "", text)


def seabreeze_model(name: str) -> str:
    """seabreeze's name for the model written ``name`` (ValueError listing the known ones)."""
    wanted = _key(name)
    for model in known_models():
        if _key(model) == wanted:
            return model
    raise ValueError(f"{name!r} is not a model seabreeze knows; known: {', '.join(known_models())}")
