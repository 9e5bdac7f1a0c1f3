"""Tests for fastmlp.datasets.playground: the playground's generators against their formulas.

References are written here from the formulas of the playground's dataset.ts (as issue 5 states
them), not taken from the code under test.
"""

from __future__ import annotations

import math

import fastmlp as fm
import numpy as np
import pytest
from fastmlp.datasets import playground as pgd

CLASSIFIERS = [pgd.circle, pgd.xor, pgd.gauss, pgd.spiral]
REGRESSORS = [pgd.reg_plane, pgd.reg_gauss]
CENTRES = [(-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1), (4, -2.5, -1)]


def reg_gauss_reference(px: float, py: float) -> float:
    """The playground's getLabel: the contribution of largest magnitude, first one on ties."""
    label = 0.0
    for cx, cy, sign in CENTRES:
        value = sign * min(max(1 - math.hypot(px - cx, py - cy) / 2, 0.0), 1.0)
        if abs(value) > abs(label):
            label = value
    return label


# -- shapes, seeds, options ---------------------------------------------------------------------
@pytest.mark.parametrize("generator", CLASSIFIERS + REGRESSORS, ids=lambda g: g.__name__)
def test_generators_return_points_of_the_plane_and_one_target_each(generator):
    x, y = generator(n_samples=101, noise=0.2, seed=3)
    assert x.shape == (101, 2) and y.shape == (101,)
    assert x.dtype == np.float64 and y.dtype == np.float64
    assert np.all(np.isfinite(x)) and np.all(np.isfinite(y))


@pytest.mark.parametrize("generator", CLASSIFIERS + REGRESSORS, ids=lambda g: g.__name__)
def test_generators_are_reproducible_from_their_seed(generator):
    a, b, c = generator(seed=7), generator(seed=7), generator(seed=8)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    if generator is not pgd.spiral:  # without noise the spiral has no randomness at all
        assert not np.array_equal(a[0], c[0])


def test_default_sizes_are_the_playgrounds():
    assert all(g()[0].shape == (500, 2) for g in CLASSIFIERS)
    assert all(g()[0].shape == (1200, 2) for g in REGRESSORS)


@pytest.mark.parametrize("generator", CLASSIFIERS, ids=lambda g: g.__name__)
def test_labels_01_are_the_pm1_labels_shifted(generator):
    _, pm1 = generator(n_samples=200, noise=0.3, seed=1)
    _, zero_one = generator(n_samples=200, noise=0.3, seed=1, labels="01")
    assert set(np.unique(pm1)) == {-1.0, 1.0}
    np.testing.assert_array_equal(zero_one, (pm1 + 1) / 2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"noise": 0.6}, "noise must be in"),
        ({"noise": -0.1}, "noise must be in"),
        ({"n_samples": 1}, "at least 2"),
        ({"labels": "binary"}, "labels must be"),
    ],
)
def test_bad_arguments_say_what_is_allowed(kwargs, message):
    with pytest.raises(ValueError, match=message):
        pgd.circle(**kwargs)


def test_load_accepts_names_with_dashes_and_uses_default_sizes():
    x, y = pgd.load("reg-plane", seed=0)
    assert x.shape == (1200, 2)
    np.testing.assert_array_equal(y, pgd.reg_plane(seed=0)[1])
    assert pgd.load("Spiral")[0].shape == (500, 2)
    with pytest.raises(ValueError, match="Expected one of: circle, xor"):
        pgd.load("moons")


def test_playground_datasets_are_reachable_from_fastmlp_datasets():
    assert fm.datasets.playground.spiral is pgd.spiral


# -- formulas -----------------------------------------------------------------------------------
def test_circle_without_noise_labels_by_radius_with_a_gap_between_disc_and_ring():
    x, y = pgd.circle(n_samples=2000, noise=0.0, seed=0)
    r = np.hypot(x[:, 0], x[:, 1])
    np.testing.assert_array_equal(y, np.where(r < 2.5, 1.0, -1.0))
    assert np.all(r[:1000] < 2.5)
    assert np.all((r[1000:] >= 3.5) & (r[1000:] <= 5))
    assert np.sum(y > 0) == 1000
    # r ~ U(0, 2.5) in the disc: its mean radius is 1.25
    assert abs(r[:1000].mean() - 1.25) < 0.06


def test_circle_noise_relabels_points_but_does_not_move_them():
    clean_x, clean_y = pgd.circle(n_samples=2000, noise=0.0, seed=4)
    noisy_x, noisy_y = pgd.circle(n_samples=2000, noise=0.5, seed=4)
    np.testing.assert_array_equal(clean_x, noisy_x)
    flipped = np.mean(clean_y != noisy_y)
    assert 0.05 < flipped < 0.5


def test_xor_points_keep_away_from_the_axes_and_labels_follow_the_sign_of_the_product():
    x, y = pgd.xor(n_samples=4000, noise=0.0, seed=2)
    assert np.all(np.abs(x) >= 0.3) and np.all(np.abs(x) <= 5.3)
    np.testing.assert_array_equal(y, np.where(x[:, 0] * x[:, 1] >= 0, 1.0, -1.0))
    assert abs(np.mean(y > 0) - 0.5) < 0.04


def test_xor_noise_flips_labels_near_the_axes_most():
    clean_x, clean_y = pgd.xor(n_samples=4000, noise=0.0, seed=2)
    noisy_x, noisy_y = pgd.xor(n_samples=4000, noise=0.5, seed=2)
    np.testing.assert_array_equal(clean_x, noisy_x)
    flipped = clean_y != noisy_y
    near = np.min(np.abs(clean_x), axis=1) < 1
    assert flipped[near].mean() > flipped[~near].mean() > 0


@pytest.mark.parametrize("noise", [0.0, 0.5])
def test_gauss_clouds_have_the_playgrounds_centres_and_variance(noise):
    x, y = pgd.gauss(n_samples=40000, noise=noise, seed=5)
    variance = 0.5 + 7 * noise  # d3 scale noise [0, 0.5] -> variance [0.5, 4]
    positive, negative = x[y > 0], x[y < 0]
    assert len(positive) == len(negative) == 20000
    np.testing.assert_allclose(positive.mean(axis=0), [2, 2], atol=0.05)
    np.testing.assert_allclose(negative.mean(axis=0), [-2, -2], atol=0.05)
    np.testing.assert_allclose(positive.var(axis=0), [variance] * 2, rtol=0.05)
    np.testing.assert_allclose(negative.var(axis=0), [variance] * 2, rtol=0.05)


def test_spiral_without_noise_is_exactly_the_two_arms():
    n = 500
    x, y = pgd.spiral(n_samples=n, noise=0.0)
    m = n // 2
    for arm, (delta, label) in enumerate([(0.0, 1.0), (math.pi, -1.0)]):
        for i in (0, 1, 77, m - 1):
            r = i / m * 5
            t = 1.75 * i / m * 2 * math.pi + delta
            point = x[arm * m + i]
            assert point == pytest.approx([r * math.sin(t), r * math.cos(t)], abs=1e-12)
            assert y[arm * m + i] == label


def test_spiral_noise_moves_each_coordinate_by_at_most_the_noise():
    clean, _ = pgd.spiral(n_samples=400, noise=0.0)
    noisy, _ = pgd.spiral(n_samples=400, noise=0.3, seed=0)
    shift = np.abs(noisy - clean)
    assert shift.max() <= 0.3 and shift.max() > 0.25


def test_reg_plane_target_is_the_scaled_sum_of_the_coordinates():
    x, y = pgd.reg_plane(n_samples=3000, noise=0.0, seed=0)
    assert np.all(np.abs(x) <= 6)
    np.testing.assert_allclose(y, (x[:, 0] + x[:, 1]) / 10, rtol=0, atol=1e-12)
    _, noisy = pgd.reg_plane(n_samples=3000, noise=0.5, seed=0)
    deviation = np.abs(noisy - y)
    assert deviation.max() <= 2 * 6 * 0.5 / 10 + 1e-12 and deviation.max() > 0.3


def test_reg_gauss_target_is_the_largest_bump_at_each_point():
    x, y = pgd.reg_gauss(n_samples=600, noise=0.0, seed=1)
    expected = [reg_gauss_reference(px, py) for px, py in x]
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-12)
    assert np.all(np.abs(y) <= 1) and y.max() > 0.8 and y.min() < -0.8


# -- train/test split ---------------------------------------------------------------------------
def test_train_test_split_shuffles_then_puts_the_first_part_in_training():
    x = np.arange(20, dtype=float).reshape(10, 2)
    y = np.arange(10, dtype=float)
    (x_train, y_train), (x_test, y_test) = pgd.train_test_split(x, y, ratio=0.7, seed=0)
    assert len(x_train) == 7 and len(x_test) == 3  # floor(10 * 0.7)
    np.testing.assert_array_equal(np.sort(np.concatenate([y_train, y_test])), y)
    np.testing.assert_array_equal(x_train[:, 0], 2 * y_train)  # rows stay together
    assert not np.array_equal(y_train, np.arange(7))  # shuffled
    again = pgd.train_test_split(x, y, ratio=0.7, seed=0)
    np.testing.assert_array_equal(again[0][1], y_train)


def test_train_test_split_uses_floor_of_the_ratio():
    x, y = pgd.circle(n_samples=101, seed=0)
    (x_train, _), (x_test, _) = pgd.train_test_split(x, y, ratio=0.5, seed=0)
    assert (len(x_train), len(x_test)) == (50, 51)


@pytest.mark.parametrize("ratio", [0.0, 1.0, 0.01, 1.5])
def test_train_test_split_rejects_ratios_that_leave_a_side_empty(ratio):
    x, y = pgd.gauss(n_samples=20, seed=0)
    with pytest.raises(ValueError, match="leaves no samples"):
        pgd.train_test_split(x, y, ratio=ratio)


def test_train_test_split_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="same number of samples"):
        pgd.train_test_split(np.zeros((4, 2)), np.zeros(5))
