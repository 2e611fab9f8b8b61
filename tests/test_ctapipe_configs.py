"""Configuration files in ctapipe 0.32's forms run unchanged through `iactx process`."""

import numpy as np
import pytest
from conftest import data_file

import iactx
from iactx.config.criteria import UnsafeCriterionError, compile_parameter_criterion
from iactx.image.cleaning import tailcuts_clean
from iactx.reco.stereo import StereoQualityQuery
from iactx.tools.cli import main

pytestmark = pytest.mark.filterwarnings("ignore:.*no effective focal length")

#: the sections of a ctapipe 0.32 ctapipe-process configuration, nested as that version nests them
CTAPIPE_032 = """
DataWriter:
  Contact:
    name: A. Physicist
    email: a.physicist@example.org
    organization: Example Institute
  overwrite: true
  write_dl1_images: true
  write_dl1_parameters: true
  write_dl2: true
SimTelEventSource:
  focal_length_choice: EQUIVALENT
CameraCalibrator:
  image_extractor_type:
    - [type, "*", NeighborPeakWindowSum]
    - [type, "*FlashCam", FlashCamExtractor]
ImageProcessor:
  image_cleaner_type: TailcutsImageCleaner
  TailcutsImageCleaner:
    picture_threshold_pe:
      - [type, "LST*", 8.5]
      - [type, "MST*NectarCam", 9.0]
    boundary_threshold_pe:
      - [type, "LST*", 4.25]
      - [type, "MST*NectarCam", 4.5]
    keep_isolated_pixels: false
    min_picture_neighbors: 2
  ImageQualityQuery:
    quality_criteria:
      - [enough_pixels, "np.count_nonzero(image) > 2"]
      - [enough_charge, "image.sum() > 50"]
ShowerProcessor:
  reconstructor_types: [HillasReconstructor, HillasIntersection]
  HillasReconstructor:
    StereoQualityQuery:
      quality_criteria:
        - [enough intensity, "parameters.hillas.intensity > 50"]
        - [Positive width, "parameters.hillas.width.value > 0"]
        - [enough pixels, "parameters.morphology.n_pixels > 3"]
        - [not clipped, "parameters.leakage.intensity_width_2 < 0.5"]
"""


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ctapipe032")
    (folder / "process.yaml").write_text(CTAPIPE_032)
    out = folder / "out.dl1.nc"
    assert main(["process", "--input", str(data_file("camsettings_v6.simtel.zst")), "--output", str(out),
                 "--config", str(folder / "process.yaml"), "--reconstruct", "--no-progress"]) == 0
    return iactx.open_dl1(out)


def test_nested_cleaner_section_sets_the_thresholds(processed):
    lst = processed["LSTcam"].ds
    expected = tailcuts_clean(lst, picture_thresh=8.5, boundary_thresh=4.25, min_number_picture_neighbors=2)
    np.testing.assert_array_equal(lst["image_mask"].values, expected.values)
    nectar = processed["NectarCam"].ds
    expected = tailcuts_clean(nectar, picture_thresh=9.0, boundary_thresh=4.5, min_number_picture_neighbors=2)
    np.testing.assert_array_equal(nectar["image_mask"].values, expected.values)


def test_upper_case_enum_chooses_the_equivalent_focal_length(processed):
    instrument = processed["instrument"].ds
    for name in ("LSTcam", "NectarCam"):
        cam = processed[name].ds
        expected = instrument["equivalent_focal_length"].sel(tel=cam["tel"].values).values
        np.testing.assert_allclose(cam["focal_length"].values, expected)
    assert processed["LSTcam"].ds["focal_length"].values[0] == pytest.approx(28.0)


def test_both_reconstructors_with_the_nested_stereo_query(processed):
    root = processed.ds
    assert root["HillasReconstructor_is_valid"].values.tolist() == [True]
    assert root["HillasIntersection_is_valid"].values.tolist() == [True]
    assert "parameters.leakage.intensity_width_2 < 0.5" in root.attrs["HillasReconstructor_quality_criteria"]
    assert root.attrs["HillasIntersection_quality_criteria"].startswith("hillas_intensity > 50")
    # the expression criteria select the telescope events of the bounds and the leakage cut
    tel_ids = processed["instrument"].ds["tel"].values.tolist()
    used = dict(zip(tel_ids, root["HillasReconstructor_telescopes"].values[0]))
    n_expected = 0
    for cam in (processed["LSTcam"].ds, processed["NectarCam"].ds):
        expected = ((cam.hillas_intensity > 50) & (cam.hillas_width > 0) & (cam.morphology_n_pixels > 3)
                    & (cam.leakage_intensity_width_2 < 0.5)).values
        assert [used[t] for t in cam["tel"].values.tolist()] == expected.tolist()
        n_expected += expected.sum()
    assert sum(used.values()) == n_expected > 2
    assert abs(root["HillasReconstructor_alt"].item() - root["true_alt"].item()) < 0.25


def test_contact_goes_to_the_reference_metadata(processed):
    attrs = processed.attrs
    assert attrs["CTA CONTACT NAME"] == "A. Physicist"
    assert attrs["CTA CONTACT EMAIL"] == "a.physicist@example.org"
    assert attrs["CTA CONTACT ORGANIZATION"] == "Example Institute"
    assert attrs["CTA PRODUCT FORMAT"] == "netcdf"
    assert attrs["CTA PRODUCT DATA LEVELS"] == "DL1_IMAGES,DL1_PARAMETERS,DL2"
    assert attrs["CTA PROCESS TYPE"] == "Simulation"
    assert attrs["CTA INSTRUMENT ID"] == "LaPalma-prod6"
    assert attrs["CTA ACTIVITY NAME"] == "iactx process"


@pytest.mark.parametrize("section, message", [
    ("ImageProcessor:\n  TailcutsImageCleaner:\n    picture_treshold_pe: 5\n", "did you mean 'picture_threshold_pe'"),
    ("ShowerProcessor:\n  HillasReconstructor:\n    StereoQualityQuery:\n      quality_critera: []\n",
     "did you mean 'quality_criteria'"),
    ("DataWriter:\n  Contact:\n    emial: x@example.org\n", "did you mean 'email'"),
    ("SimTelEventSource:\n  focal_length_choice: NOMINAL\n", "focal_length_choice"),
])
def test_unknown_keys_in_nested_sections_are_refused(tmp_path, capsys, section, message):
    (tmp_path / "bad.yaml").write_text(section)
    out = tmp_path / "out.nc"
    assert main(["process", "--input", str(data_file("camsettings_v6.simtel.zst")), "--output", str(out),
                 "--config", str(tmp_path / "bad.yaml"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_parameter_criteria_read_columns():
    table = {"hillas_intensity": np.array([10.0, 60.0, 80.0, np.nan]),
             "leakage_intensity_width_2": np.array([0.0, 0.1, 0.7, 0.0])}
    criterion = compile_parameter_criterion(
        "cut", "parameters.hillas.intensity > 50 and parameters.leakage.intensity_width_2 < 0.5")
    assert criterion.columns == ("hillas_intensity", "leakage_intensity_width_2")
    np.testing.assert_array_equal(criterion(table), [False, True, False, False])
    finite = compile_parameter_criterion("finite", "lambda p: np.isfinite(p.hillas.intensity.value)")
    np.testing.assert_array_equal(finite(table), [True, True, True, False])


@pytest.mark.parametrize("text", [
    "parameters.hillas", "parameters.hillas.intensity.to_value() > 1", "__import__('os').system('true')",
    "parameters.hillas.intensity.__class__ > 1", "parameters.hillas.intensity.sum() > 1", "other.hillas.x > 1",
])
def test_parameter_criteria_outside_the_grammar_are_refused(text):
    with pytest.raises(UnsafeCriterionError, match="quality criterion 'c'"):
        compile_parameter_criterion("c", text)


def test_stereo_query_criteria_replace_the_bounds():
    query = StereoQualityQuery(quality_criteria=[["bright", "parameters.hillas.intensity > 100"]])
    assert query.required_variables() == ["hillas_intensity"]
    assert query.criteria() == [("bright", "parameters.hillas.intensity > 100")]
    cam = {"hillas_intensity": np.array([50.0, 150.0]), "hillas_width": np.array([0.0, 0.0])}
    np.testing.assert_array_equal(query(cam), [False, True])
    with pytest.raises(ValueError, match="not a \\(name, expression\\) pair"):
        StereoQualityQuery(quality_criteria=["parameters.hillas.intensity > 100"])
