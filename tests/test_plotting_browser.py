"""Saved Bokeh pages render in headless Chromium without JavaScript errors.

Needs the Debian packages ``chromium`` and ``chromium-driver`` (installed by
``.ci/run``) and selenium (test extras). Without them the test is skipped
with the reason, except under ``CI=true``, where it fails.
"""

import os
import shutil
import tempfile
import time
import warnings

import pytest

from conftest import data_file
from toy_cameras import toy_camera

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage"]

#: counts canvases (Bokeh draws inside shadow roots) and their painted pixels
PAGE_PROBE = """
const out = {bokeh: typeof Bokeh !== 'undefined', views: 0, canvases: 0, painted: 0};
function walk(root) {
  for (const el of root.querySelectorAll('*')) {
    if (el.tagName === 'CANVAS') {
      out.canvases++;
      const ctx = el.width > 0 && el.height > 0 ? el.getContext('2d') : null;
      if (ctx) {
        const d = ctx.getImageData(0, 0, el.width, el.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) {
          if (d[i + 3] > 0 && !(d[i] > 250 && d[i + 1] > 250 && d[i + 2] > 250)) n++;
        }
        out.painted = Math.max(out.painted, n);
      }
    }
    if (el.shadowRoot) walk(el.shadowRoot);
  }
}
walk(document);
if (out.bokeh) out.views = Object.keys(Bokeh.index).length;
return out;
"""


def _missing(reason):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def driver():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    chromedriver = shutil.which("chromedriver")
    if chromium is None or chromedriver is None:
        _missing("headless Chromium not found (install the Debian packages chromium and chromium-driver)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium is not installed (pip install -e '.[test]')")
    options = webdriver.ChromeOptions()
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="iactx-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument("--window-size=1200,900")
    options.binary_location = chromium
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(chromedriver), options=options)
    yield browser
    browser.quit()
    shutil.rmtree(profile, ignore_errors=True)


def load(driver, path, timeout=20.0):
    """Open a page, wait for Bokeh to paint, return (probe result, console/network problems)."""
    driver.get(path.as_uri())
    deadline = time.monotonic() + timeout
    result = {}
    while time.monotonic() < deadline:
        result = driver.execute_script(PAGE_PROBE)
        if result["painted"] > 0:
            break
        time.sleep(0.2)
    logs = driver.get_log("browser")
    problems = [entry for entry in logs if entry["level"] == "SEVERE" or entry.get("source") == "javascript"]
    return result, problems


def _pages(tmp_path):
    import holoviews as hv

    import iactx
    from iactx.plotting import array, browser, camera, save_html, waveforms

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        calib = iactx.read_simtel(data_file("calib_events.simtel.gz"), calibration_events=True,
                                  focal_length="equivalent")
        stereo = iactx.read_simtel(data_file("camsettings_v6.simtel.zst"))
    sct = calib["SCTCam"].to_dataset()
    image = sct.waveform.max("sample").assign_attrs(units="pe")
    mask = (image > 2).isel(tel_event=0).values
    lst = stereo["LSTcam"].to_dataset()
    event, tel = (int(v) for v in lst.indexes["tel_event"][0][1:])
    pages = {
        "sctcam": camera(sct, image, mask=mask, scale="symlog",
                         hillas={"x": 0.1, "y": 0.05, "length": 0.08, "width": 0.02, "psi": 20.0}),
        "waveforms": waveforms(lst, event=event, tel=tel, n_brightest=3, window="NeighborPeakWindowSum"),
        "array": array(stereo, event=event),
        "browser": browser(toy_camera("hexagon"), "image", mask="image_mask", window="LocalPeakWindowSum"),
    }
    assert all(isinstance(p, (hv.Element, hv.Overlay, hv.Layout)) for p in pages.values())
    return {name: save_html(plot, tmp_path / f"{name}.html", title=name) for name, plot in pages.items()}


def test_saved_bokeh_pages_render_in_chromium(driver, tmp_path):
    for name, path in _pages(tmp_path).items():
        page = path.read_text()
        assert "<script src" not in page, f"{name}: the page loads external scripts"
        result, problems = load(driver, path)
        assert problems == [], f"{name}: browser reported {problems}"
        assert result["bokeh"], f"{name}: BokehJS did not load"
        assert result["views"] >= 1, f"{name}: no Bokeh view was built"
        assert result["canvases"] >= 1, f"{name}: no canvas in the page"
        assert result["painted"] > 1000, f"{name}: the plot canvas is blank ({result})"


def test_chromium_reports_javascript_errors(driver, tmp_path):
    """The check above would see a broken page: an error thrown by a script is reported."""
    page = tmp_path / "broken.html"
    page.write_text("<html><body><script>undefined_function_of_iactx();</script></body></html>")
    result, problems = load(driver, page, timeout=1.0)
    assert not result["bokeh"]
    assert any("undefined_function_of_iactx" in entry["message"] for entry in problems)
