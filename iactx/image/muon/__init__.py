"""Muon ring analysis: ring fits, ring parameters, optical efficiency.

- :func:`fit_muon_rings`: circle fits (Kundu–Chaudhuri, Taubin, both) in the telescope frame;
- :func:`muon_ring_parameters`, :func:`ring_containment`: ring parameters;
- :func:`fit_muon_efficiency`, :func:`fit_ring_intensity`: the intensity
  fit (impact, ring width, optical efficiency).
"""

from .features import muon_ring_parameters, ring_containment
from .intensity_fitter import fit_muon_efficiency, fit_ring_intensity
from .ring_fit import fit_muon_rings

__all__ = [
    "fit_muon_rings",
    "muon_ring_parameters",
    "ring_containment",
    "fit_muon_efficiency",
    "fit_ring_intensity",
]
