"""Tests for minidl.data: datasets checked against their geometric rules, plus split, scaling,
encodings and batches checked against facts (sizes, pairings, coverage, torch's own statistics)."""

import json
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from minidl import data
from minidl.data import (
    DATASETS,
    DOMAINS,
    Standardizer,
    batches,
    circle,
    disk,
    gaussians,
    labels_from_scores,
    make_dataset,
    one_hot,
    plus_minus_one,
    spiral,
    train_test_split,
    xor,
)

NAMES = ["disk", "circle", "xor", "gaussians", "spiral"]
PLAYGROUND = ["circle", "xor", "gaussians", "spiral"]

# Independent constants: the disk has area 1/2, so pi * r^2 = 1/2.
DISK_R = math.sqrt(0.5 / math.pi)
seeds = st.integers(min_value=0, max_value=2**31 - 1)
fast = settings(max_examples=25, deadline=None)


def distance(x: torch.Tensor, centre: tuple[float, float]) -> torch.Tensor:
    """Euclidean distance of each row of x to centre, in float64."""
    x = x.double()
    return torch.hypot(x[:, 0] - centre[0], x[:, 1] - centre[1])


# ---------------------------------------------------------------------------------------------
# disk
# ---------------------------------------------------------------------------------------------


@fast
@given(seed=seeds)
def test_disk_labels_are_one_exactly_inside_the_disk(seed):
    x, y = disk(2000, seed=seed)
    d = distance(x, (0.5, 0.5))
    clear = (d - DISK_R).abs() > 1e-5  # float32 rounding may go either way on the boundary
    assert clear.sum() >= 1990
    expected = (d < DISK_R).to(torch.int64)
    assert torch.equal(y[clear], expected[clear])


def test_disk_centre_is_one_and_corners_are_zero():
    x, y = disk(20000, seed=0)
    near_centre = distance(x, (0.5, 0.5)) < 0.2
    near_corner = torch.stack([distance(x, c) < 0.2 for c in [(0, 0), (0, 1), (1, 0), (1, 1)]])
    near_corner = near_corner.any(dim=0)
    assert near_centre.sum() > 100 and near_corner.sum() > 100
    assert (y[near_centre] == 1).all()
    assert (y[near_corner] == 0).all()


def test_disk_half_the_points_are_ones():
    _, y = disk(20000, seed=1)
    # area pi r^2 = 1/2; the binomial std of the fraction is 0.0035
    assert abs(y.double().mean().item() - 0.5) < 0.02


def test_disk_values_dtypes_and_shapes():
    x, y = disk(301, seed=2)
    assert x.dtype == torch.float32 and x.shape == (301, 2)
    assert y.dtype == torch.int64 and y.shape == (301,)
    assert (x >= 0).all() and (x <= 1).all()
    assert set(y.tolist()) == {0, 1}


@pytest.mark.parametrize("noise", [0.05, 0.2, 0.5])
def test_disk_noise_flips_that_fraction_of_labels(noise):
    n = 4000
    x, y = disk(n, seed=3, noise=noise)
    d = distance(x, (0.5, 0.5))
    clear = (d - DISK_R).abs() > 1e-5
    exact = (d < DISK_R).to(torch.int64)
    flipped = (y != exact)[clear].double().mean().item()
    assert abs(flipped - noise) < 0.01


@pytest.mark.parametrize("noise", [-0.1, 1.0, 1.5])
def test_disk_rejects_noise_outside_unit_interval(noise):
    with pytest.raises(ValueError, match="noise"):
        disk(10, noise=noise)


# ---------------------------------------------------------------------------------------------
# All datasets: shapes, seeds, the global RNG
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n", [1, 7, 200])
def test_every_dataset_has_the_requested_shape_and_dtypes(name, n):
    x, y = DATASETS[name](n, seed=0)
    assert x.dtype == torch.float32 and x.shape == (n, 2)
    assert y.dtype == torch.int64 and y.shape == (n,)
    assert set(y.tolist()) <= {0, 1}


@pytest.mark.parametrize("name", NAMES)
def test_every_dataset_has_both_classes(name):
    _, y = DATASETS[name](200, seed=0, noise=0.1)
    assert set(y.tolist()) == {0, 1}


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_data_different_seed_different_data(name):
    make = DATASETS[name]
    x1, y1 = make(100, seed=5, noise=0.2)
    x2, y2 = make(100, seed=5, noise=0.2)
    x3, _ = make(100, seed=6, noise=0.2)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert not torch.equal(x1, x3)


@pytest.mark.parametrize("name", NAMES)
def test_no_seed_gives_fresh_data(name):
    x1, _ = DATASETS[name](100)
    x2, _ = DATASETS[name](100)
    assert not torch.equal(x1, x2)


def test_generators_leave_the_global_rng_alone():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    for name in NAMES:
        x, y = make_dataset(name, 50, seed=1, noise=0.1)
        make_dataset(name, 50, noise=0.1)
        train_test_split(x, y, 0.3, seed=1)
    assert torch.equal(torch.get_rng_state(), before)


@pytest.mark.parametrize("name", NAMES)
def test_points_lie_in_the_plotting_domain(name):
    x, _ = DATASETS[name](2000, seed=0)
    x_min, x_max, y_min, y_max = DOMAINS[name]
    assert (x[:, 0] >= x_min).all() and (x[:, 0] <= x_max).all()
    assert (x[:, 1] >= y_min).all() and (x[:, 1] <= y_max).all()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n", [0, -3])
def test_non_positive_n_is_rejected(name, n):
    with pytest.raises(ValueError, match="n must be"):
        DATASETS[name](n)


@pytest.mark.parametrize("name", PLAYGROUND)
@pytest.mark.parametrize("noise", [-0.01, 0.51])
def test_playground_noise_outside_its_scale_is_rejected(name, noise):
    with pytest.raises(ValueError, match="noise"):
        DATASETS[name](10, noise=noise)


def test_registry_and_domains_cover_the_same_datasets():
    assert set(DATASETS) == set(DOMAINS) == set(NAMES)
    assert DOMAINS["disk"] == (0, 1, 0, 1)
    for name in PLAYGROUND:
        assert DOMAINS[name] == (-6, 6, -6, 6)


@pytest.mark.parametrize("name", NAMES)
def test_make_dataset_is_the_registered_generator(name):
    x1, y1 = make_dataset(name, 64, seed=9, noise=0.1)
    x2, y2 = DATASETS[name](64, seed=9, noise=0.1)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)


def test_make_dataset_names_the_unknown_and_the_known_datasets():
    with pytest.raises(ValueError, match="moons") as info:
        make_dataset("moons", 10)
    for name in NAMES:
        assert name in str(info.value)


# ---------------------------------------------------------------------------------------------
# Playground's datasets, against the rules in its dataset.ts
# ---------------------------------------------------------------------------------------------


@fast
@given(seed=seeds)
def test_xor_label_is_the_sign_of_the_product_without_noise(seed):
    x, y = xor(500, seed=seed)
    assert torch.equal(y, (x[:, 0] * x[:, 1] >= 0).to(torch.int64))


def test_xor_coordinates_are_padded_away_from_the_axes():
    x, _ = xor(2000, seed=0)
    assert (x.abs() >= 0.3 - 1e-6).all() and (x.abs() <= 5.3 + 1e-6).all()
    # all four quadrants are used
    quadrants = set(zip((x[:, 0] > 0).tolist(), (x[:, 1] > 0).tolist(), strict=True))
    assert len(quadrants) == 4


def test_xor_noise_only_relabels_points_near_an_axis():
    noise = 0.2
    x, y = xor(4000, seed=1, noise=noise)
    wrong = y != (x[:, 0] * x[:, 1] >= 0).to(torch.int64)
    assert wrong.any()
    # the label is read at a point moved by at most 5 * noise per coordinate
    assert (x[wrong].abs().min(dim=1).values <= 5 * noise + 1e-5).all()


@fast
@given(seed=seeds)
def test_circle_label_follows_the_radius_rule_without_noise(seed):
    x, y = circle(500, seed=seed)
    r = distance(x, (0, 0))
    clear = (r - 2.5).abs() > 1e-5
    assert clear.sum() >= 495
    assert torch.equal(y[clear], (r < 2.5).to(torch.int64)[clear])


def test_circle_is_a_blob_inside_a_ring_of_equal_sizes():
    for noise in [0.0, 0.5]:
        x, _ = circle(2001, seed=0, noise=noise)
        r = distance(x, (0, 0))
        blob, ring = r <= 2.5 + 1e-5, (r >= 3.5 - 1e-5) & (r <= 5 + 1e-5)
        assert (blob | ring).all()  # noise does not move the points
        assert blob.sum() == 1001 and ring.sum() == 1000


def test_circle_noise_only_relabels_points_near_the_boundary():
    noise = 0.1
    x, y = circle(4000, seed=2, noise=noise)
    r = distance(x, (0, 0))
    wrong = y != (r < 2.5).to(torch.int64)
    assert wrong.any()
    # the label is read at a point moved by at most 5 * noise per coordinate
    assert ((r[wrong] - 2.5).abs() <= 5 * noise * math.sqrt(2) + 1e-5).all()


@pytest.mark.parametrize(("noise", "variance"), [(0.0, 0.5), (0.25, 2.25), (0.5, 4.0)])
def test_gaussians_are_centred_on_the_diagonal_with_playgrounds_variance(noise, variance):
    x, y = gaussians(20000, seed=0, noise=noise)
    assert (y == 1).sum() == 10000  # labels are never flipped
    for label, centre in [(1, 2.0), (0, -2.0)]:
        cloud = x[y == label].double()
        assert torch.allclose(
            cloud.mean(dim=0), torch.full((2,), centre, dtype=torch.float64), atol=0.1
        )
        assert torch.allclose(
            cloud.var(dim=0), torch.full((2,), variance, dtype=torch.float64), rtol=0.06
        )


@fast
@given(seed=seeds, n=st.integers(min_value=4, max_value=400))
def test_spiral_points_lie_on_two_arms_half_a_turn_apart(seed, n):
    x, y = spiral(n, seed=seed)
    r = distance(x, (0, 0))
    assert (r <= 5 + 1e-5).all()
    assert (y == 1).sum() == n - n // 2
    # Playground writes (r sin t, r cos t) with t = 1.75 * 2 pi * r / 5 (+ pi for class 0)
    angle = torch.atan2(x[:, 0].double(), x[:, 1].double())
    t = 0.7 * math.pi * r + math.pi * (1 - y)
    gap = torch.remainder(angle - t + math.pi, 2 * math.pi) - math.pi
    away = r > 1e-3
    assert (gap[away].abs() < 1e-3).all()


def test_spiral_noise_moves_points_but_keeps_labels():
    noise = 0.5
    x0, y0 = spiral(1000, seed=0)
    x, y = spiral(1000, seed=0, noise=noise)
    assert (y == 1).sum() == (y0 == 1).sum() == 500
    assert (distance(x, (0, 0)) <= 5 + noise * math.sqrt(2) + 1e-5).all()
    angle = torch.atan2(x[:, 0].double(), x[:, 1].double())
    t = 0.7 * math.pi * distance(x, (0, 0)) + math.pi * (1 - y)
    gap = torch.remainder(angle - t + math.pi, 2 * math.pi) - math.pi
    assert (gap.abs() > 0.05).float().mean() > 0.5  # most points are off the ideal arm


# ---------------------------------------------------------------------------------------------
# train_test_split
# ---------------------------------------------------------------------------------------------


def indexed(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """x rows that carry their own index, so pairing with y can be checked."""
    idx = torch.arange(n)
    return torch.stack([idx.float(), -idx.float()], dim=1), idx


@fast
@given(
    n=st.integers(min_value=2, max_value=300),
    fraction=st.floats(min_value=0.01, max_value=0.99),
    seed=seeds,
)
def test_split_sizes_and_pairs(n, fraction, seed):
    x, y = indexed(n)
    n_test = math.floor(fraction * n + 0.5)
    if n_test in (0, n):
        with pytest.raises(ValueError, match="empty"):
            train_test_split(x, y, fraction, seed=seed)
        return
    x_train, y_train, x_test, y_test = train_test_split(x, y, fraction, seed=seed)
    assert abs(len(x_test) - fraction * n) <= 0.5 + 1e-9
    assert len(x_train) + len(x_test) == n
    assert len(y_train) == len(x_train) and len(y_test) == len(x_test)
    for xs, ys in [(x_train, y_train), (x_test, y_test)]:
        assert torch.equal(xs[:, 0].long(), ys) and torch.equal(xs[:, 1].long(), -ys)
    assert sorted(torch.cat([y_train, y_test]).tolist()) == list(range(n))


def test_split_is_seeded():
    x, y = indexed(100)
    a = train_test_split(x, y, 0.3, seed=1)
    b = train_test_split(x, y, 0.3, seed=1)
    c = train_test_split(x, y, 0.3, seed=2)
    assert all(torch.equal(p, q) for p, q in zip(a, b, strict=True))
    assert not torch.equal(a[3], c[3])
    assert len(a[2]) == 30


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.2, 1.5])
def test_split_rejects_fraction_outside_open_unit_interval(fraction):
    x, y = indexed(10)
    with pytest.raises(ValueError, match="test_fraction"):
        train_test_split(x, y, fraction)


def test_split_names_both_lengths_when_they_differ():
    x, _ = indexed(10)
    with pytest.raises(ValueError, match=r"10.*9"):
        train_test_split(x, torch.arange(9))


def test_split_refuses_an_empty_side():
    x, y = indexed(1)
    with pytest.raises(ValueError, match="empty"):
        train_test_split(x, y, 0.5)


# ---------------------------------------------------------------------------------------------
# Standardizer
# ---------------------------------------------------------------------------------------------


def skewed(n: int = 500, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, generator=gen) * torch.tensor([3.0, 0.1, 7.0]) + torch.tensor(
        [5.0, -2.0, 100.0]
    )


def test_standardizer_learns_torchs_population_statistics():
    x = skewed()
    scaler = Standardizer().fit(x)
    assert torch.allclose(scaler.mean, x.mean(dim=0))
    assert torch.allclose(scaler.std, x.std(dim=0, correction=0))


def test_standardized_training_set_has_zero_mean_and_unit_std():
    z = Standardizer().fit_transform(skewed())
    assert torch.allclose(z.mean(dim=0), torch.zeros(3), atol=1e-5)
    assert torch.allclose(z.std(dim=0, correction=0), torch.ones(3), atol=1e-5)


def test_standardizer_applies_training_statistics_to_new_data():
    train, test = skewed(seed=0), skewed(seed=1)
    scaler = Standardizer().fit(train)
    expected = (test - train.mean(dim=0)) / train.std(dim=0, correction=0)
    assert torch.allclose(scaler.transform(test), expected, atol=1e-5)


@fast
@given(seed=seeds)
def test_standardizer_inverse_round_trip(seed):
    x = skewed(50, seed)
    scaler = Standardizer().fit(x)
    assert torch.allclose(scaler.inverse_transform(scaler.transform(x)), x, atol=1e-4)


def test_constant_column_is_centred_not_divided_by_zero():
    x = torch.tensor([[1.0, 4.0], [2.0, 4.0], [3.0, 4.0]])
    scaler = Standardizer().fit(x)
    z = scaler.transform(x)
    assert torch.isfinite(z).all()
    assert scaler.std[1] == 1
    assert torch.equal(z[:, 1], torch.zeros(3))


def test_standardizer_state_survives_json():
    x = skewed()
    scaler = Standardizer().fit(x)
    restored = Standardizer.from_state(json.loads(json.dumps(scaler.state())))
    assert torch.equal(restored.mean, scaler.mean) and torch.equal(restored.std, scaler.std)
    assert torch.equal(restored.transform(x), scaler.transform(x))


def test_standardizer_errors():
    with pytest.raises(RuntimeError, match="fit"):
        Standardizer().transform(torch.zeros(2, 2))
    with pytest.raises(RuntimeError, match="fit"):
        Standardizer().state()
    with pytest.raises(ValueError, match="2-D"):
        Standardizer().fit(torch.zeros(5))
    with pytest.raises(ValueError, match="2-D"):
        Standardizer().fit(torch.zeros(0, 2))
    scaler = Standardizer().fit(torch.randn(10, 2))
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        scaler.transform(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="same length"):
        Standardizer.from_state({"mean": [0.0, 1.0], "std": [1.0]})
    with pytest.raises(ValueError, match="positive"):
        Standardizer.from_state({"mean": [0.0], "std": [0.0]})


# ---------------------------------------------------------------------------------------------
# Target encodings
# ---------------------------------------------------------------------------------------------


def test_one_hot_rows_of_the_identity():
    y = torch.tensor([0, 2, 1, 2])
    assert torch.equal(one_hot(y), torch.eye(3)[y])
    assert one_hot(y).dtype == torch.float32
    assert one_hot(y, dtype=torch.float64).dtype == torch.float64
    assert one_hot(y, num_classes=5).shape == (4, 5)


def test_plus_minus_one_for_two_classes():
    out = plus_minus_one(torch.tensor([0, 1, 1]))
    assert torch.equal(out, torch.tensor([[1.0, -1.0], [-1.0, 1.0], [-1.0, 1.0]]))
    assert plus_minus_one(torch.tensor([0]), num_classes=2).tolist() == [[1.0, -1.0]]


@fast
@given(labels=st.lists(st.integers(min_value=0, max_value=4), min_size=1, max_size=50))
def test_encodings_decode_back_to_the_labels(labels):
    y = torch.tensor(labels)
    assert torch.equal(labels_from_scores(one_hot(y, 5)), y)
    assert torch.equal(labels_from_scores(plus_minus_one(y, 5)), y)
    assert (one_hot(y, 5).sum(dim=1) == 1).all()


@pytest.mark.parametrize(
    ("y", "num_classes"),
    [
        (torch.tensor([0, 2]), 2),
        (torch.tensor([-1, 0]), None),
        (torch.tensor([0.0, 1.0]), None),
        (torch.tensor([[0, 1]]), None),
    ],
)
def test_one_hot_rejects_bad_labels(y, num_classes):
    with pytest.raises(ValueError):
        one_hot(y, num_classes)
    with pytest.raises(ValueError):
        plus_minus_one(y, num_classes)


def test_labels_from_probabilities_threshold_at_one_half():
    p = torch.tensor([0.1, 0.5, 0.51, 0.9])
    assert labels_from_scores(p).tolist() == [0, 0, 1, 1]
    assert labels_from_scores(p[:, None]).tolist() == [0, 0, 1, 1]
    assert labels_from_scores(torch.tensor([-0.2, 0.3]), threshold=0.0).tolist() == [0, 1]
    assert labels_from_scores(p).dtype == torch.int64


def test_labels_from_multi_column_scores_take_the_argmax():
    scores = torch.tensor([[0.2, 0.7, 0.1], [3.0, -1.0, 2.0], [-1.0, 1.0, 1.5]])
    assert labels_from_scores(scores).tolist() == [1, 0, 2]


def test_labels_from_scores_rejects_other_shapes():
    with pytest.raises(ValueError, match="shape"):
        labels_from_scores(torch.zeros(2, 2, 2))
    with pytest.raises(ValueError, match="shape"):
        labels_from_scores(torch.tensor(0.5))


# ---------------------------------------------------------------------------------------------
# batches
# ---------------------------------------------------------------------------------------------


@fast
@given(
    n=st.integers(min_value=1, max_value=200),
    batch_size=st.integers(min_value=1, max_value=64),
    shuffle=st.booleans(),
    drop_last=st.booleans(),
)
def test_batches_cover_every_row_once_with_the_right_sizes(n, batch_size, shuffle, drop_last):
    x, y = indexed(n)
    gen = torch.Generator().manual_seed(0)
    out = list(batches(x, y, batch_size, shuffle=shuffle, generator=gen, drop_last=drop_last))
    sizes = [len(yb) for _, yb in out]
    full, rest = divmod(n, batch_size)
    assert sizes == [batch_size] * full + ([rest] if rest and not drop_last else [])
    for xb, yb in out:
        assert torch.equal(xb[:, 0].long(), yb)  # rows stay paired
    seen = torch.cat([yb for _, yb in out]).tolist() if out else []
    if drop_last:
        assert len(set(seen)) == len(seen) == full * batch_size
    else:
        assert sorted(seen) == list(range(n))
    if not shuffle:
        assert seen == list(range(len(seen)))


def test_batches_are_reproducible_from_the_generator_seed():
    x, y = indexed(100)

    def epoch(seed):
        gen = torch.Generator().manual_seed(seed)
        return torch.cat([yb for _, yb in batches(x, y, 16, generator=gen)])

    assert torch.equal(epoch(0), epoch(0))
    assert not torch.equal(epoch(0), epoch(1))


def test_each_epoch_draws_a_new_order():
    x, y = indexed(100)
    gen = torch.Generator().manual_seed(0)
    first = torch.cat([yb for _, yb in batches(x, y, 10, generator=gen)])
    second = torch.cat([yb for _, yb in batches(x, y, 10, generator=gen)])
    assert not torch.equal(first, second)
    assert not torch.equal(first, torch.arange(100))


def test_batches_are_slices_of_one_array():
    x, y = indexed(50)
    for shuffle in (True, False):
        gen = torch.Generator().manual_seed(0)
        out = list(batches(x, y, 8, shuffle=shuffle, generator=gen))
        storages = {xb.untyped_storage().data_ptr() for xb, _ in out}
        assert len(storages) == 1  # one indexing per epoch, views per step
        if not shuffle:
            assert storages == {x.untyped_storage().data_ptr()}


@pytest.mark.parametrize("batch_size", [0, -4])
def test_batches_reject_non_positive_batch_size_at_once(batch_size):
    x, y = indexed(10)
    with pytest.raises(ValueError, match="batch_size"):
        batches(x, y, batch_size)  # not even iterated


def test_batches_name_both_lengths_when_they_differ():
    x, _ = indexed(10)
    with pytest.raises(ValueError, match=r"10.*7"):
        batches(x, torch.arange(7), 4)


def test_module_exports_its_public_api():
    for name in data.__all__:
        assert hasattr(data, name)
