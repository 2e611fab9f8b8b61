"""The muon analysis of camera groups and event trees: selection, ring fit, parameters, efficiency.

:func:`muon_fit` does for every telescope event of a camera group what
ctapipe's ``MuonProcessor`` does for one:

1. image selection (:class:`ImageParameterQuery`, by default more than 100
   cleaned pixels and more than 500 p.e.; single-mirror telescopes only);
2. ring fit (:class:`MuonRingFitter`), three times: on the cleaned pixels,
   then twice on the pixels within 0.4 ring radii of the previous ring;
3. ring parameters (:class:`MuonProcessor` options) on the cleaning mask;
4. ring selection (:class:`RingQuery`, by default a finite radius, more than
   50 pixels near the ring and a containment above 0.5);
5. intensity fit (:class:`MuonIntensityFitter`) on the pixels near the ring.

Telescope events failing step 1 get NaN everywhere (``-1`` pixels in the
ring, False flags), those failing step 4 get ring and parameters but no
efficiency. The components are ``param`` classes with ctapipe's names,
parameters and defaults, so that ``ctapipe-process`` configuration files
apply: ``{"MuonProcessor": {"pedestal": 1.3}, "MuonRingFitter": {"fit_method":
"taubin"}, ...}``. Per-telescope values follow the TelescopeParameter rule.

:func:`muon_tree` runs the analysis on every camera group of an event tree
(calibrating and cleaning first when needed) and keeps only the muon
columns; :func:`muon_table` does it for a file's batches and concatenates
the results: this is what ``iactx muons`` writes.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import param
import xarray as xr

from ...config.telescope_parameter import TelescopeParameter, resolve_per_tel_event
from ._geometry import labelled, per_tel_event, telescope_frame_table
from ._query import compile_criteria
from .features import PARAMETER_VARIABLES, muon_ring_parameters
from .intensity_fitter import EFFICIENCY_VARIABLES, fit_muon_efficiency
from .ring_fit import FIT_METHODS, RING_VARIABLES, fit_muon_rings

__all__ = [
    "MuonProcessor",
    "MuonRingFitter",
    "MuonIntensityFitter",
    "ImageParameterQuery",
    "RingQuery",
    "MUON_COMPONENTS",
    "MUON_VARIABLES",
    "muon_fit",
    "muon_tree",
    "muon_table",
]

#: every variable :func:`muon_fit` adds, in order
MUON_VARIABLES = (*RING_VARIABLES, *PARAMETER_VARIABLES, *EFFICIENCY_VARIABLES)


class MuonRingFitter(param.Parameterized):
    """Circle fit of muon rings in the telescope frame."""

    fit_method = param.Selector(default="kundu_chaudhuri_taubin", objects=list(FIT_METHODS), doc=(
        "kundu_chaudhuri: analytic weighted least squares; taubin: Taubin loss, unweighted, "
        "started at the camera centre; kundu_chaudhuri_taubin: Taubin loss weighted by the "
        "charges, started at the Kundu-Chaudhuri circle."))
    n_iterations = param.Integer(default=3, bounds=(1, None), doc=(
        "Ring fits per image: the first on the cleaned pixels, each further one on the pixels "
        "near the previous ring (iactx option; ctapipe always does 3)."))
    refit_width = param.Number(default=0.4, bounds=(0.0, None), inclusive_bounds=(False, True), doc=(
        "Pixels with |distance - radius| / radius below this are used by the refits and the "
        "intensity fit (iactx option; ctapipe uses 0.4)."))


class MuonIntensityFitter(param.Parameterized):
    """Likelihood fit of the light along a muon ring: impact, ring width, optical efficiency."""

    spe_width = TelescopeParameter(default=0.5, bounds=(0.0, None), doc=(
        "Relative width of the single photo-electron charge distribution."))
    min_lambda_m = TelescopeParameter(default=300e-9, bounds=(0.0, None), doc=(
        "Shortest wavelength of the Cherenkov light [m]."))
    max_lambda_m = TelescopeParameter(default=600e-9, bounds=(0.0, None), doc=(
        "Longest wavelength of the Cherenkov light [m]."))
    hole_radius_m = TelescopeParameter(default=[("type", "*", 0.0), ("type", "LST_*", 0.74),
                                                ("type", "MST_*", 0.59), ("type", "SST_1M_*", 0.38)],
                                       bounds=(0.0, None), doc=(
        "Radius [m] of the circle with the area of the hole in the middle of the dish "
        "(flat-to-flat LST 1.51 m, MST 1.2 m, SST-1M 0.78 m); 0 for other telescopes."))
    oversampling = TelescopeParameter(default=3, item_type=int, bounds=(1, None), doc=(
        "Samples of the chord profile per pixel along the ring."))


class ImageParameterQuery(param.Parameterized):
    """Which images are searched for a muon ring (criteria on DL1 image parameters)."""

    quality_criteria = param.List(default=[
        ("min_pixels", "dl1_params.morphology.n_pixels > 100"),
        ("min_intensity", "dl1_params.hillas.intensity > 500"),
    ], doc=(
        "(name, expression) pairs on DL1 parameters, written as in ctapipe "
        "('dl1_params.hillas.intensity > 500') or with column names ('hillas_intensity > 500'). "
        "morphology_n_pixels and hillas_intensity are computed from the cleaned image when the "
        "group lacks them."))


class RingQuery(param.Parameterized):
    """Which fitted rings get an intensity fit (criteria on ring, parameters and pixel mask)."""

    quality_criteria = param.List(default=[
        ("radius_not_nan", "np.isfinite(ring.radius.value)"),
        ("min_pixels", "np.count_nonzero(mask) > 50"),
        ("ring_containment", "parameters.containment > 0.5"),
    ], doc=(
        "(name, expression) pairs on ring.<field>, parameters.<field> (muonring_* and "
        "muonparameters_* columns) and mask, the pixels near the ring."))


class MuonProcessor(param.Parameterized):
    """Muon ring analysis of cleaned images; options of the ring parameters and the intensity fit."""

    completeness_threshold = TelescopeParameter(default=30.0, doc=(
        "Charge [p.e.] an azimuthal ring segment needs to count for the completeness."))
    ratio_width = TelescopeParameter(default=1.5, bounds=(0.0, None), doc=(
        "Width of the ring band of the intensity ratio, in pixel widths."))
    pedestal = TelescopeParameter(default=1.1, bounds=(0.0, None), doc=(
        "Pedestal noise width [p.e.] of the intensity fit's likelihood."))
    ring_integration_width = TelescopeParameter(default=0.25, bounds=(0.0, None), doc=(
        "Half width of the ring band of ring_intensity, in ring radii."))
    outer_ring_width = TelescopeParameter(default=0.2, bounds=(0.0, None), doc=(
        "Width of the band outside the ring band (mean_intensity_outside_ring), in ring radii."))


#: configurable components by section name
MUON_COMPONENTS = {
    "MuonProcessor": MuonProcessor,
    "MuonRingFitter": MuonRingFitter,
    "MuonIntensityFitter": MuonIntensityFitter,
    "ImageParameterQuery": ImageParameterQuery,
    "RingQuery": RingQuery,
}


def _components(config):
    """Instances of every muon component from ``{Section: {param: value} or instance}``."""
    from ...config.files import ConfigError
    from ...config.registry import ComponentRegistry

    config = dict(config or {})
    instances = {k: v for k, v in config.items() if isinstance(v, param.Parameterized)}
    for name, value in instances.items():
        if name not in MUON_COMPONENTS or not isinstance(value, MUON_COMPONENTS[name]):
            raise ConfigError(f"config[{name!r}] is a {type(value).__name__}, not a muon component")
    plain = {k: v for k, v in config.items() if k in MUON_COMPONENTS and k not in instances}
    registry = ComponentRegistry(MUON_COMPONENTS)
    normalized = registry.normalize(plain)
    return {name: instances.get(name) or registry.create(name, normalized) for name in MUON_COMPONENTS}


def _instrument_columns(ds, instrument, tel_types):
    """Telescope type, mirror area, mirrors and equivalent focal length per telescope event."""
    tel_ids = np.asarray(ds["tel"].values)
    unique = np.unique(tel_ids)
    table = {}
    source = None
    if instrument is not None:
        source = instrument.to_dataset(inherit=False) if isinstance(instrument, xr.DataTree) else instrument
        if "tel" not in source.dims:
            raise ValueError("instrument must be the /instrument node of an event tree (dimension 'tel')")
        missing = sorted(set(unique.tolist()) - set(source["tel"].values.tolist()))
        if missing:
            raise ValueError(f"telescopes {missing} are not in the instrument table")
        source = source.sel(tel=unique)
    elif "readout_tel" in ds.dims and "mirror_area" in ds:
        source = ds[[v for v in ("tel_type", "mirror_area", "n_mirrors", "equivalent_focal_length")
                     if v in ds]].rename(readout_tel="tel").sel(tel=unique)
    for name in ("tel_type", "mirror_area", "n_mirrors", "equivalent_focal_length"):
        if source is not None and name in source:
            lookup = dict(zip(unique.tolist(), source[name].values.tolist()))
            table[name] = np.array([lookup[int(t)] for t in tel_ids])
    if "tel_type" not in table and tel_types:
        table["tel_type"] = np.array([tel_types.get(int(t), "") for t in tel_ids])
    return table


def _dl1_columns(ds, mask):
    """Columns the image query may read: the group's per-event variables, plus the two defaults (Variables)."""
    columns = {name: ds.variables[name] for name in ds.data_vars if ds.variables[name].dims == ("tel_event",)}
    if "hillas_intensity" not in columns:
        columns["hillas_intensity"] = ds["image"].variable.where(mask, 0.0).sum("pixel")
    if "morphology_n_pixels" not in columns:
        columns["morphology_n_pixels"] = mask.sum("pixel")
    return columns


def _resolve(value, tel_ids, tel_types, name, dtype=np.float64):
    try:
        return resolve_per_tel_event(value, tel_ids, tel_types, dtype=dtype)
    except ValueError as err:
        raise ValueError(f"{name}: {err}") from None


def _empty_efficiency(ds):
    n = ds.sizes["tel_event"]
    values, attrs = {}, {}
    for name, (long_name, units) in EFFICIENCY_VARIABLES.items():
        values[name] = xr.Variable(("tel_event",), np.zeros(n, bool) if units is None else np.full(n, np.nan))
        attrs[name] = {"long_name": long_name, **({"units": units} if units else {})}
    return labelled(ds, values, attrs)


def muon_fit(ds, instrument=None, *, config=None, fit_method=None, intensity_fit=True, ring_mask=False,
             tel_types=None):
    """Find and analyse muon rings in every telescope event of a calibrated, cleaned camera group.

    Parameters
    ----------
    ds : xarray.Dataset
        Camera group with ``image`` [p.e.], ``image_mask`` and ``focal_length``;
        without ``image_mask`` the images are cleaned first with ctapipe's
        default tail cuts (``cam.iact.clean()``).
    instrument : xarray.Dataset or xarray.DataTree, optional
        The ``/instrument`` node of the event tree (telescope types, mirror
        areas, number of mirrors). Needed for the intensity fit unless the
        group itself carries ``mirror_area`` on ``readout_tel``.
    config : dict, optional
        ``{Section: {parameter: value}}`` for the sections of
        :data:`MUON_COMPONENTS` (other sections are ignored), or configured
        component instances as values.
    fit_method : {"kundu_chaudhuri", "taubin", "kundu_chaudhuri_taubin"}, optional
        Shortcut for ``MuonRingFitter.fit_method``.
    intensity_fit : bool
        Run the intensity fit (the ``muonefficiency_*`` columns); without it
        they are NaN and no instrument information is needed.
    ring_mask : bool
        Also return ``muon_ring_mask`` (tel_event, pixel), the pixels near the final ring.
    tel_types : dict[int, str], optional
        Telescope type strings by id, when ``instrument`` is not given.

    Returns
    -------
    xarray.Dataset
        ``ds`` with the ``muonring_*`` [deg], ``muonparameters_*`` and
        ``muonefficiency_*`` variables of :data:`MUON_VARIABLES` added.

    Examples
    --------
    >>> cam = tree["LSTCam"].to_dataset().iact.calibrate().iact.clean()       # doctest: +SKIP
    >>> muons = cam.iact.muon_fit(tree["instrument"])                         # doctest: +SKIP
    >>> muons[["muonring_radius", "muonefficiency_optical_efficiency"]]       # doctest: +SKIP
    """
    components = _components(config)
    fitter, intensity, processor = (components["MuonRingFitter"], components["MuonIntensityFitter"],
                                    components["MuonProcessor"])
    method = fitter.fit_method if fit_method is None else fit_method
    if "image" not in ds:
        raise ValueError("the camera group has no 'image'; calibrate it first (cam.iact.calibrate())")
    if "image_mask" not in ds:
        if not hasattr(ds.iact, "clean"):
            raise ValueError("the camera group has no 'image_mask' and image cleaning is not available; "
                             "add an image_mask")
        ds = ds.iact.clean(tel_types=tel_types)
    # intermediate results are bare Variables: no index alignment between the steps
    mask = ds["image_mask"].variable
    tel_ids = np.asarray(ds["tel"].values)
    inst = _instrument_columns(ds, instrument, tel_types)
    types = dict(zip(tel_ids.tolist(), inst["tel_type"].tolist())) if "tel_type" in inst else tel_types
    table = telescope_frame_table(ds)

    # 1. image selection
    image_query = compile_criteria(components["ImageParameterQuery"].quality_criteria)
    selected = image_query.all(_dl1_columns(ds, mask), like=per_tel_event(ds, np.ones(tel_ids.size, bool), "all"))
    if "n_mirrors" in inst:
        single = inst["n_mirrors"] == 1
        if not single.all():
            warnings.warn(f"telescopes {sorted(set(tel_ids[~single].tolist()))} have two mirrors; the muon "
                          "analysis supports single-mirror telescopes only and skips them", stacklevel=2)
        selected = selected & per_tel_event(ds, single, "single_mirror")
    # 2. ring fit
    rings, near_ring = fit_muon_rings(ds, method=method, mask=mask, selected=selected,
                                      n_iterations=fitter.n_iterations, refit_width=fitter.refit_width,
                                      table=table)
    # 3. ring parameters
    options = {name: _resolve(getattr(processor, name), tel_ids, types, f"MuonProcessor.{name}")
               for name in ("completeness_threshold", "ratio_width", "ring_integration_width",
                            "outer_ring_width", "pedestal")}
    parameters = muon_ring_parameters(
        ds, rings, completeness_threshold=options["completeness_threshold"], ratio_width=options["ratio_width"],
        ring_integration_width=options["ring_integration_width"], outer_ring_width=options["outer_ring_width"],
        mask=mask, selected=selected & np.isfinite(rings["muonring_radius"].variable), table=table)
    # 4. ring selection, 5. intensity fit
    if intensity_fit:
        missing = [n for n in ("tel_type", "mirror_area") if n not in inst]
        if missing:
            raise ValueError("the intensity fit needs the telescopes' types and mirror areas: pass "
                             "instrument=tree['instrument'] (or use iactx.image.muon.muon_tree(tree)), "
                             "or intensity_fit=False")
        columns = {k: part.variables[k] for part in (rings, parameters) for k in part.data_vars}
        columns["mask"] = near_ring.variable
        ring_query = compile_criteria(components["RingQuery"].quality_criteria)
        fit_selected = selected & ring_query.all(columns, like=selected)
        equivalent = inst.get("equivalent_focal_length")
        focal = np.asarray(ds["focal_length"].values, np.float64)
        if equivalent is None:
            equivalent = focal
        equivalent = np.where(np.isfinite(equivalent) & (equivalent > 0), equivalent, focal)
        efficiency = fit_muon_efficiency(
            ds, rings, near_ring, selected=fit_selected, pedestal=options["pedestal"],
            mirror_radius=np.sqrt(np.asarray(inst["mirror_area"], np.float64) / math.pi),
            hole_radius=_resolve(intensity.hole_radius_m, tel_ids, types, "MuonIntensityFitter.hole_radius_m"),
            spe_width=_resolve(intensity.spe_width, tel_ids, types, "MuonIntensityFitter.spe_width"),
            min_lambda_m=_resolve(intensity.min_lambda_m, tel_ids, types, "MuonIntensityFitter.min_lambda_m"),
            max_lambda_m=_resolve(intensity.max_lambda_m, tel_ids, types, "MuonIntensityFitter.max_lambda_m"),
            oversampling=_resolve(intensity.oversampling, tel_ids, types, "MuonIntensityFitter.oversampling"),
            initial_width=3.0 * np.sqrt(table.pix_area / math.pi) / equivalent,
            table=table)
    else:
        efficiency = _empty_efficiency(ds)
    new = {name: part.variables[name] for part in (rings, parameters, efficiency) for name in part.data_vars}
    if ring_mask:
        new["muon_ring_mask"] = near_ring.variable
    return ds.assign(new)


def _with_dl1(tree, config, dl1_chain):
    """The tree with images and masks: ``dl1_chain`` when given, else the default DL1 chain if needed."""
    if dl1_chain is not None:
        return dl1_chain(tree, config)
    from ...accessor import camera_groups

    needs = [name for name in camera_groups(tree) if "image" not in tree[name].ds or "image_mask" not in tree[name].ds]
    if not needs:
        return tree
    try:
        from ..processor import dl1
    except ImportError:
        raise ValueError(f"camera groups {needs} have no 'image'/'image_mask' and the DL1 chain is not "
                         "available; pass dl1_chain=") from None
    return dl1(tree, config)


def muon_tree(tree, config=None, *, dl1_chain=None, keep=("pointing_alt", "pointing_az", "focal_length"),
              only_muons=True):
    """The muon analysis of one event tree (or batch); by default only the muon columns are kept.

    Parameters
    ----------
    tree : xarray.DataTree
        Event tree from a reader (R1) or with DL1 images already.
    config : dict, optional
        Normalised configuration ``{Section: {parameter: value}}``; the muon
        sections are used here, the others by the DL1 chain.
    dl1_chain : callable, optional
        ``dl1_chain(tree, config) -> tree`` adding ``image`` and ``image_mask``;
        default ``iactx.image.processor.dl1`` when the tree has no images.
    keep : tuple of str
        Per-telescope-event variables kept next to the muon columns.
    only_muons : bool
        Drop the other per-telescope-event variables (waveforms, images, DL1
        parameters); ``False`` adds the muon columns to everything (what
        ``iactx process --write-muon-parameters`` needs).

    Returns
    -------
    xarray.DataTree
        Same root and ``/instrument``; each camera group keeps its pixel
        coordinates, ``keep`` and the columns of :data:`MUON_VARIABLES`.
    """
    from ...accessor import camera_groups

    tree = _with_dl1(tree, config, dl1_chain)
    nodes = {node.path: node.to_dataset(inherit=False) for node in tree.subtree}
    instrument = nodes.get("/instrument")
    types = None
    if instrument is not None and "tel_type" in instrument:
        types = {int(t): str(v) for t, v in zip(instrument["tel"].values, instrument["tel_type"].values)}
    for name in camera_groups(tree):
        cam = muon_fit(nodes[f"/{name}"], instrument, config=config, tel_types=types)
        if only_muons:
            cam = cam.drop_vars([v for v, var in cam.data_vars.items()
                                 if "tel_event" in var.dims and v not in MUON_VARIABLES and v not in keep])
        nodes[f"/{name}"] = cam
    return xr.DataTree.from_dict(nodes)


def muon_table(tree_or_batches, config=None, *, dl1_chain=None):
    """The muon table of a whole file: :func:`muon_tree` on every batch, concatenated.

    Parameters
    ----------
    tree_or_batches : xarray.DataTree or iterable of xarray.DataTree
        One event tree, or the batches of a file (``iactx.iter_simtel(path)``).
    config : dict, optional
        Normalised configuration (see :func:`muon_tree`).
    dl1_chain : callable, optional
        See :func:`muon_tree`.

    Returns
    -------
    xarray.DataTree
        Root events and camera groups of all batches concatenated along
        ``event`` and ``tel_event`` (and the shower distributions along
        ``obs``); ``/instrument`` from the first batch.
    """
    if isinstance(tree_or_batches, xr.DataTree):
        return muon_tree(tree_or_batches, config, dl1_chain=dl1_chain)
    parts = [muon_tree(batch, config, dl1_chain=dl1_chain) for batch in tree_or_batches]
    if not parts:
        raise ValueError("no event batches to analyse")
    if len(parts) == 1:
        return parts[0]
    flat = [{node.path: node.to_dataset(inherit=False) for node in part.subtree} for part in parts]
    nodes = {}
    for path in dict.fromkeys(p for part in flat for p in part):
        datasets = [part[path] for part in flat if path in part]
        # rows along event (root), tel_event (camera groups) or obs (the shower distribution of each run)
        dim = "event" if path == "/" else next((d for d in ("tel_event", "obs") if d in datasets[0].dims), None)
        if dim is None:  # /instrument, or a node holding others
            nodes[path] = datasets[0]
        else:
            nodes[path] = xr.concat(datasets, dim=dim, data_vars="minimal", coords="minimal", compat="override",
                                    join="outer")
    return xr.DataTree.from_dict(nodes)
