from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from hipmonai.evaluation import MaskedBCEMetric, MaskedROCAUCMetric, batch_columns, masked_roc_auc, masked_roc_curves
from hipmonai.losses import MaskedBCEWithLogitsLoss


def _data(seed: int = 0, n: int = 40):
    rng = np.random.default_rng(seed)
    scores = rng.random((n, 4))
    labels = (rng.random((n, 4)) > 0.6).astype(np.float64)
    mask = (rng.random((n, 4)) > 0.2).astype(np.float64)
    return scores, labels, mask


def test_auc_is_sklearn_on_the_known_subset_only():
    scores, labels, mask = _data()
    labels_with_unknown = np.where(mask > 0, labels, -1)
    aucs = masked_roc_auc(scores, labels_with_unknown)
    for c in range(4):
        known = mask[:, c] > 0
        assert aucs[c] == pytest.approx(roc_auc_score(labels[known, c], scores[known, c]))
    np.testing.assert_allclose(masked_roc_auc(scores, labels, mask), aucs)


def test_auc_by_hand_and_undefined_for_one_class():
    scores = np.array([[0.9, 0.1], [0.2, 0.2], [0.6, 0.3], [0.1, 0.4]])
    labels = np.array([[1, 0], [0, 0], [0, 0], [1, 0]])
    # positives 0.9, 0.1; negatives 0.2, 0.6: pairs won 2 of 4
    aucs = masked_roc_auc(scores, labels)
    assert aucs[0] == pytest.approx(0.5) and np.isnan(aucs[1])
    curves = masked_roc_curves(scores, labels)
    assert curves[0]["n_pos"] == 2 and curves[1]["fpr"].size == 0


def test_bce_metric_is_the_masked_loss_over_the_whole_split():
    scores, labels, mask = _data(1)
    logits = torch.logit(torch.as_tensor(scores).clamp(0.01, 0.99)).float()
    labels_t, mask_t = torch.as_tensor(labels).float(), torch.as_tensor(mask).float()
    metric = MaskedBCEMetric()
    metric.reset()
    for i in range(0, 40, 16):  # uneven batches, one as a decollated list of dicts
        sl = slice(i, i + 16)
        if i == 16:
            metric.update(batch_columns(("pred", "label", "label_mask"))(
                [{"pred": p, "label": y, "label_mask": m} for p, y, m in zip(logits[sl], labels_t[sl], mask_t[sl],
                                                                               strict=True)]))
        else:
            metric.update((logits[sl], labels_t[sl], mask_t[sl]))
    expected = MaskedBCEWithLogitsLoss()(logits.double(), labels_t.double(), mask_t.double())
    assert metric.compute() == pytest.approx(float(expected), rel=1e-6)


def test_auc_metric_per_target_and_mean():
    scores, labels, mask = _data(2)
    expected = masked_roc_auc(scores, labels, mask)
    names = ("a", "b", "c", "d")
    for target, value in [("c", expected[2]), (None, expected.mean())]:
        metric = MaskedROCAUCMetric(target=target, target_names=names)
        metric.reset()
        metric.update(tuple(torch.as_tensor(v) for v in (scores, labels, mask)))
        assert metric.compute() == pytest.approx(value)
    with pytest.raises(ValueError, match="target"):
        MaskedROCAUCMetric(target="e", target_names=names)
