"""KNEEL MixUp maths (Tiulpin et al. 2019 Eqs. 5-9): seeded draws, lambda' >= 0.5, mixing and the loss composition."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch

import hipmonai.losses.mixup as mixup_module
from hipmonai.losses.mixup import KneelMixUp


def test_draws_are_deterministic_with_a_seed():
    a = KneelMixUp().set_random_state(seed=11)
    b = KneelMixUp().set_random_state(seed=11)
    c = KneelMixUp().set_random_state(seed=12)
    draws = []
    for mixup in (a, b, c):
        mixup.randomize(16)
        draws.append((mixup.lam, mixup.permutation.tolist()))
    assert draws[0] == draws[1]
    assert draws[0] != draws[2]
    expected = np.random.RandomState(11)
    assert draws[0][0] == pytest.approx(expected.beta(0.75, 0.75))
    assert draws[0][1] == expected.permutation(16).tolist()


def test_lambda_prime_is_the_larger_share():
    mixup = KneelMixUp(alpha=0.75).set_random_state(seed=0)
    lams = []
    for _ in range(500):
        mixup.randomize(4)
        assert mixup.lam_prime == max(mixup.lam, 1.0 - mixup.lam) >= 0.5
        assert sorted(mixup.permutation.tolist()) == [0, 1, 2, 3]
        lams.append(mixup.lam)
    assert min(lams) < 0.5 < max(lams)  # raw lambda is symmetric Beta(0.75, 0.75), not clipped
    assert np.mean(lams) == pytest.approx(0.5, abs=0.05)


def test_alpha_reaches_the_beta_draw():
    narrow, wide = KneelMixUp(alpha=50.0).set_random_state(seed=1), KneelMixUp(alpha=0.1).set_random_state(seed=1)
    spread = {}
    for name, mixup in (("narrow", narrow), ("wide", wide)):
        values = []
        for _ in range(200):
            mixup.randomize(2)
            values.append(mixup.lam)
        spread[name] = np.std(values)
    assert spread["narrow"] < 0.1 < spread["wide"]


def test_mix_is_eq7_with_lambda_prime():
    mixup = KneelMixUp().set_random_state(seed=3)
    mixup.randomize(5)
    x = torch.arange(5 * 2 * 3, dtype=torch.float64).reshape(5, 1, 2, 3)
    perm = mixup.permutation
    expected = mixup.lam_prime * x.numpy() + (1 - mixup.lam_prime) * x.numpy()[perm]
    np.testing.assert_allclose(mixup.mix(x).numpy(), expected)
    np.testing.assert_array_equal(mixup.shuffle(x).numpy(), x.numpy()[perm])


@pytest.mark.parametrize("weight_by", ["lambda", "lambda_prime", "released_code"])
def test_weights(weight_by):
    mixup = KneelMixUp(weight_by=weight_by).set_random_state(seed=4)
    mixup.randomize(3)
    value = mixup.lam_prime if weight_by == "lambda_prime" else mixup.lam
    assert mixup.weights == (value, 1.0 - value)
    assert float(mixup.combine(torch.tensor(2.0), torch.tensor(10.0))) == pytest.approx(2 * value + 10 * (1 - value))


@pytest.mark.parametrize("weight_by", ["lambda", "released_code"])
def test_loss_composition_by_hand_on_a_linear_model(weight_by):
    # Model o = a * mean(x) per landmark coordinate; L1 loss. Everything below is recomputed with numpy.
    # "lambda": the paper (Eq. 7 mixes with lambda', Eq. 9 weights with lambda); "released_code": lambda in both.
    a = 0.7
    rng = np.random.default_rng(0)
    x1 = rng.normal(size=(4, 1, 3, 3))
    p1 = rng.uniform(size=(4, 2, 2))

    def model(images: torch.Tensor) -> torch.Tensor:
        return (a * images.mean(dim=(1, 2, 3)))[:, None, None].expand(-1, 2, 2)

    mixup = KneelMixUp(alpha=0.75, weight_by=weight_by).set_random_state(seed=1)
    mixup.randomize(4)
    assert mixup.lam < 0.5 < mixup.lam_prime  # seed 1 draws lambda = 0.325: Eq. 7 and Eq. 9 weights differ
    x = torch.as_tensor(x1)
    got = mixup.loss(torch.nn.L1Loss(reduction="none"), model(x), torch.as_tensor(p1), model(mixup.mix(x)))

    lam, lam_prime, perm = mixup.lam, mixup.lam_prime, mixup.permutation
    o1 = a * x1.mean(axis=(1, 2, 3))[:, None, None]
    share = lam_prime if weight_by == "lambda" else lam
    x_mixed = share * x1 + (1 - share) * x1[perm]
    o_mixed = a * x_mixed.mean(axis=(1, 2, 3))[:, None, None]
    expected = lam * np.abs(o1 - p1).mean() + (1 - lam) * np.abs(o_mixed - p1[perm]).mean()
    assert float(got) == pytest.approx(expected, rel=1e-12)


def test_errors():
    with pytest.raises(ValueError, match="alpha must be positive, got 0"):
        KneelMixUp(alpha=0)
    with pytest.raises(ValueError, match="weight_by must be one of .*'lam'"):
        KneelMixUp(weight_by="lam")
    mixup = KneelMixUp()
    with pytest.raises(RuntimeError, match="call randomize"):
        mixup.mix(torch.zeros(2, 1, 2, 2))
    with pytest.raises(RuntimeError, match="call randomize"):
        _ = mixup.weights
    mixup.randomize(2)
    with pytest.raises(ValueError, match="last draw was for a batch of 2, got a batch of 3"):
        mixup.mix(torch.zeros(3, 1, 2, 2))
    with pytest.raises(ValueError, match="batch_size must be positive, got 0"):
        mixup.randomize(0)


def test_docstring_examples():
    assert doctest.testmod(mixup_module).failed == 0
