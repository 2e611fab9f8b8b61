"""Plots: camera images, waveforms, array display and event browser, with Bokeh and matplotlib.

Every camera of the sample files and a few toy cameras (circles, rotated
cameras) is drawn with both backends; the tests read the drawn polygons
back from the Bokeh glyph and the matplotlib collection and check their
number, areas (shoelace formula against ``pix_area``) and orientation
(pixel edges face the neighbouring pixels).
"""

import functools
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
import xarray as xr

from conftest import data_file
from toy_cameras import toy_camera, toy_tree

hv = pytest.importorskip("holoviews")
matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from bokeh.models import (  # noqa: E402
    ColorBar,
    FixedTicker,
    GlyphRenderer,
    HoverTool,
    LinearColorMapper,
    LogColorMapper,
    Patches,
)
from matplotlib.collections import PolyCollection  # noqa: E402

import iactx  # noqa: E402
from iactx.plotting import array, browser, camera, save_html, waveforms  # noqa: E402
from iactx.plotting.array import image_axis_on_ground, telescope_to_ground_direction  # noqa: E402
from iactx.plotting.browser import nearest_pixel  # noqa: E402
from iactx.plotting.camera import hillas_in_camera_frame, ring_in_camera_frame  # noqa: E402
from iactx.plotting.elements import CameraPixels, symlog, symlog_ticks  # noqa: E402
from iactx.plotting.geometry import (  # noqa: E402
    derotate,
    mask_outline,
    pixel_polygons,
    polygon_areas,
)
from iactx.plotting.waveforms import integration_window  # noqa: E402

BACKENDS = ["bokeh", "matplotlib"]

# HoloViews' matplotlib VSpans pass a default colour together with the face colour (HoloViews 1.23,
# matplotlib 3.11); harmless, not ours
pytestmark = pytest.mark.filterwarnings("ignore:Setting the 'color' property will override:UserWarning")

#: (file, camera group) of every camera type in the sample files
REAL_CAMERAS = [
    *(("calib_events.simtel.gz", name) for name in
      ("LSTCam", "NectarCam", "FlashCam", "ASTRICam", "CHEC", "DigiCam", "SCTCam")),
    ("camsettings_v6.simtel.zst", "LSTcam"),
    ("camsettings_v6.simtel.zst", "NectarCam"),
    ("gamma_with_obslevel_particles.simtel.zst", "HESS-1U"),
]

#: toy cameras: circles, a camera rotation, pixels turned by 45 and 10 deg
TOY_CAMERAS = {
    "circle": dict(pix_type="circle"),
    "hexagon_cam_rotation": dict(pix_type="hexagon", layout_rotation=10.0, cam_rotation=-19.1),
    "square_diamond": dict(pix_type="square", layout_rotation=45.0),
    "hexagon_flat": dict(pix_type="hexagon", layout_rotation=30.0, cam_rotation=5.0),
}


@functools.lru_cache(maxsize=None)
def _tree(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return iactx.read_simtel(data_file(name), calibration_events=True, focal_length="equivalent")


def real_camera(name, camera_name):
    return _tree(name)[camera_name].to_dataset()


def first_key(ds):
    obs, event, tel = ds.indexes["tel_event"][0]
    return int(event), int(tel)


def peak_image(ds):
    """Waveform maximum as a stand-in image (calibration is another step)."""
    return ds["waveform"].max("sample").assign_attrs(units="pe")


def render(obj, backend):
    fig = hv.render(obj, backend=backend)
    if backend == "matplotlib":
        plt.close(fig)
    return fig


def bokeh_patches(fig):
    renderers = [r for r in fig.renderers if isinstance(getattr(r, "glyph", None), Patches)]
    assert len(renderers) == 1, "exactly one patches glyph draws the pixels"
    data = renderers[0].data_source.data
    return [np.asarray(x) for x in data["xs"]], [np.asarray(y) for y in data["ys"]], renderers[0]


def mpl_polygons(fig):
    collections = [c for ax in fig.axes for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(collections) == 1, "exactly one PolyCollection draws the pixels"
    paths = collections[0].get_paths()
    return [p.vertices[:, 0] for p in paths], [p.vertices[:, 1] for p in paths], collections[0]


def drawn_polygons(obj, backend):
    fig = hv.render(obj, backend=backend)
    try:
        if backend == "bokeh":
            return bokeh_patches(fig) + (fig,)
        return mpl_polygons(fig) + (fig,)
    finally:
        if backend == "matplotlib":
            plt.close(fig)


def shoelace(xs, ys):
    return np.array([0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)) for x, y in zip(xs, ys)])


def check_orientation(ds, xs, ys):
    """Polygon edges face the nearest neighbour for hexagons and squares (no overlap, no gap in angle)."""
    from scipy.spatial import cKDTree

    if ds.attrs["pix_type"] == "circle":
        return
    cx = np.array([x.mean() for x in xs])
    cy = np.array([y.mean() for y in ys])
    _, nearest = cKDTree(np.c_[cx, cy]).query(np.c_[cx, cy], k=2)
    k = np.arange(cx.size)
    to_neighbour = np.arctan2(cy[nearest[:, 1]] - cy, cx[nearest[:, 1]] - cx)
    # direction from the centre to the middle of the first edge
    mid = np.arctan2((ys[0][0] + ys[0][1]) / 2 - cy[0], (xs[0][0] + xs[0][1]) / 2 - cx[0])
    period = 2 * np.pi / len(xs[0])
    offset = (to_neighbour - mid + period / 2) % period - period / 2
    assert np.degrees(np.abs(offset[k])).max() < 0.5


def check_pixels(ds, obj, backend):
    xs, ys, artist, fig = drawn_polygons(obj, backend)
    n = ds.sizes["pixel"]
    assert len(xs) == n
    areas = shoelace(xs, ys)
    np.testing.assert_allclose(areas, ds["pix_area"].values, rtol=0.05)
    np.testing.assert_allclose(areas, ds["pix_area"].values, rtol=1e-4)  # area-preserving polygons
    # centres are the derotated pixel positions
    x0, y0, _ = derotate(ds["pix_x"].values, ds["pix_y"].values, 0.0, ds.attrs["cam_rotation"])
    np.testing.assert_allclose([x.mean() if backend == "bokeh" else x[:-1].mean() for x in xs], x0, atol=1e-7)
    np.testing.assert_allclose([y.mean() if backend == "bokeh" else y[:-1].mean() for y in ys], y0, atol=1e-7)
    check_orientation(ds, [x if backend == "bokeh" else x[:-1] for x in xs],
                      [y if backend == "bokeh" else y[:-1] for y in ys])
    return artist, fig


# --- import ---------------------------------------------------------------------------------------

def test_import_iactx_does_not_import_holoviews():
    code = ("import sys, iactx, iactx.plotting; "
            "bad = [m for m in ('holoviews', 'bokeh', 'panel', 'matplotlib') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_accessor_plot_needs_no_holoviews_until_called():
    code = ("import sys, xarray as xr, iactx; ds = xr.Dataset(); p = ds.iact.plot; "
            "sys.exit(1 if 'holoviews' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


# --- geometry -------------------------------------------------------------------------------------

@pytest.mark.parametrize("pix_type", ["hexagon", "square", "circle"])
@pytest.mark.parametrize("rotation", [0.0, 17.0, 100.893])
def test_polygon_areas_equal_pixel_areas(pix_type, rotation):
    area = np.array([1e-3, 2e-3, 5e-4])
    xs, ys = pixel_polygons([0.0, 0.1, -0.3], [0.0, 0.2, 0.1], area, pix_type, rotation)
    np.testing.assert_allclose(polygon_areas(xs, ys), area, rtol=1e-12)
    assert xs.shape == (3, {"hexagon": 6, "square": 4, "circle": 32}[pix_type])


def test_polygon_orientation_conventions():
    xs, ys = pixel_polygons([0.0], [0.0], [np.sqrt(3) / 2 * 4], "hexagon")  # flat-to-flat 2, corner radius 2/sqrt(3)
    top = np.argmax(ys[0])
    assert xs[0, top] == pytest.approx(0.0, abs=1e-12)  # a corner points up
    assert ys[0, top] == pytest.approx(2 / np.sqrt(3))
    xs, ys = pixel_polygons([0.0], [0.0], [4.0], "square")
    np.testing.assert_allclose(np.sort(np.unique(np.round(xs, 12))), [-1.0, 1.0])  # sides parallel to the axes
    xs, ys = pixel_polygons([0.0], [0.0], [4.0], "square", pix_rotation=45.0)
    assert ys[0].max() == pytest.approx(np.sqrt(2))  # a diamond: corner up
    # counter-clockwise corners (positive signed area)
    x, y = xs[0], ys[0]
    assert 0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y) > 0


def test_derotate_matches_camera_geometry():
    from iactx.instrument import CameraGeometry

    geom = CameraGeometry("toy", [0.1, 0.2], [0.0, -0.1], [1e-3, 1e-3], "hexagon", pix_rotation=12.0,
                          cam_rotation=30.0)
    x, y, rot = derotate(geom.pix_x, geom.pix_y, geom.pix_rotation, geom.cam_rotation)
    other = geom.derotated()
    np.testing.assert_allclose(x, other.pix_x)
    np.testing.assert_allclose(y, other.pix_y)
    assert rot == pytest.approx(other.pix_rotation)


def _toy_polygons(pix_type, n_rings=2):
    ds = toy_camera(pix_type, n_rings=n_rings)
    xs, ys = pixel_polygons(ds.pix_x.values, ds.pix_y.values, ds.pix_area.values, pix_type)
    return ds, xs, ys


def test_mask_outline_counts_outer_edges():
    ds, xs, ys = _toy_polygons("hexagon")
    x, y = ds.pix_x.values, ds.pix_y.values
    centre = int(np.argmin(x**2 + y**2))
    ring = np.flatnonzero(np.isclose(np.hypot(x, y), 0.05))
    assert ring.size == 6
    one = np.zeros(x.size, bool)
    one[centre] = True
    assert mask_outline(xs, ys, one)[0].shape == (6, 2)
    two = one.copy()
    two[ring[0]] = True
    assert mask_outline(xs, ys, two)[0].shape == (10, 2)
    flower = one.copy()
    flower[ring] = True
    assert mask_outline(xs, ys, flower)[0].shape == (18, 2)
    hole = flower.copy()
    hole[centre] = False
    assert mask_outline(xs, ys, hole)[0].shape == (24, 2)  # 18 outside + 6 around the hole
    assert mask_outline(xs, ys, np.zeros(x.size, bool))[0].shape == (0, 2)
    ds, xs, ys = _toy_polygons("square")
    x, y = ds.pix_x.values, ds.pix_y.values
    block = (x >= 0) & (x < 0.075) & (y >= 0) & (y < 0.075)
    assert block.sum() == 4
    ex, ey = mask_outline(xs, ys, block)
    assert ex.shape == (8, 2)
    # every outline edge lies on the border of the 2x2 block
    edge_x = np.concatenate([ex.ravel()])
    assert np.all(np.isclose(edge_x, -0.025) | np.isclose(edge_x, 0.075) | ((edge_x > -0.026) & (edge_x < 0.076)))


def test_mask_outline_tolerates_gaps_between_pixels():
    ds, xs, ys = _toy_polygons("hexagon")
    shrunk = pixel_polygons(ds.pix_x.values, ds.pix_y.values, 0.9 * ds.pix_area.values, "hexagon")
    x, y = ds.pix_x.values, ds.pix_y.values
    flower = np.hypot(x, y) < 0.06
    assert mask_outline(*shrunk, flower)[0].shape == (18, 2)


# --- camera images: every camera, both backends -------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("file_name, camera_name", REAL_CAMERAS, ids=[f"{f.split('.')[0]}-{c}" for f, c in REAL_CAMERAS])
def test_camera_every_real_camera(file_name, camera_name, backend):
    ds = real_camera(file_name, camera_name)
    event, tel = first_key(ds)
    image = peak_image(ds)
    plot = camera(ds, image, event=event, tel=tel)
    assert isinstance(plot, CameraPixels)
    assert len(plot) == ds.sizes["pixel"]
    artist, fig = check_pixels(ds, plot, backend)
    values = image.sel(event=event, tel=tel).values.ravel()
    if backend == "bokeh":
        mapper = artist.glyph.fill_color.transform
        assert isinstance(mapper, LinearColorMapper)
        assert (mapper.low, mapper.high) == pytest.approx((values.min(), values.max()))
        np.testing.assert_allclose(artist.data_source.data["_color"], values, rtol=1e-6)
        hover = [t for t in fig.tools if isinstance(t, HoverTool)]
        assert hover and any("pixel id" in str(tip) for tip in hover[0].tooltips)
        bars = [r for r in fig.right if isinstance(r, ColorBar)]
        assert bars and "pe" in bars[0].title
    else:
        np.testing.assert_allclose(artist.get_array(), values, rtol=1e-6)
        assert artist.norm.vmin == pytest.approx(values.min())
        label = fig.axes[-1].get_ylabel()
        assert "pe" in label and "waveform" in label
        assert fig.axes[0].get_aspect() == 1.0


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("toy", sorted(TOY_CAMERAS))
def test_camera_toy_cameras(toy, backend):
    ds = toy_camera(**TOY_CAMERAS[toy])
    plot = camera(ds, "image", event=10, tel=2, mask="image_mask")
    assert isinstance(plot, hv.Overlay)
    assert [type(el).__name__ for el in plot] == ["CameraPixels", "Segments"]
    pixels = plot.get(0)
    check_pixels(ds, pixels, backend)
    render(plot, backend)


@pytest.mark.parametrize("var, units", [("image", "pe"), ("peak_time", "ns"), ("true_image", "pe"),
                                        ("image_mask", None)])
def test_camera_any_per_pixel_variable(var, units):
    ds = toy_camera("hexagon")
    plot = camera(ds, var, event=11, tel=1)
    np.testing.assert_array_equal(plot.dimension_values(var), ds[var].sel(event=11, tel=1).values.ravel().astype(float))
    assert plot.vdims[0].unit == units


def test_camera_waveform_sample_and_array_values():
    ds = toy_camera("square")
    plot = camera(ds, "waveform", event=10, tel=1, sample=9)
    np.testing.assert_array_equal(plot.dimension_values(2), ds.waveform.sel(event=10, tel=1).isel(sample=9).values.ravel())
    assert plot.vdims[0].name == "waveform[9]"
    with pytest.raises(ValueError, match="sample"):
        camera(ds, "waveform", event=10, tel=1)
    values = np.arange(ds.sizes["pixel"], dtype=float)
    assert np.array_equal(camera(ds, values, event=10, tel=1).dimension_values(2), values)
    one = ds.isel(tel_event=0)
    assert len(camera(one, "image")) == ds.sizes["pixel"]


def test_camera_selection_errors_list_choices():
    ds = toy_camera("hexagon")
    with pytest.raises(ValueError, match=r"2 telescope events match \{'event': 10\}"):
        camera(ds, "image", event=10)
    with pytest.raises(KeyError, match="no telescope event"):
        camera(ds, "image", event=99, tel=1)
    with pytest.raises(KeyError, match="per-pixel variables"):
        camera(ds, "nothing", event=10, tel=1)
    with pytest.raises(ValueError, match="scale"):
        camera(ds, "image", event=10, tel=1, scale="sqrt")


# --- colour scales --------------------------------------------------------------------------------

def test_symlog_transform_and_ticks():
    v = np.array([-100.0, -1.0, 0.0, 1.0, 9.0, 99.0])
    np.testing.assert_allclose(symlog(v), np.sign(v) * np.log10(1 + np.abs(v)))
    np.testing.assert_allclose(symlog(v, 10.0), np.sign(v) * np.log10(1 + np.abs(v) / 10.0))
    ticks = symlog_ticks(-50.0, 2000.0)
    assert 0.0 in ticks and 1000.0 in ticks and -10.0 in ticks
    assert ticks.min() >= -50 and ticks.max() <= 2000


@pytest.mark.parametrize("backend", BACKENDS)
def test_camera_log_scale(backend):
    ds = toy_camera("hexagon")
    values = ds.image.sel(event=10, tel=1).values.ravel().astype(float)
    plot = camera(ds, "image", event=10, tel=1, scale="log")
    _, _, artist, fig = drawn_polygons(plot, backend)
    positive = values[values > 0].min()
    if backend == "bokeh":
        mapper = artist.glyph.fill_color.transform
        assert isinstance(mapper, LogColorMapper)
        assert (mapper.low, mapper.high) == pytest.approx((positive, values.max()))
        assert np.asarray(artist.data_source.data["_color"]).min() == pytest.approx(positive)
    else:
        assert isinstance(artist.norm, matplotlib.colors.LogNorm)
        assert (artist.norm.vmin, artist.norm.vmax) == pytest.approx((positive, values.max()))


@pytest.mark.parametrize("backend", BACKENDS)
def test_camera_symlog_scale(backend):
    ds = toy_camera("hexagon")
    values = ds.image.sel(event=10, tel=1).values.ravel().astype(float)
    plot = camera(ds, "image", event=10, tel=1, scale="symlog", linthresh=2.0, clim=(-5, None))
    _, _, artist, fig = drawn_polygons(plot, backend)
    if backend == "bokeh":
        np.testing.assert_allclose(artist.data_source.data["_color"], symlog(values, 2.0))
        mapper = artist.glyph.fill_color.transform
        assert (mapper.low, mapper.high) == pytest.approx((symlog(-5.0, 2.0), symlog(values.max(), 2.0)))
        bar = [r for r in fig.right if isinstance(r, ColorBar)][0]
        assert isinstance(bar.ticker, FixedTicker)
        labels = {round(float(k), 9): v for k, v in bar.major_label_overrides.items()}
        assert labels[round(float(symlog(10.0, 2.0)), 9)] == "10"
        assert labels[0.0] == "0" and labels[round(float(symlog(-1.0, 2.0)), 9)] == "-1"
        assert sorted(round(t, 9) for t in bar.ticker.ticks) == sorted(labels)
    else:
        norm = artist.norm
        assert norm(0.0) == pytest.approx((symlog(0.0, 2.0) - symlog(-5.0, 2.0))
                                          / (symlog(values.max(), 2.0) - symlog(-5.0, 2.0)))
        cbar_axis = fig.axes[-1]
        assert "10" in [t.get_text() for t in cbar_axis.get_yticklabels()]


# --- overlays -------------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_camera_overlays_on_lstcam(backend):
    ds = real_camera("lst_muons_with_true_photons.simtel.zst", "LSTCam")
    event, tel = first_key(ds)
    image = peak_image(ds).sel(event=event, tel=tel)
    mask = (image > 6).values.ravel()
    hillas = {"x": 0.3, "y": -0.2, "length": 0.2, "width": 0.05, "psi": 35.0}
    ring = {"center_x": 0.1, "center_y": 0.05, "radius": 0.6}
    plot = camera(ds, peak_image(ds), event=event, tel=tel, mask=mask, hillas=hillas, ring=ring, n_sigma=2.0)
    assert [type(el).__name__ for el in plot] == ["CameraPixels", "Segments", "Path", "Path", "Points", "Path",
                                                  "Points"]
    pixels, outline, ellipse, axis, centroid, circle, centre = list(plot)
    xs, ys = pixel_polygons(ds.pix_x.values, ds.pix_y.values, ds.pix_area.values, "hexagon",
                            ds.attrs["pix_rotation"])
    assert len(outline) == mask_outline(xs, ys, mask)[0].shape[0] > 0
    ex, ey = ellipse.dimension_values(0), ellipse.dimension_values(1)
    distance = np.hypot(ex - 0.3, ey + 0.2)
    assert distance.max() == pytest.approx(0.4, rel=1e-3) and distance.min() == pytest.approx(0.1, rel=1e-3)
    far = np.argmax(distance)
    assert np.degrees(np.arctan2(ey[far] + 0.2, ex[far] - 0.3)) % 180 == pytest.approx(35.0, abs=0.5)
    axx, axy = axis.dimension_values(0), axis.dimension_values(1)
    assert np.degrees(np.arctan2(axy[1] - axy[0], axx[1] - axx[0])) % 180 == pytest.approx(35.0)
    reach = np.hypot(ds.pix_x.values, ds.pix_y.values).max()
    np.testing.assert_allclose(np.hypot(axx, axy), reach)  # across the camera
    assert centroid.array().tolist() == [[0.3, -0.2]]
    np.testing.assert_allclose(np.hypot(circle.dimension_values(0) - 0.1, circle.dimension_values(1) - 0.05), 0.6)
    fig = render(plot, backend)
    if backend == "bokeh":
        assert len(bokeh_patches(fig)[0]) == ds.sizes["pixel"]


def test_hillas_from_telescope_frame_and_dataset_variables():
    ds = toy_camera("hexagon").isel(tel_event=0)
    f = float(ds.focal_length)
    tel_frame = {"hillas_fov_lon": 1.0, "hillas_fov_lat": 0.5, "hillas_length": 0.2, "hillas_width": 0.1,
                 "hillas_psi": 30.0}
    h = hillas_in_camera_frame(tel_frame, ds)
    assert h["x"] == pytest.approx(f * np.deg2rad(0.5))
    assert h["y"] == pytest.approx(f * np.deg2rad(1.0))
    assert h["length"] == pytest.approx(f * np.deg2rad(0.2))
    assert h["psi"] == pytest.approx(60.0)
    # the same values as variables of the dataset
    with_vars = ds.assign({k: xr.DataArray(v, attrs={"units": "deg"}) for k, v in tel_frame.items()})
    assert hillas_in_camera_frame(True, with_vars) == pytest.approx(h)
    camera_vars = with_vars.assign({f"camera_frame_hillas_{k}": xr.DataArray(v) for k, v in
                                    {"x": 0.1, "y": 0.2, "length": 0.05, "width": 0.01, "psi": 10.0}.items()})
    assert hillas_in_camera_frame(True, camera_vars)["x"] == 0.1  # camera frame preferred
    with pytest.raises(KeyError, match="hillas"):
        hillas_in_camera_frame(True, ds)
    plot = camera(with_vars, "image", hillas=True)
    assert [type(el).__name__ for el in plot][:3] == ["CameraPixels", "Path", "Path"]


def test_ring_from_telescope_frame():
    ds = toy_camera("hexagon").isel(tel_event=0)
    ds = ds.assign(muonring_center_fov_lon=0.2, muonring_center_fov_lat=-0.1, muonring_radius=1.1)
    r = ring_in_camera_frame(True, ds)
    assert r == pytest.approx({"x": 16 * np.deg2rad(-0.1), "y": 16 * np.deg2rad(0.2), "radius": 16 * np.deg2rad(1.1)})
    with pytest.raises(KeyError, match="muon"):
        ring_in_camera_frame(True, ds.drop_vars("muonring_radius"))


# --- speed ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_sctcam_renders_quickly(backend):
    ds = real_camera("calib_events.simtel.gz", "SCTCam")
    assert ds.sizes["pixel"] == 11328
    event, tel = first_key(ds)
    start = time.perf_counter()
    plot = camera(ds, peak_image(ds), event=event, tel=tel, mask=(peak_image(ds) > 2).isel(tel_event=0).values,
                  scale="symlog")
    render(plot, backend)
    elapsed = time.perf_counter() - start
    print(f"SCTCam (11328 pixels) built and rendered with {backend} in {elapsed:.2f} s")
    assert elapsed < 10.0


# --- static files ---------------------------------------------------------------------------------

def test_static_png_svg_and_offline_html(tmp_path):
    ds = real_camera("calib_events.simtel.gz", "CHEC")
    event, tel = first_key(ds)
    plot = camera(ds, peak_image(ds), event=event, tel=tel)
    hv.save(plot, tmp_path / "chec.png", backend="matplotlib", dpi=60)
    hv.save(plot, tmp_path / "chec.svg", backend="matplotlib")
    assert (tmp_path / "chec.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in (tmp_path / "chec.svg").read_text()[:1000]
    page = save_html(plot, tmp_path / "chec.html").read_text()
    assert "<script src" not in page and "https://" not in page.split("<body>")[0][-2000:]
    assert "Bokeh.embed" in page and '"type":"object","name":"Patches"' in page.replace(" ", "")


# --- waveforms ------------------------------------------------------------------------------------

def _reference_window(wf, extractor, width, shift, peak_index=0, neighbors=None, lwt=0, fraction=1.0):
    """Loop-by-loop reference of the extractors' windows."""
    n_pix, n_s = wf.shape
    starts, stops = [], []
    for p in range(n_pix):
        if extractor == "LocalPeakWindowSum":
            peak = int(np.argmax(wf[p]))
        elif extractor == "FixedWindowSum":
            peak = peak_index
        elif extractor == "NeighborPeakWindowSum":
            total = lwt * wf[p].copy()
            for q in neighbors[p]:
                if q >= 0:
                    total += wf[q]
            peak = int(np.argmax(total))
        elif extractor == "GlobalPeakWindowSum":
            order = np.argsort(wf.max(axis=1))[::-1][:max(1, int(fraction * n_pix))]
            peak = int(np.argmax(wf[order].mean(axis=0)))
        elif extractor == "SlidingWindowMaxSum":
            sums = [wf[p, i:i + width].sum() for i in range(n_s - width + 1)]
            start = int(np.argmax(sums))
            starts.append(start)
            stops.append(start + width)
            continue
        starts.append(min(max(peak - shift, 0), n_s))
        stops.append(min(max(peak - shift + width, 0), n_s))
    return np.array(starts), np.array(stops)


@pytest.mark.parametrize("extractor", ["LocalPeakWindowSum", "FixedWindowSum", "NeighborPeakWindowSum",
                                       "GlobalPeakWindowSum", "SlidingWindowMaxSum"])
def test_integration_window_matches_reference(extractor):
    ds = toy_camera("hexagon", n_rings=3)
    rng = np.random.default_rng(1)
    wf = ds.waveform.isel(tel_event=0).values + rng.normal(0, 2, (ds.sizes["pixel"], ds.sizes["sample"]))
    table = ds.neighbors.values
    got = integration_window(wf, extractor, window_width=5, window_shift=2, peak_index=3, lwt=1,
                             pixel_fraction=0.3, neighbors=table)
    want = _reference_window(wf, extractor, 5, 2, peak_index=3, neighbors=table, lwt=1, fraction=0.3)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    assert np.all(got[0] >= 0) and np.all(got[1] <= wf.shape[1])


@pytest.mark.parametrize("backend", BACKENDS)
def test_waveforms_with_window(backend):
    ds = real_camera("lst_muons_with_true_photons.simtel.zst", "LSTCam")
    event, tel = first_key(ds)
    plot = waveforms(ds, event=event, tel=tel, pixels=[10, 20, 30], window="LocalPeakWindowSum")
    kinds = [type(el).__name__ for el in plot]
    assert kinds == ["Curve"] * 3 + ["VSpans"] * 3
    rate = ds.attrs["sampling_rate"]
    wf = ds.waveform.sel(event=event, tel=tel).values[0] if ds.waveform.sel(event=event, tel=tel).ndim == 3 \
        else ds.waveform.sel(event=event, tel=tel).values
    for curve, pixel in zip(list(plot)[:3], [10, 20, 30]):
        assert curve.label == f"pixel {pixel}"
        np.testing.assert_allclose(curve.dimension_values(0), np.arange(ds.sizes["sample"]) / rate)
        np.testing.assert_allclose(curve.dimension_values(1), wf[pixel])
    start, stop = integration_window(wf, "LocalPeakWindowSum")
    for span, pixel in zip(list(plot)[3:], [10, 20, 30]):
        assert span.dimension_values(0)[0] == pytest.approx((start[pixel] - 0.5) / rate)
        assert span.dimension_values(1)[0] == pytest.approx((stop[pixel] - 0.5) / rate)
    render(plot, backend)


def test_waveforms_window_from_image_attributes_and_brightest_default():
    ds = toy_camera("hexagon")
    ds["image"].attrs.update(extractor="NeighborPeakWindowSum", window_width=4, window_shift=1)
    plot = waveforms(ds, event=10, tel=2, n_brightest=2)
    curves = [el for el in plot if isinstance(el, hv.Curve)]
    brightest = np.argsort(ds.image.sel(event=10, tel=2).values.ravel())[::-1][:2]
    assert [c.label for c in curves] == [f"pixel {p}" for p in brightest]
    spans = [el for el in plot if isinstance(el, hv.VSpans)]
    wf = ds.waveform.sel(event=10, tel=2).values.reshape(ds.sizes["pixel"], -1)
    start, stop = integration_window(wf, "NeighborPeakWindowSum", window_width=4, window_shift=1,
                                     neighbors=ds.neighbors.values)
    assert spans[0].dimension_values(0)[0] == pytest.approx(start[brightest[0]] - 0.5)
    assert stop[brightest[0]] - start[brightest[0]] == 4
    assert [type(el).__name__ for el in waveforms(ds, event=10, tel=2, window=False)] == ["Curve"]
    explicit = waveforms(ds, event=10, tel=2, pixels=3, window=(2, 9))
    assert list(explicit)[1].dimension_values(0)[0] == pytest.approx(1.5)


def test_waveforms_window_from_extractor_objects():
    ds = toy_camera("hexagon")

    class WithWindow:  # like iactx.calib extractors: computes its own window on a camera group
        def window(self, data):
            assert data.sizes["tel_event"] == 1 and int(data.indexes["tel_event"][0][2]) == 2
            n = data.sizes["pixel"]
            return np.full((1, n), 4), np.full((1, n), 11)

    class WithAttributes:
        window_width = 3
        window_shift = 1
        local_weight = 0

    plot = waveforms(ds, event=10, tel=2, pixels=[5], window=WithWindow())
    span = list(plot)[1]
    assert (span.dimension_values(0)[0], span.dimension_values(1)[0]) == (3.5, 10.5)
    WithAttributes.__name__ = "LocalPeakWindowSum"
    plot = waveforms(ds, event=10, tel=2, pixels=[5], window=WithAttributes())
    wf = ds.waveform.sel(event=10, tel=2).values.reshape(ds.sizes["pixel"], -1)
    peak = int(np.argmax(wf[5]))
    assert list(plot)[1].dimension_values(0)[0] == pytest.approx(peak - 1 - 0.5)
    ds["image"].attrs.update(extractor="integrated")
    assert len(waveforms(ds, event=10, tel=2, pixels=[5])) == 1  # no window for unknown extractors
    ds["image"].attrs.update(extractor="FullWaveformSum")
    span = list(waveforms(ds, event=10, tel=2, pixels=[5]))[1]
    assert (span.dimension_values(0)[0], span.dimension_values(1)[0]) == (-0.5, ds.sizes["sample"] - 0.5)


def test_accessor_plot_methods():
    ds = toy_camera("square")
    plot = ds.iact.plot.camera("peak_time", event=11, tel=1, mask=True)
    assert isinstance(plot.get(0), CameraPixels) and plot.get(0).vdims[0].unit == "ns"
    assert isinstance(ds.iact.plot.waveforms(10, 1, pixels=[0, 1]), hv.Overlay)
    assert isinstance(ds.iact.plot.browser(), hv.Layout)
    tree = toy_tree({"ToySquare": ds}, {1: (0, 0, 0), 2: (100, 0, 0)}, {1: "MST_MST_Toy", 2: "MST_MST_Toy"})
    assert isinstance(tree.iact.plot.array(event=10), hv.Overlay)


# --- array ----------------------------------------------------------------------------------------

def test_telescope_frame_directions_agree_with_astropy():
    from astropy import units as u
    from astropy.coordinates import AltAz, SkyCoord, SkyOffsetFrame

    alt, az = 65.0, 130.0
    lon, lat = np.array([0.0, 1.5, -2.0, 0.3]), np.array([0.0, 0.5, 1.0, -2.5])
    pointing = SkyCoord(alt=alt * u.deg, az=az * u.deg, frame=AltAz())
    sky = SkyCoord(lon=lon * u.deg, lat=lat * u.deg, frame=SkyOffsetFrame(origin=pointing)).transform_to(AltAz())
    north = np.cos(sky.alt.rad) * np.cos(sky.az.rad)
    west = -np.cos(sky.alt.rad) * np.sin(sky.az.rad)
    up = np.sin(sky.alt.rad)
    np.testing.assert_allclose(telescope_to_ground_direction(alt, az, lon, lat), np.c_[north, west, up], atol=1e-12)


def _shower_images(positions, core, source_alt, source_az, pointing_alt, pointing_az):
    """Telescope-frame centroid and psi of a shower seen from each telescope (two points on its axis)."""
    from astropy import units as u
    from astropy.coordinates import AltAz, SkyCoord, SkyOffsetFrame

    s = telescope_to_ground_direction(source_alt, source_az, 0.0, 0.0)
    frame = SkyOffsetFrame(origin=SkyCoord(alt=pointing_alt * u.deg, az=pointing_az * u.deg, frame=AltAz()))
    rows = []
    for p in positions:
        coords = []
        for height in (6000.0, 12000.0):
            point = np.array([core[0], core[1], 0.0]) + height / s[2] * s
            d = point - np.asarray(p)
            d /= np.linalg.norm(d)
            sky = SkyCoord(alt=np.arcsin(d[2]) * u.rad, az=np.arctan2(-d[1], d[0]) * u.rad, frame=AltAz())
            off = sky.transform_to(frame)
            coords.append((off.lon.wrap_at(180 * u.deg).deg, off.lat.deg))
        (lon1, lat1), (lon2, lat2) = coords
        rows.append((lon1, lat1, np.degrees(np.arctan2(lat2 - lat1, lon2 - lon1))))
    return np.array(rows)


def test_image_axes_on_ground_cross_at_the_core():
    positions = np.array([(0.0, 0.0, 10.0), (150.0, 40.0, 5.0), (-80.0, 120.0, 0.0), (60.0, -140.0, 20.0)])
    core = (35.0, 25.0)
    images = _shower_images(positions, core, 68.0, 182.0, 70.0, 180.0)
    point, direction = image_axis_on_ground(*positions.T, np.full(4, 70.0), np.full(4, 180.0), *images.T)
    offset = np.asarray(core) - point
    distance = np.abs(offset[:, 0] * direction[:, 1] - offset[:, 1] * direction[:, 0])
    assert distance.max() < 0.5  # metres, for telescopes 30-200 m from the core
    np.testing.assert_allclose(np.hypot(*direction.T), 1.0)


def _toy_array_tree():
    positions = {1: (0.0, 0.0, 10.0), 2: (150.0, 40.0, 5.0), 3: (-80.0, 120.0, 0.0), 4: (60.0, -140.0, 20.0),
                 5: (300.0, 300.0, 0.0)}
    core = (35.0, 25.0)
    images = _shower_images([positions[t] for t in (1, 2, 3, 4)], core, 68.0, 182.0, 70.0, 180.0)
    hexa = toy_camera("hexagon", keys=((1, 10, 1), (1, 10, 2), (1, 11, 2)), name="ToyHex")
    square = toy_camera("square", keys=((1, 10, 3), (1, 10, 4)), name="ToySquare")
    for ds, rows in ((hexa, [images[0], images[1], images[1]]), (square, [images[2], images[3]])):
        rows = np.array(rows)
        ds["hillas_fov_lon"] = ("tel_event", rows[:, 0], {"units": "deg"})
        ds["hillas_fov_lat"] = ("tel_event", rows[:, 1], {"units": "deg"})
        ds["hillas_psi"] = ("tel_event", rows[:, 2], {"units": "deg"})
        ds["pointing_az"] = ("tel_event", np.full(len(rows), 180.0), {"units": "deg"})
    types = {1: "LST_LST_ToyHex", 2: "LST_LST_ToyHex", 3: "MST_MST_ToySquare", 4: "MST_MST_ToySquare",
             5: "SST_ASTRI_Toy"}
    return toy_tree({"ToyHex": hexa, "ToySquare": square}, positions, types, true_core=core), core


@pytest.mark.parametrize("backend", BACKENDS)
def test_array_display(backend):
    tree, core = _toy_array_tree()
    plot = array(tree, event=10)
    kinds = [type(el).__name__ for el in plot]
    assert kinds == ["Points", "Points", "Points", "Points", "Segments", "Points", "Labels"]
    by_type = {el.dimension_values("tel_type")[0]: sorted(el.dimension_values("tel").astype(int))
               for el in list(plot)[:3]}
    assert by_type == {"LST_LST_ToyHex": [1, 2], "MST_MST_ToySquare": [3, 4], "SST_ASTRI_Toy": [5]}
    triggered = list(plot)[3]
    assert triggered.label == "triggered" and sorted(triggered.dimension_values("tel").astype(int)) == [1, 2, 3, 4]
    segments = list(plot)[4]
    assert len(segments) == 4
    x0, y0, x1, y1 = (segments.dimension_values(i) for i in range(4))
    # every projected image axis passes (within 0.5 m) through the true core
    d = np.abs((core[0] - x0) * (y1 - y0) - (core[1] - y0) * (x1 - x0)) / np.hypot(x1 - x0, y1 - y0)
    assert d.max() < 0.5
    assert list(plot)[5].array().tolist() == [list(core)]
    only_one = array(tree, event=11)
    assert sorted(list(only_one)[3].dimension_values("tel").astype(int)) == [2]
    layout_only = array(tree)
    assert [type(el).__name__ for el in layout_only] == ["Points", "Points", "Points", "Labels"]
    render(plot, backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_array_display_real_files(backend):
    tree = _tree("camsettings_v6.simtel.zst")
    event = int(tree["LSTcam"].ds.indexes["tel_event"][0][1])
    plot = array(tree, event=event)
    points = [el for el in plot if isinstance(el, hv.Points)]
    assert sum(len(p) for p in points[:2]) == 19  # LSTs and NectarCams
    n_tel_events = tree["LSTcam"].ds.sizes["tel_event"] + tree["NectarCam"].ds.sizes["tel_event"]
    assert len(points[2]) == n_tel_events == 9
    root = tree.to_dataset()
    assert points[3].array().tolist() == [[float(root.true_core_x[0]), float(root.true_core_y[0])]]
    render(plot, backend)
    tree = _tree("calib_events.simtel.gz")
    render(array(tree, event=-1), backend)


# --- browser --------------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_browser_links_camera_and_waveform(backend):
    ds = toy_camera("hexagon", keys=((1, 10, 1), (1, 10, 2), (1, 11, 1)))
    layout = browser(ds, "image", mask="image_mask", window="LocalPeakWindowSum")
    assert isinstance(layout, hv.Layout)
    camera_map, waveform_map = layout.values()
    assert [d.name for d in waveform_map.kdims] == ["event", "tel"]
    assert waveform_map.kdims[0].values == [10, 11] and waveform_map.kdims[1].values == [1, 2]
    image = camera_map[10, 2]
    pixels = image.get(0)
    assert isinstance(pixels, CameraPixels)
    np.testing.assert_allclose(pixels.dimension_values(2), ds.image.sel(event=10, tel=2).values.ravel())
    # default: brightest pixel
    brightest = int(np.argmax(ds.image.sel(event=10, tel=2).values))
    assert list(waveform_map[10, 2])[0].label == f"pixel {brightest}"
    # a click on a pixel centre selects that pixel
    tap = waveform_map.streams[0]
    target = 17
    tap.event(x=float(ds.pix_x[target]) + 0.004, y=float(ds.pix_y[target]) - 0.003)
    trace = waveform_map[10, 2]
    assert list(trace)[0].label == f"pixel {target}"
    np.testing.assert_allclose(list(trace)[0].dimension_values(1), ds.waveform.sel(event=10, tel=2).values.reshape(-1, 20)[target])
    marker = list(camera_map[10, 2])[-1]
    assert isinstance(marker, hv.Points)
    np.testing.assert_allclose(marker.array()[0], [float(ds.pix_x[target]), float(ds.pix_y[target])])
    assert nearest_pixel(ds, float(ds.pix_x[target]), float(ds.pix_y[target])) == target
    # a telescope without data in this event: empty camera, NaN waveform, same structure
    empty = camera_map[11, 2]
    assert np.isnan(empty.get(0).dimension_values(2)).all()
    title = hv.Store.lookup_options(backend, empty, "plot").kwargs["title"]
    assert title == "ToyHexagon, tel 2: no data in event 11"
    assert [type(el).__name__ for el in waveform_map[11, 2]] == ["Curve", "VSpans"]
    if backend == "bokeh":
        model = render(layout, backend)  # the interactive layout, at its first key
        patches = [r for r in model.select({"type": GlyphRenderer}) if isinstance(r.glyph, Patches)]
        assert len(patches) == 1 and len(patches[0].data_source.data["xs"]) == ds.sizes["pixel"]
    else:  # static output: one frame
        render(camera_map[10, 2] + waveform_map[10, 2], backend)


# --- with the analysis chain: calibration, cleaning, parameters, muon fit ---------------------------

@functools.lru_cache(maxsize=None)
def _dl1(name):
    return _tree(name).iact.dl1()


def test_hillas_overlay_from_telescope_frame_matches_camera_frame_parameters():
    """The telescope-frame hillas_* converted for drawing agree with camera_frame_hillas_* of the same images."""
    tel_frame = _dl1("camsettings_v6.simtel.zst")["LSTcam"].to_dataset()
    raw = _tree("camsettings_v6.simtel.zst")["LSTcam"].to_dataset()
    cam_frame = raw.iact.calibrate().iact.clean().iact.parameters(frame="camera")
    assert np.array_equal(tel_frame["image_mask"].values, cam_frame["image_mask"].values)
    for k in range(tel_frame.sizes["tel_event"]):
        drawn = hillas_in_camera_frame(True, tel_frame.isel(tel_event=k))
        direct = hillas_in_camera_frame(True, cam_frame.isel(tel_event=k))
        assert drawn["x"] == pytest.approx(direct["x"], abs=1e-4)
        assert drawn["y"] == pytest.approx(direct["y"], abs=1e-4)
        assert drawn["length"] == pytest.approx(direct["length"], rel=0.01)
        assert drawn["width"] == pytest.approx(direct["width"], rel=0.01)
        assert (drawn["psi"] - direct["psi"] + 90) % 180 - 90 == pytest.approx(0.0, abs=0.2)


@pytest.mark.parametrize("backend", BACKENDS)
def test_camera_with_dl1_mask_and_hillas(backend):
    cam = _dl1("camsettings_v6.simtel.zst")["LSTcam"].to_dataset()
    plot = camera(cam, "image", event=100, tel=1, mask=True, hillas=True)
    kinds = [type(el).__name__ for el in plot]
    assert kinds == ["CameraPixels", "Segments", "Path", "Path", "Points"]
    mask = cam["image_mask"].sel(event=100, tel=1).values.ravel()
    xs, ys = pixel_polygons(cam.pix_x.values, cam.pix_y.values, cam.pix_area.values, "hexagon",
                            cam.attrs["pix_rotation"])
    assert len(list(plot)[1]) == mask_outline(xs, ys, mask)[0].shape[0] > 6
    centroid = list(plot)[4].array()[0]
    f = float(cam["focal_length"].sel(event=100, tel=1).squeeze())
    lon = float(cam["hillas_fov_lon"].sel(event=100, tel=1).squeeze())
    lat = float(cam["hillas_fov_lat"].sel(event=100, tel=1).squeeze())
    np.testing.assert_allclose(centroid, [f * np.deg2rad(lat), f * np.deg2rad(lon)])
    # the centroid lies among the cleaned pixels
    assert np.min(np.hypot(cam.pix_x.values[mask] - centroid[0], cam.pix_y.values[mask] - centroid[1])) < 0.1
    render(plot, backend)


def test_waveform_window_matches_the_calibration_extractor():
    from iactx.calib.extractors import NeighborPeakWindowSum

    cam = _dl1("camsettings_v6.simtel.zst")["LSTcam"].to_dataset()
    start, stop = NeighborPeakWindowSum().window(cam)
    neighbors = cam["neighbors"].values
    for k in range(cam.sizes["tel_event"]):
        wf = cam["waveform"].isel(tel_event=k).transpose("pixel", "sample").values
        mine = integration_window(wf, "NeighborPeakWindowSum", neighbors=neighbors)
        np.testing.assert_array_equal(mine[0], start.isel(tel_event=k).values)
        np.testing.assert_array_equal(mine[1], stop.isel(tel_event=k).values)
    # by default the window comes from the image attributes written by the calibration
    plot = waveforms(cam, event=100, tel=3, pixels=[100, 200])
    spans = [el for el in plot if isinstance(el, hv.VSpans)]
    rate = cam.attrs["sampling_rate"]
    first = start.sel(tel=3).squeeze().values
    assert spans[0].dimension_values(0)[0] == pytest.approx((first[100] - 0.5) / rate)
    # and an extractor object is asked for its own window
    plot = waveforms(cam, event=100, tel=3, pixels=[200], window=NeighborPeakWindowSum(window_width=5))
    span = [el for el in plot if isinstance(el, hv.VSpans)][0]
    width = (span.dimension_values(1)[0] - span.dimension_values(0)[0]) * rate
    assert width == pytest.approx(5.0)


def test_array_axes_from_dl1_parameters():
    tree = _dl1("camsettings_v6.simtel.zst")
    plot = array(tree, event=100)
    segments = [el for el in plot if isinstance(el, hv.Segments)]
    finite = sum(int(np.isfinite(tree[name].ds["hillas_psi"].values).sum()) for name in tree.iact.cameras)
    assert len(segments) == 1 and len(segments[0]) == finite > 3
    # each drawn axis passes (within a few metres) through its telescope
    inst = tree["instrument"].ds
    x0, y0, x1, y1 = (segments[0].dimension_values(i) for i in range(4))
    mid = np.c_[(x0 + x1) / 2, (y0 + y1) / 2]
    distance = np.min(np.hypot(mid[:, :1] - inst.pos_x.values[None, :], mid[:, 1:] - inst.pos_y.values[None, :]),
                      axis=1)
    assert distance.max() < 20.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_muon_ring_from_the_muon_fit(backend):
    tree = _tree("lst_muons_with_true_photons.simtel.zst")
    mu = tree["LSTCam"].to_dataset().iact.calibrate().iact.clean().iact.muon_fit(tree["instrument"])
    one = mu.sel(event=200, tel=1).squeeze()
    plot = camera(mu, "image", event=200, tel=1, mask=True, ring=True)
    assert [type(el).__name__ for el in plot] == ["CameraPixels", "Segments", "Path", "Points"]
    circle, centre = list(plot)[2:]
    f = float(one["focal_length"])
    radius = f * np.deg2rad(float(one["muonring_radius"]))
    cx, cy = f * np.deg2rad(float(one["muonring_center_fov_lat"])), f * np.deg2rad(float(one["muonring_center_fov_lon"]))
    np.testing.assert_allclose(centre.array()[0], [cx, cy])
    np.testing.assert_allclose(np.hypot(circle.dimension_values(0) - cx, circle.dimension_values(1) - cy), radius)
    # the ring runs through the bright pixels of the cleaned image
    mask = one["image_mask"].values
    r = np.hypot(mu.pix_x.values[mask] - cx, mu.pix_y.values[mask] - cy)
    assert np.median(np.abs(r - radius)) < 0.1
    render(plot, backend)


# --- every camera: waveforms and browser ---------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("file_name, camera_name", REAL_CAMERAS, ids=[f"{f.split('.')[0]}-{c}" for f, c in REAL_CAMERAS])
def test_waveforms_and_browser_every_real_camera(file_name, camera_name, backend):
    ds = real_camera(file_name, camera_name)
    event, tel = first_key(ds)
    plot = waveforms(ds, event=event, tel=tel, n_brightest=2, window="LocalPeakWindowSum")
    assert [type(el).__name__ for el in plot] == ["Curve", "Curve", "VSpans", "VSpans"]
    assert len(list(plot)[0]) == ds.sizes["sample"]
    render(plot, backend)
    layout = browser(ds, peak_image(ds))
    camera_map, waveform_map = layout.values()
    frame = camera_map[event, tel]
    assert len(frame.get(0)) == ds.sizes["pixel"]
    if backend == "bokeh":
        render(layout, backend)
    else:
        render(frame + waveform_map[event, tel], backend)


# --- toy simulation -------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_toy_simulation_events(backend):
    from iactx.io.toy import toy_events

    tree = toy_events(3, seed=1)
    for name in tree.iact.cameras:
        ds = tree[name].to_dataset()
        event, tel = first_key(ds)
        plot = camera(ds, "true_image" if "true_image" in ds else peak_image(ds), event=event, tel=tel)
        check_pixels(ds, plot, backend)
        render(waveforms(ds, event=event, tel=tel), backend)
    render(array(tree, event=first_key(tree[tree.iact.cameras[0]].to_dataset())[0]), backend)
