"""Smoke tests of the phantom benchmark scripts (``benchmarks/phantom_realism.py``, ``benchmarks/phantom_speed.py``)
on tiny settings, and checks of the realism measures on images whose answer is known."""

from __future__ import annotations

import math
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from scipy.special import erf

REPO = Path(__file__).resolve().parents[2]  # the repository (benchmarks/ is not part of the package)
DOG_DX = Path("tests/data/dicom/highdicom_dx_dog/dx_image.dcm")


@pytest.fixture(scope="module")
def realism(load_benchmark) -> ModuleType:
    return load_benchmark("phantom_realism")


@pytest.fixture(scope="module")
def speed(load_benchmark) -> ModuleType:
    return load_benchmark("phantom_speed")


def test_realism_main_writes_the_figure_and_the_table(realism, tmp_path, capsys):
    out = tmp_path / "realism.png"
    dog = REPO / DOG_DX
    argv = ["--spacing", "1.0", "--seeds", "0", "--no-pydicom-data", "--real", str(dog), f"{dog}:0.9"]
    assert realism.main([*argv, "--field-mm", "100", "--credit", "test credit", "--out", str(out)]) == 0
    assert out.is_file() and out.stat().st_size > 10_000
    table = capsys.readouterr().out
    for label in ("sim hip 0", "sim mesh 0", "sim knee 0", "dx_image", "(PixelSpacing)", "(assumed)", "edge 10-90 mm",
                  "NNPS@1"):
        assert label in table
    rows = [line for line in table.splitlines() if line.startswith(("sim ", "dx_image"))]
    assert len(rows) == 5  # drawn hip, mesh-anatomy hip (default --mesh-seeds 0), knee, the dog twice


def test_parse_real_reads_an_optional_spacing(realism):
    assert realism.parse_real("a/b.dcm:0.7") == (Path("a/b.dcm"), 0.7)
    assert realism.parse_real("a/b.dcm") == (Path("a/b.dcm"), None)
    with pytest.raises(ValueError, match="positive"):
        realism.parse_real("a/b.dcm:-1")


@pytest.mark.parametrize("sigma_mm", [0.3, 0.8])
def test_edge_width_of_a_blurred_step_is_2_56_sigma(realism, sigma_mm):
    spacing = 0.1
    x_mm = (np.arange(300) - 150) * spacing
    column = 1000.0 + 1000.0 * 0.5 * (1 + erf(x_mm / (sigma_mm * math.sqrt(2))))
    # a little noise: a noiseless erf saturates at exactly its min and max, which the script treats as clipping
    image = np.tile(column, (200, 1)) + np.random.default_rng(0).normal(0.0, 2.0, size=(200, 300))
    edges = realism.strongest_edges(image, (spacing, spacing), (slice(None), slice(None)), n_edges=1)
    d, profile, width, _ = edges[0]
    # the 0.5 mm detection scale does not enter: the profile is read from the unsmoothed image
    assert width == pytest.approx(2.563 * sigma_mm, abs=0.06)
    assert profile[0] == pytest.approx(0.0, abs=0.02) and profile.max() == pytest.approx(1.0, abs=0.01)


def test_nnps_of_white_noise_is_variance_times_pixel_area_over_mean_squared(realism):
    rng = np.random.default_rng(0)
    spacing, mean, sd = 0.2, 500.0, 5.0
    image = rng.normal(mean, sd, size=(256, 256))
    rois = realism.flat_rois(image, (spacing, spacing), n_rois=8)
    freq, nnps = realism.noise_power_spectrum(image, (spacing, spacing), rois)
    assert len(rois) == 8 and freq[-1] == pytest.approx(0.5 / spacing, rel=0.05)
    expected = sd**2 * spacing**2 / mean**2
    assert np.median(nnps) == pytest.approx(expected, rel=0.15)


def test_flat_rois_skip_clipped_and_constant_regions(realism):
    rng = np.random.default_rng(1)
    image = rng.normal(100.0, 1.0, size=(128, 256))
    image[:, 128:] = 50.0  # a constant plateau (e.g. outside the collimated field) at the image minimum
    rois = realism.flat_rois(image, (0.2, 0.2), n_rois=8)
    assert rois and all(c + realism.ROI_PX <= 128 for _, c in rois)


def test_speed_main_prints_one_row_per_phantom_and_spacing(speed, capsys):
    assert speed.main(["--spacings", "1.0", "--repeats", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "peak MiB (tracemalloc)" in lines[0]
    rows = [line.split() for line in lines[2:]]
    assert [(r[0], float(r[1])) for r in rows] == [("hip", 1.0), ("hip-mesh", 1.0), ("knee", 1.0)]
    assert all(float(r[4]) > 0 and float(r[-1]) > 0 for r in rows)


def test_speed_timers_restore_the_film_methods(speed):
    from hipmonai.phantoms.xray import Film

    before = (Film.detect, Film.present)
    with speed.method_timers() as seconds:
        assert Film.detect is not before[0]
    assert (Film.detect, Film.present) == before and set(seconds) == {"detect", "present"}
