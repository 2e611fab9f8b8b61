"""Calibration: R0 -> R1 and charge extraction."""
