"""The DL0 -> DL1 chain on the sample sim_telarray files.

``tree.iact.dl1()`` (calibration, tail-cuts cleaning, parameters, all with
ctapipe-process's defaults) against numbers ctapipe 0.32 gives on the same
files (from ``benchmarks/compare_ctapipe_dl1.py``, which checks every
parameter); plus the labelled-layer contract on real data: dims and attrs,
numpy vs dask, no mutation, per-telescope-type configuration.
"""

import warnings

import numpy as np
import pytest
import xarray as xr
from conftest import data_file

import iactx
from iactx.image.cleaning import merge_into
from iactx.image.processor import ImageProcessor

# ctapipe 0.32, ctapipe-process defaults: pixels surviving cleaning and some parameters per telescope event
CTAPIPE = {
    ("lst_with_photons.simtel.zst", "LSTCam"): {
        "n_pixels": [105],
        "hillas_intensity": [2998.7893676757812], "hillas_length": [0.8070881577712686],
        "hillas_psi": [-45.43295712051554], "timing_slope": [0.09912408378829075],
        "concentration_core": [0.38701620415058036], "intensity_kurtosis": [-0.5141645786868314],
        "morphology_n_islands": [3], "camera_frame_hillas_x": [0.20050863835990118],
        "true_hillas_intensity": [3370.0],
    },
    ("lst_muons_with_true_photons.simtel.zst", "LSTCam"): {
        "n_pixels": [114, 122, 125],
        "hillas_intensity": [3801.884922504425, 3645.4581394195557, 3194.4395203590393],
        "hillas_psi": [-85.33098269007628, 5.373634153322841, 68.0585039179171],
        "timing_slope": [-0.09060491590603942, 0.014617545932892939, -0.036480054267403035],
        "intensity_kurtosis": [-0.472758255640493, -0.5969421794990493, -0.6641889642218013],
        "camera_frame_hillas_x": [0.024156892930853366, 0.02227922592431537, -0.0013806634479209435],
        "true_hillas_intensity": [3976.0, 3916.0, 3387.0],
    },
    ("gamma_with_obslevel_particles.simtel.zst", "HESS-1U"): {
        "n_pixels": [25],
        "hillas_intensity": [926.4429116249084], "hillas_length": [0.12692821531243773],
        "hillas_psi": [77.0699256028934], "timing_slope": [-0.09003513366268069],
        "concentration_core": [0.6339770745985595], "intensity_kurtosis": [5.407761639894977],
    },
    ("camsettings_v6.simtel.zst", "LSTcam"): {
        "n_pixels": [28, 16, 22, 24],
        "hillas_intensity": [854.2245512008667, 320.47186374664307, 373.73865938186646, 748.4011101722717],
        "hillas_length": [0.21509036379075355, 0.15296942610594788, 0.19710924502850763, 0.10554880923107196],
        "timing_slope": [2.0012431724809874, -3.025488232120378, -1.3128647314385113, 5.788561698682398],
        "concentration_core": [0.2912056552248497, 0.3872113871985226, 0.3729411015567567, 0.5142850194377594],
        "intensity_kurtosis": [1.2166921142573033, 1.8635664207238491, 4.390663665918509, 1.594681944586391],
        "camera_frame_hillas_x": [0.26522387232673, 0.1312895058849804, -0.17148515498263808,
                                  -0.048624444162326176],
        "true_hillas_intensity": [1139.0, 526.0, 492.0, 892.0],
    },
    ("camsettings_v6.simtel.zst", "NectarCam"): {
        "n_pixels": [0, 8, 10, 0, 5],
        "hillas_intensity": [np.nan, 167.0917730331421, 226.56488704681396, np.nan, 154.40456008911133],
        "hillas_psi": [np.nan, -47.904901394762334, 46.79699915205693, np.nan, -9.657389507688992],
        "timing_slope": [np.nan, -0.1109312658426056, -0.04117424583467688, np.nan, 0.24819691141660627],
        "intensity_kurtosis": [np.nan, -0.6553762142928359, 1.3824385349071626, np.nan, -1.1910400551359523],
        "morphology_n_islands": [-1, 1, 1, -1, 1],
        "true_hillas_intensity": [103.0, 264.0, 292.0, 112.0, 272.0],
    },
}
FILES = sorted({f for f, _ in CTAPIPE})


def read(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # files without an effective focal length
        return iactx.read_simtel(data_file(name))


@pytest.fixture(scope="module")
def processed():
    out = {}
    for name in FILES:
        tree = read(name)
        out[name] = (tree, tree.iact.dl1(), ImageProcessor(use_telescope_frame=False)(tree))
    return out


@pytest.mark.parametrize("key", sorted(CTAPIPE), ids=[f"{f.split('.')[0]}-{c}" for f, c in sorted(CTAPIPE)])
def test_dl1_gives_ctapipes_numbers(processed, key):
    name, camera = key
    _, tree, camera_frame = processed[name]
    cam = tree[camera].to_dataset(inherit=False)
    expected = CTAPIPE[key]
    assert cam.image_mask.sum("pixel").values.tolist() == expected["n_pixels"]
    for param, values in expected.items():
        if param == "n_pixels":
            continue
        source = camera_frame[camera].to_dataset(inherit=False) if param.startswith("camera_frame_") else cam
        np.testing.assert_allclose(source[param].values, values, rtol=1e-6, err_msg=param)


def test_dl1_output_follows_the_data_model(processed):
    before, tree, camera_frame = processed["camsettings_v6.simtel.zst"]
    iactx.io.event_tree.check_tree(tree)
    for name in tree.iact.cameras:
        cam = tree[name].to_dataset(inherit=False)
        assert cam.image.dtype == np.float32 and cam.image.attrs["units"] == "pe"
        assert cam.image_mask.dims == ("tel_event", "pixel") and cam.image_mask.dtype == bool
        assert cam.indexes["tel_event"].equals(before[name].to_dataset(inherit=False).indexes["tel_event"])
        for var in ("hillas_intensity", "hillas_fov_lon", "timing_slope", "leakage_pixels_width_1",
                    "concentration_cog", "morphology_n_pixels", "intensity_max", "peak_time_std",
                    "true_hillas_intensity"):
            assert cam[var].dims == ("tel_event",), var
        assert cam.hillas_fov_lon.attrs["units"] == "deg" and cam.timing_slope.attrs["units"] == "ns deg-1"
        cf = camera_frame[name].to_dataset(inherit=False)
        assert "camera_frame_hillas_x" in cf and "hillas_fov_lon" not in cf
        assert cf.camera_frame_hillas_x.attrs["units"] == "m"
    # the input tree is not modified
    assert "image_mask" not in before["LSTcam"].to_dataset(inherit=False)


def test_numpy_and_dask_camera_groups_agree(processed):
    _, tree, _ = processed["lst_muons_with_true_photons.simtel.zst"]
    cam = tree["LSTCam"].to_dataset(inherit=False)[["image", "peak_time", "focal_length"]]
    eager = cam.iact.clean().iact.parameters()
    lazy = cam.chunk(tel_event=2).iact.clean().iact.parameters().compute()
    np.testing.assert_array_equal(eager.image_mask.values, lazy.image_mask.values)
    for var in eager.data_vars:
        np.testing.assert_array_equal(eager[var].values, lazy[var].values, err_msg=var)


def test_per_telescope_type_configuration():
    tree = read("camsettings_v6.simtel.zst")
    config = {"TailcutsImageCleaner": {"picture_threshold_pe": [("type", "*", 10.0),
                                                                ("type", "MST_MST_NectarCam", 6.0)],
                                       "boundary_threshold_pe": [("type", "*", 5.0),
                                                                 ("type", "MST_*", 3.0)]}}
    out = tree.iact.dl1(config)
    default = tree.iact.dl1()
    lst, lst_default = out["LSTcam"].image_mask.values, default["LSTcam"].image_mask.values
    np.testing.assert_array_equal(lst, lst_default)
    nectar = out["NectarCam"].to_dataset(inherit=False)
    assert nectar.image_mask.sum() > default["NectarCam"].image_mask.sum()
    expected = merge_into(nectar, nectar.iact.clean(picture_threshold_pe=6.0, boundary_threshold_pe=3.0).image_mask)
    np.testing.assert_array_equal(nectar.image_mask.values, expected.image_mask.values)
    # other cleaners and options by name, and the camera frame
    mars = tree.iact.dl1({"ImageProcessor": {"image_cleaner_type": "MARSImageCleaner",
                                             "use_telescope_frame": False}})
    assert "camera_frame_hillas_x" in mars["LSTcam"].ds
    assert mars["LSTcam"].image_mask.sum() >= default["LSTcam"].image_mask.sum()


def test_processor_applied_batch_by_batch_gives_the_whole_file_result():
    # the random timing-fit starts are drawn in ctapipe-process's order across batches
    path = data_file("lst_muons_with_true_photons.simtel.zst")
    whole = read("lst_muons_with_true_photons.simtel.zst").iact.dl1()
    processor = ImageProcessor()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batches = [processor(batch)["LSTCam"].timing_slope.values for batch in iactx.iter_simtel(path, batch_size=1)]
    np.testing.assert_array_equal(np.concatenate(batches), whole["LSTCam"].timing_slope.values)


def test_calibrating_first_without_the_waveforms_gives_the_processors_numbers():
    # iactx process calibrates in its reader thread and drops the waveforms before the rest of the chain
    from iactx.image.processor import calibrated

    config = {"CameraCalibrator": {"image_extractor_type": "LocalPeakWindowSum"},
              "LocalPeakWindowSum": {"window_width": 5}}
    tree = read("lst_muons_with_true_photons.simtel.zst")
    images = calibrated(tree, config, keep_waveforms=False)
    assert "waveform" not in images["LSTCam"].ds and "waveform" in tree["LSTCam"].ds
    assert images["LSTCam"].image.dims == ("tel_event", "pixel")
    assert calibrated(images, config) is images  # nothing left to calibrate
    expected = ImageProcessor(config)(tree)["LSTCam"].to_dataset(inherit=False).drop_vars("waveform")
    xr.testing.assert_identical(ImageProcessor(config)(images)["LSTCam"].to_dataset(inherit=False), expected)
    kept = calibrated(tree, config)
    xr.testing.assert_identical(kept["LSTCam"].to_dataset(inherit=False).drop_vars("waveform"),
                                images["LSTCam"].to_dataset(inherit=False))
