"""Normalise astropy quantities and strings to plain numbers in fixed units."""

import numpy as np


def to_value(value, unit):
    """Return ``value`` as a number or array in ``unit``.

    Plain numbers and arrays are taken to be in ``unit`` already; astropy
    quantities and strings such as ``"4 deg"`` are converted.

    Parameters
    ----------
    value : float, array_like, str or astropy.units.Quantity
        The value to convert.
    unit : str
        Target unit, e.g. ``"m"`` or ``"deg"``.
    """
    if isinstance(value, str):
        from astropy import units as u

        return u.Quantity(value).to_value(unit)
    if hasattr(value, "unit") and hasattr(value, "to_value"):
        return value.to_value(unit)
    return value if np.ndim(value) == 0 else np.asarray(value)
