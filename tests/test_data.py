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
    MAX_CLASSES,
    Standardizer,
    Task,
    batches,
    blobs,
    checkerboard,
    circle,
    disk,
    gaussians,
    labels_from_scores,
    make_dataset,
    moons,
    multigauss,
    one_hot,
    plane,
    plus_minus_one,
    rings,
    spiral,
    task_of,
    train_test_split,
    xor,
)

REGRESSION = ["plane", "multigauss"]
MANY = {"spiral": 2, "blobs": 3, "rings": 3}  # the datasets that take classes=K, their default
TWO = ["disk", "circle", "xor", "gaussians", "moons", "checkerboard"]
CLASSIFICATION = [*TWO, *MANY]
NAMES = [*CLASSIFICATION, *REGRESSION]
PLAYGROUND_SCALE = [name for name in NAMES if name != "disk"]  # noise in [0, 0.5]

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
    assert y.shape == (n,)
    task = task_of(name)
    if task.is_regression:
        assert y.dtype == torch.float32 and torch.isfinite(y).all()
    else:
        assert y.dtype == torch.int64
        assert set(y.tolist()) <= set(range(task.classes))


@pytest.mark.parametrize("name", CLASSIFICATION)
def test_every_classification_has_all_its_classes(name):
    _, y = DATASETS[name](200, seed=0, noise=0.1)
    assert set(y.tolist()) == set(range(task_of(name).classes))


@pytest.mark.parametrize("name", list(MANY))
@pytest.mark.parametrize("classes", [2, 3, 5, MAX_CLASSES])
def test_many_class_datasets_have_k_classes_of_equal_size(name, classes):
    n = 10 * classes + 3
    _, y = make_dataset(name, n, seed=1, classes=classes)
    counts = torch.bincount(y, minlength=classes).tolist()
    shares = [n // classes + (1 if k < n % classes else 0) for k in range(classes)]
    # the first blocks drawn take the extra points; spiral's arm k is class K-1-k
    assert counts == (shares[::-1] if name == "spiral" else shares)
    assert y.dtype == torch.int64 and int(y.max()) == classes - 1


@pytest.mark.parametrize("name", list(MANY))
@pytest.mark.parametrize("classes", [1, 0, MAX_CLASSES + 1, 2.0, True])
def test_a_class_count_out_of_range_is_rejected(name, classes):
    with pytest.raises(ValueError, match="classes must be an integer from 2 to 10"):
        DATASETS[name](10, classes=classes)


def test_task_of_says_regression_or_classification_and_k():
    for name in REGRESSION:
        assert task_of(name) == Task("regression") and task_of(name).is_regression
    for name in TWO:
        assert task_of(name) == Task("classification", 2) == task_of(name, 2)
    for name, default in MANY.items():
        assert task_of(name) == Task("classification", default)
        assert task_of(name, 7) == Task("classification", 7)
        assert not task_of(name).is_regression
    with pytest.raises(ValueError, match="regression dataset"):
        task_of("plane", 3)
    with pytest.raises(ValueError, match="xor has two classes.*spiral, blobs, rings"):
        task_of("xor", 3)
    with pytest.raises(ValueError, match="unknown dataset"):
        task_of("spirals")
    with pytest.raises(ValueError, match="classes must be"):
        make_dataset("rings", 10, classes=11)


@pytest.mark.parametrize("name", list(MANY))
def test_make_dataset_passes_classes_on(name):
    x1, y1 = make_dataset(name, 90, seed=3, noise=0.2, classes=4)
    x2, y2 = DATASETS[name](90, classes=4, seed=3, noise=0.2)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    x3, y3 = make_dataset(name, 90, seed=3, noise=0.2)
    x4, y4 = DATASETS[name](90, seed=3, noise=0.2)
    assert torch.equal(x3, x4) and torch.equal(y3, y4)
    assert int(y3.max()) == MANY[name] - 1


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


@pytest.mark.parametrize("name", PLAYGROUND_SCALE)
@pytest.mark.parametrize("noise", [-0.01, 0.51])
def test_playground_noise_outside_its_scale_is_rejected(name, noise):
    with pytest.raises(ValueError, match="noise"):
        DATASETS[name](10, noise=noise)


def test_registry_and_domains_cover_the_same_datasets():
    assert set(DATASETS) == set(DOMAINS) == set(NAMES)
    assert DOMAINS["disk"] == (0, 1, 0, 1)
    for name in PLAYGROUND_SCALE:
        assert DOMAINS[name] == (-6, 6, -6, 6)


@pytest.mark.parametrize("name", NAMES)
def test_make_dataset_is_the_registered_generator(name):
    x1, y1 = make_dataset(name, 64, seed=9, noise=0.1)
    x2, y2 = DATASETS[name](64, seed=9, noise=0.1)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)


def test_make_dataset_names_the_unknown_and_the_known_datasets():
    with pytest.raises(ValueError, match="spirals") as info:
        make_dataset("spirals", 10)
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


@fast
@given(seed=seeds, classes=st.integers(min_value=2, max_value=MAX_CLASSES))
def test_a_k_class_spiral_has_k_arms_turned_evenly(seed, classes):
    x, y = spiral(300, classes=classes, seed=seed)
    r = distance(x, (0, 0))
    assert (r <= 5 + 1e-5).all()
    # arm k (label K-1-k) is Playground's arm turned by 2 pi k / K
    angle = torch.atan2(x[:, 0].double(), x[:, 1].double())
    t = 0.7 * math.pi * r + 2 * math.pi * (classes - 1 - y) / classes
    gap = torch.remainder(angle - t + math.pi, 2 * math.pi) - math.pi
    assert (gap[r > 1e-3].abs() < 1e-3).all()


def test_the_two_class_spiral_is_playgrounds_whatever_way_it_is_asked_for():
    x1, y1 = spiral(301, seed=4, noise=0.3)
    x2, y2 = spiral(301, classes=2, seed=4, noise=0.3)
    x3, y3 = make_dataset("spiral", 301, seed=4, noise=0.3, classes=2)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert torch.equal(x1, x3) and torch.equal(y1, y3)


def playground_plane(x1: float, x2: float) -> float:
    """dataset.ts regressPlane's getLabel: d3.scale.linear().domain([-10, 10]).range([-1, 1])."""
    return -1 + (x1 + x2 - -10) * (1 - -1) / (10 - -10)


def playground_multigauss(x1: float, x2: float) -> float:
    """dataset.ts regressGaussian's getLabel, written as it is there, point by point."""
    gaussians = [[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1], [-4, -2.5, -1], [0, -2.5, 1],
                 [4, -2.5, -1]]

    def label_scale(d: float) -> float:  # domain [0, 2] -> range [1, 0], clamped
        return min(max(1 - d / 2, 0.0), 1.0)

    label = 0.0
    for cx, cy, sign in gaussians:
        new_label = sign * label_scale(math.hypot(x1 - cx, x2 - cy))
        if abs(new_label) > abs(label):
            label = new_label
    return label


@pytest.mark.parametrize(("name", "rule"), [("plane", playground_plane),
                                            ("multigauss", playground_multigauss)])
def test_regression_targets_follow_dataset_ts_without_noise(name, rule):
    x, y = DATASETS[name](3000, seed=0)
    assert (x >= -6).all() and (x <= 6).all()
    expected = torch.tensor([rule(a, b) for a, b in x.double().tolist()], dtype=torch.float64)
    torch.testing.assert_close(y.double(), expected, rtol=0, atol=1e-6)


def test_plane_targets_are_within_one_except_in_the_far_corners():
    x, y = plane(20000, seed=1)
    beyond = (x[:, 0] + x[:, 1]).abs() > 10
    assert (y.abs() <= 1.2 + 1e-6).all()
    assert torch.equal(y.abs() > 1 + 1e-6, beyond & ((x[:, 0] + x[:, 1]).abs() > 10 + 1e-5))
    # the two corner triangles have area 2 + 2 of the square's 144
    assert abs(beyond.double().mean().item() - 4 / 144) < 0.005


def test_multigauss_targets_are_in_minus_one_one_with_six_signed_bumps():
    x, y = multigauss(20000, seed=2)
    assert (y.abs() <= 1).all()
    for cx, cy, sign in [(-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1),
                         (4, -2.5, -1)]:
        near = distance(x, (cx, cy)) < 1
        assert near.sum() > 100
        assert (torch.sign(y[near]) == sign).all()
    far = torch.stack([distance(x, c) >= 2 for c in [(-4, 2.5), (0, 2.5), (4, 2.5), (-4, -2.5),
                                                      (0, -2.5), (4, -2.5)]]).all(dim=0)
    assert far.sum() > 1000 and (y[far] == 0).all()


@pytest.mark.parametrize(
    ("name", "rule", "lipschitz"),
    [("plane", playground_plane, 0.1), ("multigauss", playground_multigauss, 0.5)],
)
@pytest.mark.parametrize("noise", [0.1, 0.5])
def test_regression_noise_moves_where_the_target_is_read(name, rule, lipschitz, noise):
    # the target is the rule at the point shifted by noise * U[-6, 6] per coordinate, and the
    # rule changes by at most `lipschitz` per unit of distance (plane: |d(x1 + x2)| / 10)
    x, y = DATASETS[name](2000, seed=3, noise=noise)
    exact = torch.tensor([rule(a, b) for a, b in x.double().tolist()], dtype=torch.float64)
    moved = (y.double() - exact).abs()
    bound = lipschitz * 6 * noise * (2 if name == "plane" else math.sqrt(2))
    assert (moved <= bound + 1e-5).all()
    assert (moved > 1e-3).double().mean() > 0.3


@pytest.mark.parametrize(("noise", "variance"), [(0.0, 0.5), (0.5, 4.0)])
@pytest.mark.parametrize("classes", [2, 3, 6])
def test_blobs_are_k_gaussians_evenly_spaced_on_a_circle(noise, variance, classes):
    x, y = blobs(6000 * classes, classes=classes, seed=0, noise=noise)
    for k in range(classes):
        cloud = x[y == k].double()
        a = 2 * math.pi * k / classes
        centre = torch.tensor([3 * math.sin(a), 3 * math.cos(a)], dtype=torch.float64)
        torch.testing.assert_close(cloud.mean(dim=0), centre, rtol=0, atol=0.1)
        torch.testing.assert_close(
            cloud.var(dim=0), torch.full((2,), variance, dtype=torch.float64), rtol=0.06, atol=0
        )


def test_moons_without_noise_lie_on_two_half_circles():
    x, y = moons(2001, seed=0)
    u = x.double() / 3 + torch.tensor([0.5, 0.25], dtype=torch.float64)  # scikit-learn's units
    upper, lower = u[y == 0], u[y == 1]
    assert len(lower) == 1001 and len(upper) == 1000
    torch.testing.assert_close(upper.norm(dim=1), torch.ones(1000, dtype=torch.float64),
                               rtol=0, atol=1e-6)
    assert (upper[:, 1] >= -1e-6).all()
    centre = torch.tensor([1.0, 0.5], dtype=torch.float64)
    torch.testing.assert_close((lower - centre).norm(dim=1),
                               torch.ones(1001, dtype=torch.float64), rtol=0, atol=1e-6)
    assert (lower[:, 1] <= 0.5 + 1e-6).all()
    assert (x[:, 0].abs() <= 4.5 + 1e-5).all() and (x[:, 1].abs() <= 2.25 + 1e-5).all()


def test_moons_noise_is_gaussian_of_that_std_in_the_moons_units():
    noise = 0.1
    x, y = moons(20000, seed=1, noise=noise)
    u = x.double() / 3 + torch.tensor([0.5, 0.25], dtype=torch.float64)
    off = (u[y == 0].norm(dim=1) - 1)  # radial part of a 2-D gaussian offset: std `noise`
    assert abs(off.std().item() - noise) < 0.01


def checkerboard_rule(x: torch.Tensor) -> torch.Tensor:
    squares = torch.floor(x.double() / 3)
    return ((squares[:, 0] + squares[:, 1]) % 2 == 0).to(torch.int64)


@fast
@given(seed=seeds)
def test_checkerboard_labels_are_the_square_parity_without_noise(seed):
    x, y = checkerboard(1000, seed=seed)
    assert (x >= -6).all() and (x <= 6).all()
    assert torch.equal(y, checkerboard_rule(x))


def test_checkerboard_has_sixteen_squares_of_alternating_class():
    x, y = checkerboard(20000, seed=0)
    for i in range(-2, 2):
        for j in range(-2, 2):
            inside = (torch.floor(x[:, 0] / 3) == i) & (torch.floor(x[:, 1] / 3) == j)
            assert inside.sum() > 1000
            assert (y[inside] == (1 if (i + j) % 2 == 0 else 0)).all()


def test_checkerboard_noise_only_relabels_points_near_a_line():
    noise = 0.2
    x, y = checkerboard(4000, seed=1, noise=noise)
    wrong = y != checkerboard_rule(x)
    assert wrong.any()
    to_line = (x.double() / 3 - torch.round(x.double() / 3)).abs() * 3  # distance to a grid line
    assert (to_line[wrong].min(dim=1).values <= 3 * noise + 1e-5).all()


@fast
@given(seed=seeds, classes=st.integers(min_value=2, max_value=MAX_CLASSES))
def test_rings_label_is_the_band_of_the_radius_without_noise(seed, classes):
    x, y = rings(400, classes=classes, seed=seed)
    width = 5 / classes
    r = distance(x, (0, 0))
    assert torch.equal(y, torch.floor(r / width).to(torch.int64).clamp_max(classes - 1))
    # each ring keeps a tenth of its band clear on both sides (the disk only outside)
    inner = torch.where(y == 0, torch.zeros_like(r), width * (y + 0.1))
    assert (r >= inner - 1e-5).all() and (r <= width * (y + 0.9) + 1e-5).all()


def test_rings_noise_only_relabels_points_near_a_boundary():
    noise, classes = 0.05, 4
    x, y = rings(4000, classes=classes, seed=2, noise=noise)
    width = 5 / classes
    r = distance(x, (0, 0))
    wrong = y != torch.floor(r / width).to(torch.int64).clamp_max(classes - 1)
    assert wrong.any()
    to_boundary = (r / width - torch.round(r / width)).abs() * width
    assert (to_boundary[wrong] <= 5 * noise * math.sqrt(2) + 1e-5).all()


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
