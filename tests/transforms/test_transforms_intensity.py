from __future__ import annotations

import numpy as np
import pytest
from monai.data import MetaTensor
from monai.transforms import ScaleIntensityRangePercentilesd
from transform_factories import radiograph

from hipmonai.transforms import PercentileScale, PercentileScaled


def test_scaling_matches_numpy_percentiles_without_clipping(rng):
    array = rng.gamma(2.0, 300.0, size=(1, 64, 48)).astype(np.float32)
    out = PercentileScaled("image")({"image": radiograph(array, (0.4, 0.4))})["image"]
    p5, p95 = np.percentile(array, (5, 95))
    np.testing.assert_allclose(out.numpy(), (array - p5) / (p95 - p5), rtol=1e-5, atol=1e-5)
    assert out.dtype.is_floating_point and str(out.dtype) == "torch.float32"
    values = out.numpy()
    assert values.min() < 0.0 and values.max() > 1.0  # default clip=False keeps the tails
    assert np.mean((values >= 0) & (values <= 1)) == pytest.approx(0.9, abs=0.01)


def test_percentiles_and_clip_are_passed_through(rng):
    array = rng.normal(100.0, 20.0, size=(1, 50, 40)).astype(np.float32)
    out = PercentileScale(percentiles=(2, 98), clip=True)(array)
    p2, p98 = np.percentile(array, (2, 98))
    np.testing.assert_allclose(out, np.clip((array - p2) / (p98 - p2), 0, 1), rtol=1e-5, atol=1e-5)
    assert out.min() == 0.0 and out.max() == 1.0


def test_scaling_leaves_other_keys_alone(rng):
    mask = np.ones((1, 4, 4), np.uint8)
    out = PercentileScaled("image")({"image": rng.uniform(size=(1, 4, 4)), "mask": mask})
    assert out["mask"] is mask


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"percentiles": (95, 5)}, r"percentiles must be an increasing pair.*\(95, 5\)"), ({"clip": 1}, "clip must be")],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PercentileScale(**kwargs)


def test_numpy_percentiles_give_monais_torch_result(rng):
    image = radiograph(rng.gamma(2.0, 300.0, size=(1, 224, 224)).astype(np.float32), (0.4, 0.4))
    transform = PercentileScaled("image")
    assert isinstance(transform.scaler, PercentileScale)  # the dictionary twin runs the array transform
    out = transform({"image": image})["image"]
    monai_out = ScaleIntensityRangePercentilesd("image", 5, 95, 0.0, 1.0)({"image": image})["image"]  # quantile
    assert isinstance(out, MetaTensor) and out.dtype == monai_out.dtype
    np.testing.assert_allclose(out.numpy(), monai_out.numpy(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(out.affine, image.affine)
