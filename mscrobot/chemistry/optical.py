"""How each cluster's absorption spectrum looks beyond its band positions: band widths and
intensity ratios, the interband continuum that rises to the blue of the excitonic bands, and how
the polar solvent moves and scales the bands.

The paper prints band positions only ((CdS)34: 365/335 nm in hexane, 356 nm in DMF); its
figures show the shapes but give no numbers, so every shape constant here is *assumed* (read as
typical of published magic-size-cluster spectra) and is meant to be replaced by a measured
spectrum. The twin draws its spectra from these; the analysis does not know them (it fits band
widths and a continuum of its own shape), so a mismatch between the two is part of what the
decision logic is tested against. Refractive indices are handbook values (20 °C, sodium D line).
"""

from __future__ import annotations

from dataclasses import dataclass

from mscrobot.chemistry.facts import Fact, assumed, handbook

_HC_EV_NM = 1239.84198


@dataclass(frozen=True, slots=True)
class BandShape:
    """The absorption profile of one cluster, in the alkane phase unless said otherwise."""

    #: FWHM (nm) of each band, in the order of ``Cluster.bands_nonpolar``.
    fwhm_nm: tuple[Fact[float], ...]
    #: Height of each band relative to the first.
    relative_heights: tuple[Fact[float], ...]
    #: Bands of the salt-capped clusters in the polar phase are this much wider.
    polar_broadening: Fact[float]
    #: Photon energy (nm) where the interband continuum sets in (the alkane phase's).
    continuum_onset_nm: Fact[float]
    #: The continuum 0.5 eV above its onset, as a multiple of the first band's height.
    continuum_at_half_ev: Fact[float]
    #: Urbach energy (eV) of the continuum's edge: how softly it sets in.
    urbach_ev: Fact[float]


SHAPES: dict[str, BandShape] = {
    "CdS34": BandShape(
        (
            assumed(14.0, "first band FWHM ~14 nm, typical of published (CdS)34 spectra"),
            assumed(18.0, "second band broader, as in published (CdS)34 spectra"),
        ),
        (
            assumed(1.0),
            assumed(
                0.62, "second band ~0.6 of the first, as the paper's Fig. S1a shows qualitatively"
            ),
        ),
        assumed(1.2, "salt-capped bands broader than the amine-capped ones (Fig. 1c vs S1a)"),
        assumed(318.0, "the absorption rises steeply below ~320 nm"),
        assumed(2.2, "the continuum at ~280 nm a few times the first band"),
        assumed(0.035),
    ),
    "CdSe34": BandShape(
        (assumed(13.0, "MSC-415 band FWHM ~13 nm"),),
        (assumed(1.0),),
        assumed(1.2, "the paper shows a 'slight' blue shift, widths not given"),
        assumed(392.0, "the 381/351 nm features and the continuum lie to the blue of 415 nm"),
        assumed(2.0),
        assumed(0.04),
    ),
    "ZnSe34": BandShape(
        (assumed(11.0, "ZnSe cluster bands narrow, as for the other (MX)34"),),
        (assumed(1.0),),
        assumed(1.2),
        assumed(300.0, "the continuum 20 nm to the blue of the first band"),
        assumed(2.0),
        assumed(0.035),
    ),
}

#: Refractive index n_D at 20 °C (handbook).
REFRACTIVE_INDEX: dict[str, Fact[float]] = {
    "hexane": handbook(1.375),
    "hexene": handbook(1.388),
    "DMF": handbook(1.430),
    "NMF": handbook(1.432),
    "DMSO": handbook(1.479),
    "acetonitrile": handbook(1.344),
    "acetone": handbook(1.359),
    "toluene": handbook(1.497),
    "water": handbook(1.333),
}
#: The solvent the paper's polar band positions are measured in.
REFERENCE_POLAR_SOLVENT = "DMF"
#: Red shift of an exciton (eV) per unit of the polarisability function (n²-1)/(2n²+1): a more
#: polarisable solvent lowers the transition energy.
SOLVATION_EV_PER_F: Fact[float] = assumed(
    0.6,
    "a few meV per 0.01 of (n²-1)/(2n²+1), the "
    "order of solvatochromic shifts of small "
    "II-VI clusters; it moves a band ~2 nm at most",
)
#: Polar/alkane absorptivity of the first band in DMF (the local-field factor scales it
#: in other solvents).
POLAR_EPSILON_RATIO_DMF: Fact[float] = assumed(
    0.92, "the exchanged clusters absorb a little less per cluster (Fig. 1c vs S1a)"
)


def _polarisability(n: float) -> float:
    return (n * n - 1.0) / (2.0 * n * n + 1.0)


def _local_field(n: float) -> float:
    """Lorentz local-field factor of an absorber's oscillator strength, ((n²+2)/3)²/n."""
    return ((n * n + 2.0) / 3.0) ** 2 / n


def solvent_shift_nm(
    band_nm: float, solvent: str, reference: str = REFERENCE_POLAR_SOLVENT
) -> float:
    """Where a band measured at ``band_nm`` in ``reference`` sits in ``solvent`` (assumed)."""
    n, n0 = REFRACTIVE_INDEX[solvent].value, REFRACTIVE_INDEX[reference].value
    delta_ev = -SOLVATION_EV_PER_F.value * (_polarisability(n) - _polarisability(n0))
    return _HC_EV_NM / (_HC_EV_NM / band_nm + delta_ev)


def polar_epsilon_ratio(solvent: str) -> float:
    """Absorptivity of the exchanged clusters in ``solvent`` relative to the alkane phase's
    (assumed: DMF's ratio scaled by the local-field factor)."""
    n, n0 = REFRACTIVE_INDEX[solvent].value, REFRACTIVE_INDEX[REFERENCE_POLAR_SOLVENT].value
    return POLAR_EPSILON_RATIO_DMF.value * _local_field(n) / _local_field(n0)
