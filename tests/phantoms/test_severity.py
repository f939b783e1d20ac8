from __future__ import annotations

import numpy as np
import pytest

from hipmonai.io.landmark_groups import TARGETS
from hipmonai.phantoms import HipGradeModel, KneeGradeModel, grade_correlation, grade_distribution

OFF_DIAGONAL = np.triu_indices(4, 1)


def test_population_grade_correlations_lie_in_the_paper_range():
    sample = HipGradeModel().sample(np.random.default_rng(0), 10_000)
    corr = grade_correlation(sample.grades.reshape(-1, 4))[OFF_DIAGONAL]
    assert corr.min() >= 0.25 and corr.max() <= 0.45, corr


def test_realised_correlations_of_a_few_hundred_hips():
    # 200 subjects = 400 hips; sampling noise of r is about +-0.05 here, hence the "roughly" of the spec
    sample = HipGradeModel().sample(np.random.default_rng(1), 200)
    corr = grade_correlation(sample.grades.reshape(-1, 4))[OFF_DIAGONAL]
    assert corr.min() >= 0.2 and corr.max() <= 0.5, corr


def test_prevalence_and_grade_tail_follow_the_model():
    model = HipGradeModel()
    grades = model.sample(np.random.default_rng(2), 20_000).grades.reshape(-1, 4)
    np.testing.assert_allclose((grades > 0).mean(axis=0), model.prevalence, atol=0.015)
    np.testing.assert_allclose(
        (grades == 3).mean(axis=0), np.asarray(model.prevalence) * model.grade_tail[1], atol=0.01
    )
    dist = grade_distribution(grades, TARGETS)
    assert list(dist) == list(TARGETS) and all(sum(v) == len(grades) for v in dist.values())


def test_severity_narrows_the_joint_space_and_grades_never_regress_over_visits():
    sample = HipGradeModel().sample(np.random.default_rng(3), 2_000, n_visits=3)
    r = np.corrcoef(sample.severity.ravel(), sample.joint_space_mm.ravel())[0, 1]
    assert r < -0.7
    assert np.all(np.diff(sample.grades, axis=1) >= 0)
    assert np.all(np.diff(sample.joint_space_mm, axis=1) <= 1e-12)
    assert sample.joint_space_mm.min() >= HipGradeModel().min_joint_space_mm


def test_hips_of_a_subject_share_severity():
    sample = HipGradeModel(bilateral_correlation=0.5).sample(np.random.default_rng(4), 5_000)
    r = np.corrcoef(sample.severity[:, 0, 0], sample.severity[:, 0, 1])[0, 1]
    assert r == pytest.approx(0.5, abs=0.05)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"loadings": (0.99, 0.9, 0.9, 0.9)}, "loadings of osteo_fem_sup"),
        ({"prevalence": (0.3, 0.2, 0.3, 1.2)}, "prevalence of osteo_acet_inf"),
        ({"grade_tail": (0.2, 0.5)}, "grade_tail"),
        ({"joint_space_mm": (5.0, 4.0)}, "joint_space_mm"),
    ],
)
def test_hip_model_validation_names_the_bad_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        HipGradeModel(**kwargs)


def test_knee_kl_distribution_and_kl_consistent_osteophytes():
    model = KneeGradeModel()
    sample = model.sample(np.random.default_rng(5), 10_000, n_visits=2)
    kl0 = sample.kl[:, 0].ravel()
    np.testing.assert_allclose(np.bincount(kl0, minlength=5) / kl0.size, model.kl_distribution, atol=0.015)
    osteo = sample.osteophytes
    assert not osteo[sample.kl == 0].any()
    assert osteo[sample.kl == 1].max() <= 1
    assert (osteo[sample.kl == 4].max(axis=-1) >= 2).all()
    assert np.all(np.diff(osteo, axis=1) >= 0) and np.all(np.diff(sample.kl, axis=1) >= 0)
    medial, lateral = sample.joint_space_mm[..., 0], sample.joint_space_mm[..., 1]
    assert np.corrcoef(sample.kl.ravel(), medial.ravel())[0, 1] < -0.5
    assert (lateral > 0).all()


def test_knee_model_validation():
    with pytest.raises(ValueError, match="kl_distribution"):
        KneeGradeModel(kl_distribution=(0.5, 0.5, 0.1, 0.1, 0.1))
