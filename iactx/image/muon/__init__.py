"""Muon ring analysis: ring fits, ring parameters, optical efficiency.

- :func:`fit_muon_rings`: circle fits (Kundu–Chaudhuri, Taubin, both) in the telescope frame.
"""

from .ring_fit import fit_muon_rings

__all__ = ["fit_muon_rings"]
