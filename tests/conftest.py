"""Shared fixtures: small phantom cohorts generated once per test session, and a real headless browser (Debian's
chromium driven through chromedriver by Selenium) for the report pages. ``make test`` installs the Debian packages
``chromium`` and ``chromium-driver`` where ``apt-get`` exists; elsewhere the browser tests are skipped with the
reason."""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def hip_cohort(tmp_path_factory) -> Path:
    """A 6-subject phantom hip cohort (one visit each) in a session temp folder; treat as read-only."""
    from hipmonai.phantoms import generate_hip_cohort

    out = tmp_path_factory.mktemp("hip_cohort")
    generate_hip_cohort(out, n_subjects=6, seed=7, workers=1, progress=False)
    return out


@pytest.fixture(autouse=True)
def single_torch_thread():
    """Run torch single-threaded: on the two shared CI cores, intra-op threads of tiny networks spin against each
    other and slow every forward pass by two orders of magnitude."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

CHROMIUM_NAMES = ("chromium", "chromium-browser")
# the flags this machine's closed network needs (no background connections), as root (no sandbox)
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1280,2000")

# every <img> on the page with whether the browser decoded it (complete and a natural size)
FIGURE_STATE = """
return Array.from(document.images).map(img => ({
    src: img.getAttribute('src'), complete: img.complete, width: img.naturalWidth, height: img.naturalHeight}));
"""


def browser_paths() -> tuple[str, str]:
    """``(chromium, chromedriver)`` executables, or skip the test when either is missing."""
    chromium = next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("needs Debian's chromium and chromium-driver (make test installs them where apt-get exists)")
    return chromium, driver


@contextmanager
def headless_chromium(tmp_path: Path):
    """A Selenium ``webdriver.Chrome`` on headless chromium with a fresh profile in ``tmp_path``."""
    pytest.importorskip("selenium")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = browser_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    try:
        yield browser
    finally:
        browser.quit()


def rendered_figures(page: Path, tmp_path: Path) -> tuple[str, list[dict]]:
    """Load ``page`` from disk in headless chromium; return its title and the state of every image."""
    with headless_chromium(tmp_path) as browser:
        browser.get(page.resolve().as_uri())
        browser.execute_async_script("const done = arguments[0]; "
                                     "if (document.readyState === 'complete') done(); "
                                     "else window.addEventListener('load', () => done());")
        return browser.title, browser.execute_script(FIGURE_STATE)


@pytest.fixture
def page_figures(tmp_path):
    """``page_figures(page) -> (title, images)``: ``page`` loaded from disk in headless chromium."""
    return lambda page: rendered_figures(page, tmp_path)


@pytest.fixture(scope="session")
def peaked_detector():
    """Factory of pelvis detectors that "find" given points: ``make(dicom, pts, present=("right", "left"),
    size_px=256, peak_logit=8.0, **detector_kwargs)`` builds a :class:`~hipmonai.inference.PelvisLandmarkDetector`
    whose network returns logits ``peak_logit`` at the model pixels of the true detection-subset points (from the
    ``.pts``) of the ``present`` hips and -8 elsewhere, for any input. Returns ``(detector, image, points_px)``."""
    import numpy as np
    import torch
    from monai.data import MetaTensor

    from hipmonai.inference import PelvisLandmarkDetector
    from hipmonai.io.landmark_groups import load_landmark_groups
    from hipmonai.io.pts import read_pts
    from hipmonai.readers import load_radiograph
    from hipmonai.transforms.geometry import apply_affine_to_points

    class FixedLogits(torch.nn.Module):
        """Stands in for the U-Net: the same ``(1, 2 K, S, S)`` logits for any input."""

        def __init__(self, logits: torch.Tensor) -> None:
            super().__init__()
            self.register_buffer("logits", logits)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.logits.expand(x.shape[0], -1, -1, -1)

    def make(dicom, pts, present=("right", "left"), size_px=256, peak_logit=8.0, **detector_kwargs):
        array_wh, meta = load_radiograph(dicom)
        image = MetaTensor(torch.from_numpy(np.ascontiguousarray(array_wh[None])), affine=meta["affine"])
        subset = load_landmark_groups("hip").bilateral_detection_subset
        points_px = read_pts(pts)[subset] / np.asarray(meta["spacing_xy_mm"])
        detector = PelvisLandmarkDetector(torch.nn.Identity(), size_px, **detector_kwargs)
        model_px = apply_affine_to_points(points_px, detector.chain({"image": image})["px_affine"], dtype=np.float64)
        logits = torch.full((1, len(subset), size_px, size_px), -8.0)
        for i, (x, y) in enumerate(np.rint(model_px).astype(int)):
            if ("right", "left")[2 * i // len(subset)] in present:
                logits[0, i, x, y] = peak_logit
        detector.network = FixedLogits(logits)
        return detector, image, points_px

    return make
