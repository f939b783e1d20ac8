from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from hipmonai import InputError
from hipmonai.io import TARGETS, load_landmark_groups
from hipmonai.transforms.target_landmarks import TargetLandmarks, TargetLandmarksd, target_index_table


@pytest.fixture
def hip_points() -> np.ndarray:
    points = np.random.default_rng(5).uniform(0, 224, (80, 2)).astype(np.float32)
    points[14] = np.nan  # a missing landmark inside osteo_fem_sup
    return points


def test_gathers_the_configured_groups_in_target_order(hip_points):
    groups = load_landmark_groups("hip").targets
    out = TargetLandmarks()(hip_points)
    p_max = max(len(v) for v in groups.values())
    assert out.shape == (4, p_max, 2) and out.dtype == np.float32
    assert TargetLandmarks().target_names == TARGETS
    for c, name in enumerate(TARGETS):
        indices = groups[name]
        np.testing.assert_array_equal(out[c, : len(indices)], hip_points[indices])
        assert np.isnan(out[c, len(indices):]).all()  # NaN padding


def test_torch_and_metatensor_in_torch_out_with_leading_dims(hip_points):
    batch = torch.as_tensor(np.stack([hip_points, hip_points + 1]))
    out = TargetLandmarks()(MetaTensor(batch))
    assert type(out) is torch.Tensor and out.shape[:2] == (2, 4) and out.dtype == torch.float32
    np.testing.assert_array_equal(out[1].numpy(), TargetLandmarks()(hip_points + 1))


def test_flipped_crop_gives_the_flipped_zone(hip_points):
    width = 224
    flipped = hip_points.copy()
    flipped[:, 0] = width - 1 - flipped[:, 0]  # a left hip after the horizontal crop flip: same indices, mirrored x
    out, out_flipped = TargetLandmarks()(hip_points), TargetLandmarks()(flipped)
    np.testing.assert_allclose(out_flipped[..., 0], width - 1 - out[..., 0])
    np.testing.assert_array_equal(out_flipped[..., 1], out[..., 1])


def test_dictionary_twin_and_custom_groups(hip_points):
    data = {"landmarks": hip_points, "image": "kept"}
    out = TargetLandmarksd()(data)
    np.testing.assert_array_equal(out["target_landmarks"], TargetLandmarks()(hip_points))
    assert out["image"] == "kept" and "target_landmarks" not in data
    custom = TargetLandmarksd(keys="pts", output_keys="zones", groups={"a": [0], "b": [1, 2]}, n_points=3)
    zones = custom({"pts": np.arange(6.0).reshape(3, 2)})["zones"]
    np.testing.assert_array_equal(zones, [[[0, 1], [np.nan, np.nan]], [[2, 3], [4, 5]]])
    assert TargetLandmarksd(allow_missing_keys=True)({"image": 1}) == {"image": 1}


def test_bad_inputs_are_rejected():
    with pytest.raises(InputError, match=r"\(\.\.\., 80, 2\)"):
        TargetLandmarks()(np.zeros((160, 2)))
    with pytest.raises(InputError, match="outside 0..9"):
        TargetLandmarks(groups={"a": [10]}, n_points=10)
    with pytest.raises(InputError, match="no target"):
        target_index_table({})
    with pytest.raises(ValueError, match="one output key per key"):
        TargetLandmarksd(keys=["a", "b"], output_keys="c")
