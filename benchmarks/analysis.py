"""Spectra analysis speed and agreement: vectorised batch path versus per-spectrum fitting.

    uv run python benchmarks/analysis.py [--spectra 20000] [--loop 200] [--repeat 5] [--json]

Spectra come from the twin's instrument model (2068-pixel Ocean HDX, counts with dark, shot and
read noise, stray light) for (CdS)34 in hexane or in DMF (bands 365/335 or 356/327.4 nm, second
band ≥ 0.05 AU) with light droplet or Rayleigh scatter, against a DMF blank. Timings are the
median of ``--repeat`` runs in this process; the machine is shared, so the load average is
reported with them. Agreement is batch vs ``analyse_sample`` on the same spectra: bands of
height ≥ 0.05 AU on clean single-phase spectra (the requirement), and, reported separately,
on two-phase mixtures where the per-spectrum fit frees four overlapping bands.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import numpy as np
from batch_analysis import analyse_batch

from mscrobot.spectra import Spectrum, analyse_sample
from mscrobot.twin import optics

BANDS = (365.0, 335.0, 356.0, 327.4)
SETS = {"nonpolar": [365.0, 335.0], "polar": [356.0, 327.4]}
WINDOW = (300.0, 600.0)
SCATTER_WINDOW = (430.0, 600.0)
SECOND_BAND_RATIO = 0.55


def twin_spectra(m: int, seed: int, *, mixtures: bool = False) -> dict[str, object]:
    """m sample reads (float32 counts), one dark, one reference, and the true band heights."""
    rng = np.random.default_rng(seed)
    wl = optics.wavelengths(optics.hdx_wavelength_coefficients())
    ref = optics.cutoff_absorbance(wl, 268.0)  # DMF blank
    inst = optics.Instrument()
    inst = optics.Instrument(integration_ms=optics.auto_integration_ms(wl, ref, inst))
    first = rng.uniform(0.05 / SECOND_BAND_RATIO, 1.0, m)
    heights = np.zeros((m, 4))
    if mixtures:
        other = rng.uniform(0.1, 1.0, m)
        heights[:, 0], heights[:, 2] = first, other
    else:
        polar = rng.random(m) < 0.5
        heights[~polar, 0], heights[polar, 2] = first[~polar], first[polar]
    heights[:, 1], heights[:, 3] = (SECOND_BAND_RATIO * heights[:, 0],
                                    SECOND_BAND_RATIO * heights[:, 2])
    dark = optics.read_counts(np.zeros_like(wl), inst, rng)
    reference = optics.read_counts(optics.light_counts(wl, ref, inst), inst, rng)
    samples = np.empty((m, wl.size), np.float32)
    for i0 in range(0, m, 2000):  # bounded memory for the float64 intermediates
        i1 = min(i0 + 2000, m)
        k = i1 - i0
        a = (ref + optics.band_absorbance(wl, BANDS, heights[i0:i1], 12.0)
             + optics.scatter_absorbance(wl, rng.uniform(0, 0.01, k), rng.uniform(0, 0.02, k),
                                         rng.choice([0.4, 4.0], k)))
        samples[i0:i1] = optics.read_counts(optics.light_counts(wl, a, inst), inst, rng)
    return {"wl": wl, "samples": samples, "dark": dark, "reference": reference,
            "heights": heights, "integration_ms": inst.integration_ms}


def run_batch(data: dict[str, object]):  # type: ignore[no-untyped-def]
    return analyse_batch(data["wl"], data["samples"], data["dark"], data["reference"], SETS,
                         window=WINDOW, scatter_window=SCATTER_WINDOW)


def run_loop(data: dict[str, object]) -> list:  # type: ignore[type-arg]
    wl, t = data["wl"], data["integration_ms"]
    dark = Spectrum(wl, data["dark"], t)
    reference = Spectrum(wl, data["reference"], t)
    return [analyse_sample(Spectrum(wl, row.astype(np.float64), t), dark, reference, SETS,
                           window=WINDOW, scatter_window=SCATTER_WINDOW)
            for row in data["samples"]]


def agreement(data: dict[str, object]) -> dict[str, float]:
    """Batch vs per-spectrum fit on the same spectra, bands ≥ 0.05 AU."""
    fitted = run_loop(data)
    batch = run_batch(data)
    pos = np.array([[b.position_nm for s in ("nonpolar", "polar") for b in r.sets[s]]
                    for r in fitted])
    hts = np.array([[b.height for s in ("nonpolar", "polar") for b in r.sets[s]]
                    for r in fitted])
    found = np.array([[b.found for s in ("nonpolar", "polar") for b in r.sets[s]]
                      for r in fitted])
    truth = data["heights"]
    big = truth >= 0.05
    true_pos = np.broadcast_to(np.array(BANDS), pos.shape)

    def worst(x: np.ndarray) -> float:
        return float(np.max(np.abs(x)[big]))

    return {  # relative height differences are relative to the true height
        "bands_compared": int(big.sum()),
        "max_position_diff_nm": worst(batch.positions - pos),
        "p99_position_diff_nm": float(np.percentile(np.abs(batch.positions - pos)[big], 99)),
        "max_height_rel_diff": worst((batch.heights - hts) / np.where(big, truth, 1.0)),
        "found_agreement": float(np.mean(found == batch.found)),
        "fitted_max_position_error_nm": worst(pos - true_pos),
        "batch_max_position_error_nm": worst(batch.positions - true_pos),
        "fitted_max_height_rel_error": worst((hts - truth) / np.where(big, truth, 1.0)),
        "batch_max_height_rel_error": worst((batch.heights - truth) / np.where(big, truth, 1.0)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spectra", type=int, default=20_000)
    parser.add_argument("--loop", type=int, default=200)
    parser.add_argument("--mixtures", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    many = twin_spectra(args.spectra, seed=1)
    few = twin_spectra(args.loop, seed=2)
    run_batch(many)  # warm-up: imports, allocator
    batch_s, loop_s = [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        run_batch(many)
        batch_s.append(time.perf_counter() - t0)
    for _ in range(max(args.repeat // 2, 1)):
        t0 = time.perf_counter()
        run_loop(few)
        loop_s.append(time.perf_counter() - t0)
    clean = agreement(few)
    mixed = agreement(twin_spectra(args.mixtures, seed=3, mixtures=True)) if args.mixtures \
        else {}
    flags = run_batch(many).flags
    result = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "cpus": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pixels": int(many["wl"].size),
        "spectra": args.spectra,
        "loop_spectra": args.loop,
        "repeats": args.repeat,
        "loop_repeats": len(loop_s),
        "input_dtype": str(many["samples"].dtype),
        "batch_spectra_per_s": round(args.spectra / statistics.median(batch_s)),
        "batch_spectra_per_s_best": round(args.spectra / min(batch_s)),
        "loop_spectra_per_s": round(args.loop / statistics.median(loop_s), 1),
        "batch_flagged_fraction": float(np.mean(flags != 0)),
        "max_position_diff_nm": round(clean["max_position_diff_nm"], 4),
        "max_height_rel_diff": round(clean["max_height_rel_diff"], 4),
        "clean": {k: round(v, 4) for k, v in clean.items()},
        "mixtures": {k: round(v, 4) for k, v in mixed.items()},
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:28} {value}")


if __name__ == "__main__":
    main()
