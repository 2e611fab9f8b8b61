"""Muon ring analysis: ring fits, ring parameters, optical efficiency.

The muon analysis measures the optical throughput of a telescope with the
rings of local muons. It follows ctapipe's muon analysis (same fit methods,
parameters, likelihood model, selection and column names) on whole camera
groups at once:

- :func:`fit_muon_rings`: circle fits (Kundu–Chaudhuri, Taubin, both);
- :func:`muon_ring_parameters`, :func:`ring_containment`: ring parameters;
- :func:`fit_muon_efficiency`, :func:`fit_ring_intensity`: the intensity
  fit (impact, ring width, optical efficiency);
- :func:`muon_fit`: all of it with the selection of ctapipe's
  ``MuonProcessor``, configured by ``param`` components of the same names;
  ``cam.iact.muon_fit(instrument)`` calls it;
- :func:`muon_tree`, :func:`muon_table`: event trees and whole files.
"""

from .features import muon_ring_parameters, ring_containment
from .intensity_fitter import fit_muon_efficiency, fit_ring_intensity
from .processor import (
    MUON_COMPONENTS,
    MUON_VARIABLES,
    ImageParameterQuery,
    MuonIntensityFitter,
    MuonProcessor,
    MuonRingFitter,
    RingQuery,
    muon_fit,
    muon_table,
    muon_tree,
)
from .ring_fit import fit_muon_rings

__all__ = [
    "fit_muon_rings",
    "muon_ring_parameters",
    "ring_containment",
    "fit_muon_efficiency",
    "fit_ring_intensity",
    "muon_fit",
    "muon_tree",
    "muon_table",
    "MuonProcessor",
    "MuonRingFitter",
    "MuonIntensityFitter",
    "ImageParameterQuery",
    "RingQuery",
    "MUON_COMPONENTS",
    "MUON_VARIABLES",
]
