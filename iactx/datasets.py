"""Example data: the sample sim_telarray files and named toy datasets.

Sample files are small sim_telarray outputs from the test resources of the
pyeventio project (MIT licence). :func:`get` finds a file in the folders of
the environment variable ``IACTX_DATA_PATH`` (several folders separated by
``os.pathsep``) or in the download cache, and otherwise downloads it from
the pyeventio repository with pooch; every copy is checked against its
sha256 sum. Toy datasets are simulated on demand by
:func:`iactx.io.toy.toy_events` with fixed settings and seeds, so they are
the same everywhere without any file.

Examples
--------
>>> from iactx import datasets
>>> path = datasets.get("lst_muons_with_true_photons.simtel.zst")  # doctest: +SKIP
>>> tree = datasets.load("toy_gamma")                              # doctest: +SKIP
"""

from __future__ import annotations

import difflib
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "BASE_URL",
    "DatasetNotFoundError",
    "SAMPLE_FILES",
    "TOY_DATASETS",
    "SampleFile",
    "cache_dir",
    "get",
    "load",
    "make_runs",
    "names",
]

#: where the sample files are published
BASE_URL = "https://github.com/cta-observatory/pyeventio/raw/main/tests/resources/"


@dataclass(frozen=True)
class SampleFile:
    """A published sample file: name, sha256 sum and what it holds."""

    name: str
    sha256: str
    description: str

    @property
    def url(self):
        """Upstream address of the file."""
        return BASE_URL + self.name


_FILES = [
    SampleFile("calib_events.simtel.gz",
               "0554c5333bb6a1a23ef890e7c7c2ec4afcff8be318342e925dc0f71b9ebaf9b4",
               "calibration events of seven camera types (LSTCam, NectarCam, FlashCam, ASTRICam, CHEC, "
               "DigiCam, SCTCam), no showers"),
    SampleFile("camsettings_v6.simtel.zst",
               "83cb1ea018099365f1fbb41af977eff6d288acca7fb99829a76857e59e83b99f",
               "one stereo gamma-ray event, 4 LSTs and 15 NectarCam MSTs (9 triggered)"),
    SampleFile("gamma_with_obslevel_particles.simtel.zst",
               "293bfd35e09dc08e813c47b115048ae09902786cb43af0110ca2f04ce2c67aa6",
               "one gamma-ray event seen by a H.E.S.S.-type telescope"),
    SampleFile("lst_muons_with_true_photons.simtel.zst",
               "6b88157969f36623724a16ec805a8a763cedc9b70419e596efc5edcd509b5411",
               "three muon rings in one LST, with true images"),
    SampleFile("lst_with_photons.simtel.zst",
               "f3aa40ebfa553cb2a235edb8250fe3997e1623b11fe52786dec40a41d9b979d1",
               "one event in one LST, with true photons and true image"),
]

#: the sample sim_telarray files by name
SAMPLE_FILES = {f.name: f for f in _FILES}


@dataclass(frozen=True)
class _ToyDataset:
    description: str
    options: dict = field(default_factory=dict)


#: named toy datasets: :func:`iactx.io.toy.toy_events` settings
TOY_DATASETS = {
    "toy_gamma": _ToyDataset("200 gamma-ray events on the toy array (4 LST-like, 9 MST-like telescopes)",
                             {"n_events": 200, "kind": "gamma", "seed": 1}),
    "toy_muon": _ToyDataset("100 single muon rings on the toy array", {"n_events": 100, "kind": "muon", "seed": 2}),
    "toy_mini": _ToyDataset("50 gamma-ray events on three small 127-pixel telescopes",
                            {"n_events": 50, "kind": "gamma", "seed": 3, "subarray": "mini"}),
}


class DatasetNotFoundError(FileNotFoundError):
    """A sample file is neither available locally nor downloadable."""


def names():
    """Names of all datasets: sample files, then toy datasets."""
    return [*SAMPLE_FILES, *TOY_DATASETS]


def cache_dir():
    """Folder downloaded files are kept in (``IACTX_CACHE`` or the user cache)."""
    if os.environ.get("IACTX_CACHE"):
        return Path(os.environ["IACTX_CACHE"])
    import pooch

    return Path(pooch.os_cache("iactx"))


def _data_dirs():
    value = os.environ.get("IACTX_DATA_PATH", "")
    return [Path(p) for p in value.split(os.pathsep) if p]


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_VERIFIED = {}


def _verified(path, sample):
    """``path`` if its content has the sample's sha256 sum; raise otherwise."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _VERIFIED:
        _VERIFIED[key] = _sha256(path)
    if _VERIFIED[key] != sample.sha256:
        raise ValueError(f"{path} does not match the published {sample.name}: sha256 {_VERIFIED[key]}, "
                         f"expected {sample.sha256}; delete or replace it")
    return path


def _unknown(name):
    close = difflib.get_close_matches(name, names(), n=3)
    hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
    return KeyError(f"unknown dataset {name!r}{hint}; known datasets: {', '.join(names())}")


def get(name):
    """Path of a sample file: local copy, cached download or a new download.

    Parameters
    ----------
    name : str
        File name, one of :data:`SAMPLE_FILES`.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    KeyError
        Unknown name (toy datasets have no file: use :func:`load`).
    ValueError
        A local copy whose content differs from the published file.
    DatasetNotFoundError
        No local copy and the download failed; the message says where to
        put the file.
    """
    if name in TOY_DATASETS:
        raise KeyError(f"{name!r} is a toy dataset, simulated on demand: use iactx.datasets.load({name!r})")
    sample = SAMPLE_FILES.get(name)
    if sample is None:
        raise _unknown(name)
    for folder in _data_dirs():
        if (folder / name).is_file():
            return _verified(folder / name, sample)
    cache = cache_dir()
    if (cache / name).is_file():
        return _verified(cache / name, sample)
    return _download(sample, cache)


def _download(sample, cache):
    try:
        import pooch

        path = pooch.retrieve(sample.url, known_hash=f"sha256:{sample.sha256}", fname=sample.name,
                              path=cache, progressbar=False)
    except (OSError, ValueError, ImportError) as err:
        folders = ", ".join(str(d) for d in _data_dirs()) or "not set"
        raise DatasetNotFoundError(
            f"sample file {sample.name} is not available: no copy in IACTX_DATA_PATH ({folders}) or in the "
            f"cache {cache}, and downloading {sample.url} failed ({type(err).__name__}: {err}). "
            f"Download it by hand and put it into a folder named by IACTX_DATA_PATH, or into {cache}."
        ) from err
    return Path(path)


def make_runs(folder, n_runs, *, sample="camsettings_v6.simtel.zst", repeats=1, first_run=1):
    """A small simulated production: ``n_runs`` sim_telarray files made from a sample file.

    Each file is the sample with its own run number (``obs_id``), its showers
    repeated ``repeats`` times with new event ids
    (:func:`iactx.io.simtel_runs.write_run`).

    Parameters
    ----------
    folder : str or Path
        Where the files go (created if missing): ``run_<number>.simtel.zst``.
    n_runs : int
        Number of files.
    sample : str
        One of :data:`SAMPLE_FILES` (:func:`get`).
    repeats : int
        Showers of the sample per file, in copies.
    first_run : int
        Run number of the first file; the others follow.

    Returns
    -------
    list of Path
    """
    from .io.simtel_runs import write_run

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    source = get(sample)
    return [write_run(source, folder / f"run_{run:06d}.simtel.zst", run, repeats=repeats)
            for run in range(first_run, first_run + n_runs)]


def load(name, **options):
    """A dataset as an event tree.

    Parameters
    ----------
    name : str
        A sample file (read with :func:`iactx.io.open_events`) or a toy
        dataset (simulated).
    **options
        Passed to the reader, or override the toy dataset's settings.

    Returns
    -------
    xarray.DataTree
    """
    if name in TOY_DATASETS:
        from .io.toy import toy_events

        settings = {**TOY_DATASETS[name].options, **options}
        return toy_events(settings.pop("n_events"), **settings)
    from .io import open_events

    return open_events(get(name), **options)
