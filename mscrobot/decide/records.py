"""Facts a run records that no spectrum can tell: what the salt leaves behind after OLA."""

from __future__ import annotations

from mscrobot.chemistry import Salt


def back_exchange_record(salt: Salt) -> dict[str, object]:
    """Whether the metal stays on the clusters after OLA back-exchange, from the paper's ICP-OES
    (Zn(OTf)2: retained; ZnCl2, Zn(OAc)2: removed; others: not measured). Recorded, never
    inferred: the absorption spectrum is the same either way."""
    fact = salt.metal_retained_after_ola
    return {
        "salt": salt.name,
        "metal": salt.metal,
        "metal_retained": fact.value,
        "source": fact.source,
        "note": fact.note,
        "basis": "paper (ICP-OES), not the spectrum" if fact.source == "paper" and
        fact.value is not None else "unknown: not measured in the paper",
    }
