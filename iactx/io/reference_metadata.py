"""CTA reference metadata: who made an output file, with what, from which instrument.

The CTA data model describes every data product by root attributes named
``CTA <GROUP> <FIELD>`` (product, activity, contact, instrument, process).
ctapipe's files carry them and its tools read them; iactx writes them into
both of its output formats.
"""

from __future__ import annotations

import getpass
import uuid
from datetime import UTC, datetime

__all__ = ["now", "contact_attrs", "reference_metadata", "described_by"]


def now():
    """The current UTC time as the reference metadata writes it (``YYYY-MM-DD hh:mm:ss.sss``)."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def contact_attrs(name=None, email=None, organization=None):
    """The contact attributes: who to ask about the file.

    Parameters
    ----------
    name, email, organization : str, optional
        The person responsible; the name defaults to the login name of the
        user running the tool, the others to ``"unknown"``.

    Returns
    -------
    dict
        ``CTA CONTACT NAME``, ``CTA CONTACT EMAIL`` and ``CTA CONTACT ORGANIZATION``.
    """
    if name is None:
        try:
            name = getpass.getuser()
        except (KeyError, OSError):
            name = "unknown"
    return {"CTA CONTACT EMAIL": email or "unknown", "CTA CONTACT NAME": name,
            "CTA CONTACT ORGANIZATION": organization or "unknown"}


def described_by(tree):
    """``simulated`` and ``instrument_id`` of :func:`reference_metadata` for an event tree."""
    return {"simulated": "simulation_n_showers" in tree.attrs,
            "instrument_id": str(tree["instrument"].attrs.get("subarray_name", "unknown"))}


def reference_metadata(*, simulated, instrument_id, levels, activity, start, product_format, description,
                       data_model, data_model_version, contact=None):
    """The reference metadata of an output file, as root attributes.

    Parameters
    ----------
    simulated : bool
        Simulated events (or observed ones).
    instrument_id : str
        Name of the subarray.
    levels : list of str
        Data levels held, e.g. ``["DL1_IMAGES", "DL1_PARAMETERS"]``.
    activity : str
        The tool that made the file.
    start : str
        Start time of the activity, from :func:`now`.
    product_format : str
        ``"hdf5"`` or ``"netcdf"``.
    description : str
        One line on the product.
    data_model, data_model_version : str
        Name and version of the file's data model.
    contact : dict, optional
        From :func:`contact_attrs`; the login name of the user by default.

    Returns
    -------
    dict of str
    """
    from .. import __version__

    return {
        "CTA ACTIVITY ID": str(uuid.uuid4()), "CTA ACTIVITY NAME": activity,
        "CTA ACTIVITY SOFTWARE NAME": "iactx", "CTA ACTIVITY SOFTWARE VERSION": __version__,
        "CTA ACTIVITY START TIME": start, "CTA ACTIVITY STOP TIME": now(), "CTA ACTIVITY TYPE": "software",
        **(contact or contact_attrs()),
        "CTA INSTRUMENT CLASS": "Other",
        "CTA INSTRUMENT ID": instrument_id,
        "CTA INSTRUMENT SITE": "Other", "CTA INSTRUMENT SUBTYPE": "unspecified", "CTA INSTRUMENT TYPE": "unspecified",
        "CTA INSTRUMENT VERSION": "unspecified", "CTA PROCESS ID": "1", "CTA PROCESS SUBTYPE": "",
        "CTA PROCESS TYPE": "Simulation" if simulated else "Observation", "CTA PRODUCT CREATION TIME": now(),
        "CTA PRODUCT DATA ASSOCIATION": "Subarray", "CTA PRODUCT DATA CATEGORY": "Sim" if simulated else "Other",
        "CTA PRODUCT DATA LEVELS": ",".join(levels), "CTA PRODUCT DATA MODEL NAME": data_model,
        "CTA PRODUCT DATA MODEL URL": "", "CTA PRODUCT DATA MODEL VERSION": data_model_version,
        "CTA PRODUCT DESCRIPTION": description, "CTA PRODUCT FORMAT": product_format,
        "CTA PRODUCT ID": str(uuid.uuid4()), "CTA REFERENCE VERSION": "1",
    }
