"""The README's main job (``hipmonai demo``) at the smoke scale: every step of the four bundles runs, the report's
markdown and HTML page are written with every figure, the page renders in a real headless browser, and a rerun
reuses every step."""

from __future__ import annotations

import json

import pytest

from hipmonai.cli import main

N_FIGURES = 12  # 2 cohort contact sheets, 5 prior, 2 grading, 2 label augmentation, 1 KNEEL


@pytest.fixture(scope="module")
def smoke_job(tmp_path_factory):
    out = tmp_path_factory.mktemp("main_job") / "demo"
    assert main(["demo", "--out", str(out), "--scale", "smoke"]) == 0
    return out


def test_every_step_ran_and_the_report_has_every_bundle(smoke_job):
    timings = json.loads((smoke_job / "report" / "timings.json").read_text())
    assert len(timings["steps"]) == 21 and {s["status"] for s in timings["steps"].values()} == {"done"}
    markdown = (smoke_job / "report" / "report.md").read_text()
    for bundle in ("hip_osteophyte_prior", "hip_osteophyte_grading", "hip_landmark_labelaug", "knee_landmark_kneel"):
        assert f"## {bundle}:" in markdown
    assert "No results" not in markdown and "Figures not produced" not in markdown
    assert markdown.count("](figures/") == N_FIGURES
    assert len(list((smoke_job / "report" / "figures").glob("*.png"))) == N_FIGURES
    assert "python -m monai.bundle run --config_file \"['configs/train.json','configs/demo.json'" in markdown


def test_the_four_trained_bundles_are_exported_complete(smoke_job):
    for bundle in ("hip_osteophyte_prior", "hip_osteophyte_grading", "hip_landmark_labelaug", "knee_landmark_kneel"):
        folder = smoke_job / "bundles" / bundle
        for name in ("LICENSE", "docs/README.md", "configs/inference.json", "configs/metadata.json",
                     "configs/trained_with.json", "models/model.pt", "models/model.ts"):
            assert (folder / name).is_file(), f"{bundle}/{name}"
        meta = json.loads((folder / "configs" / "metadata.json").read_text())
        assert meta["eval_metrics"] and "hipmonai" in meta["required_packages_version"]
    assert (smoke_job / "bundles" / "knee_landmark_kneel" / "models" / "model_roi.pt").is_file()


def test_report_page_renders_every_figure_in_headless_chromium(smoke_job, page_figures):
    title, images = page_figures(smoke_job / "report" / "report.html")
    assert title.startswith("hipmonai main job")
    assert len(images) == N_FIGURES
    broken = [i["src"] for i in images if not (i["complete"] and i["width"] > 0 and i["height"] > 0)]
    assert not broken, f"figures the browser could not render: {broken}"


def test_rerun_reuses_every_step(smoke_job, capsys):
    assert main(["demo", "--out", str(smoke_job), "--scale", "smoke"]) == 0
    printed = capsys.readouterr().out
    assert printed.count(" cached ") == 21 and " started " not in printed
