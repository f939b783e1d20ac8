from __future__ import annotations

import numpy as np
import pytest
import torch

from hipmonai.evaluation import GradCAMEvaluator, LastConvGradCAMNetwork, write_prior_report
from hipmonai.evaluation.report import acceptance_checks, select_gallery_cases
from hipmonai.metrics import GradCAMExtractor
from hipmonai.networks import ResNet18CAM

NAMES = ("osteo_fem_sup", "osteo_fem_inf", "osteo_acet_sup", "osteo_acet_inf")


def _net(seed: int = 0) -> ResNet18CAM:
    torch.manual_seed(seed)
    net = ResNet18CAM(widen_factor=0.125)
    for module in net.modules():  # non-trivial batch-norm statistics so eval mode matters
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    return net.eval()


def _batches(n_batches: int = 2, size: int = 3, image: int = 64, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    out = []
    for b in range(n_batches):
        landmarks = torch.full((size, 4, 2, 2), float("nan"))
        landmarks[:, :, 0] = torch.rand(size, 4, 2, generator=gen) * (image - 1)
        lesion = torch.zeros(size, 4, image, image, dtype=torch.uint8)
        lesion[:, :, 10:20, 30:40] = 1
        out.append({"image": torch.rand(size, 1, image, image, generator=gen),
                    "label": (torch.rand(size, 4, generator=gen) > 0.4).float(),
                    "label_mask": torch.ones(size, 4), "target_landmarks": landmarks, "lesion_mask": lesion,
                    "key": [f"S{b}{i}/V00/right" for i in range(size)]})
    return out


def test_last_conv_grad_cam_equals_monai_grad_cam_through_the_whole_network():
    net, images = _net(), torch.rand(3, 1, 64, 64)
    full = GradCAMExtractor(net, target_layer="layer4")(images)
    wrapped = LastConvGradCAMNetwork(net)
    fast = GradCAMExtractor(wrapped, target_layer="last_conv", copy_network=False)(images)
    torch.testing.assert_close(fast, full, atol=1e-5, rtol=1e-4)
    with torch.no_grad():
        torch.testing.assert_close(wrapped(images), net(images)[0])


def test_backbone_runs_once_per_batch():
    net = _net()
    calls = []
    net.layer1.register_forward_hook(lambda *args: calls.append(1))
    evaluator = GradCAMEvaluator(net, NAMES)  # a private copy (deepcopy keeps the counting hook)
    assert evaluator.model.net is not net
    evaluator.explain(torch.rand(2, 1, 64, 64))
    assert calls == [1]  # four targets explained with one backbone pass


def test_evaluate_collects_metrics_and_mean_maps_over_positives():
    batches = _batches()
    result = GradCAMEvaluator(_net(), NAMES).evaluate(batches)
    assert result.keys[:2] == ["S00/V00/right", "S01/V00/right"] and result.probabilities.shape == (6, 4)
    assert set(result.metrics) == {"com_distance_px", "peak_distance_px", "spread_px", "pointing_game",
                                   "energy_inside"}
    heatmaps = torch.cat([GradCAMEvaluator(_net(), NAMES).explain(b["image"])[1] for b in batches]).numpy()
    labels = torch.cat([b["label"] for b in batches]).numpy()
    for c in range(4):
        pos = labels[:, c] > 0
        np.testing.assert_allclose(result.mean_heatmaps[c], heatmaps[pos, c].mean(axis=0), atol=1e-5)
        points = torch.cat([b["target_landmarks"] for b in batches]).numpy()[pos, c]
        np.testing.assert_allclose(result.mean_landmarks[c, 0], points[:, 0].mean(axis=0), rtol=1e-6)
        assert np.isnan(result.mean_landmarks[c, 1]).all()  # padding stays undefined
    assert result.n_positive.tolist() == labels.sum(axis=0).astype(int).tolist()


def test_acceptance_checks_follow_the_issue_thresholds():
    table1 = [{"metric": "com_distance_px", "target": "a", "mean_diff": -5.0, "p_value": 1e-4, "n": 30},
              {"metric": "peak_distance_px", "target": "a", "mean_diff": -5.0, "p_value": 0.01, "n": 30},
              {"metric": "spread_px", "target": "a", "mean_diff": 5.0, "p_value": 0.5, "n": 30}]
    lesions = [{"target": "all", "n": 10, "pointing_baseline": 0.4, "pointing_prior": 0.4}]
    checks = acceptance_checks([0.8], [0.835], table1, lesions, ["a"])
    assert [c["passed"] for c in checks] == [True, False, False, True]


def test_report_writes_markdown_figures_and_numbers(tmp_path):
    batches = _batches(seed=1)
    base = GradCAMEvaluator(_net(0), NAMES).evaluate(batches)
    prior = GradCAMEvaluator(_net(1), NAMES).evaluate(batches)
    cases = select_gallery_cases(base, prior)
    assert cases and all(0 <= case["index"] < 6 for case in cases)
    gallery = [{**case, "key": base.keys[case["index"]], "image": np.zeros((64, 64)),
                "landmarks": base.target_landmarks[case["index"], case["target"]], "lesion": None, "label": 1,
                "baseline_map": np.zeros((64, 64)), "prior_map": np.ones((64, 64)), "baseline_prob": 0.5,
                "prior_prob": 0.6} for case in cases[:2]]
    results = write_prior_report(base, prior, tmp_path, gallery=gallery, commands=["hipmonai prior report ..."])
    for name in ("report.md", "results.json", "per_case.csv", "roc_curves.png", "mean_gradcam.png", "gallery.png",
                 "localisation.png", "cooccurrence.png"):
        assert (tmp_path / name).is_file(), name
    text = (tmp_path / "report.md").read_text()
    assert "Centre-of-mass distance" in text and "Pointing game" in text and "hipmonai prior report" in text
    assert len(results["table1"]) == 12 and len((tmp_path / "per_case.csv").read_text().splitlines()) == 1 + 6 * 4
    with pytest.raises(ValueError, match="keys differ"):
        write_prior_report(base, GradCAMEvaluator(_net(), NAMES).evaluate(_batches(1)), tmp_path)
