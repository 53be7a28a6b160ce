"""2-D datasets (classification and regression) and the plumbing around them: split, scaling,
target encodings, batches.

Every dataset function returns ``(x, y)`` with ``x`` float32 of shape (n, 2) and ``y`` of shape
(n,): int64 class labels 0 … K-1 for a classification, float32 values for a regression
(``task_of(name)`` says which, and K). Randomness always comes from a private
``torch.Generator``: an int ``seed`` makes the result reproducible, ``seed=None`` draws fresh
entropy; the global torch RNG is never touched by the dataset functions or by
``train_test_split``.

``disk`` is the course's seed dataset on the unit square. ``circle``, ``xor``, ``gaussians`` and
``spiral`` port TensorFlow Playground's classification generators (``src/dataset.ts``): same
geometry, same coordinates (roughly [-6, 6]^2) and the same meaning of ``noise`` (0 to 0.5), with
Playground's labels -1/+1 mapped to 0/1; ``spiral`` also takes ``classes=K`` arms. ``plane`` and
``multigauss`` port its regression generators (regressPlane, regressGaussian) with their
real-valued targets. ``blobs``, ``moons``, ``checkerboard`` and ``rings`` are not Playground's;
they use its coordinates and its range of ``noise``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

__all__ = [
    "DATASETS",
    "DOMAINS",
    "MANY_CLASSES",
    "MAX_CLASSES",
    "REGRESSION",
    "Standardizer",
    "Task",
    "batches",
    "blobs",
    "checkerboard",
    "circle",
    "disk",
    "gaussians",
    "labels_from_scores",
    "make_dataset",
    "moons",
    "multigauss",
    "one_hot",
    "plane",
    "plus_minus_one",
    "rings",
    "spiral",
    "task_of",
    "train_test_split",
    "xor",
]

Dataset = tuple[torch.Tensor, torch.Tensor]

DISK_CENTRE = (0.5, 0.5)
DISK_RADIUS = 1.0 / math.sqrt(2.0 * math.pi)  # area pi * r^2 = 1/2: half the unit square

PLAYGROUND_MAX_NOISE = 0.5
MAX_CLASSES = 10
"""The most classes a many-class dataset (spiral, blobs, rings) makes."""


# ---------------------------------------------------------------------------------------------
# Randomness and argument checks shared by every generator
# ---------------------------------------------------------------------------------------------


def _generator(seed: int | None) -> torch.Generator:
    """A private generator: seeded when asked, otherwise from fresh OS entropy."""
    gen = torch.Generator()
    if seed is None:
        gen.seed()
    else:
        gen.manual_seed(int(seed))
    return gen


def _uniform(n: int, low: float, high: float, gen: torch.Generator) -> torch.Tensor:
    """n float32 samples from U[low, high) (Playground's ``randUniform``)."""
    return torch.rand(n, generator=gen) * (high - low) + low


def _check_n(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ValueError(f"n must be a positive integer, got {n!r}")


def _check_playground_noise(noise: float) -> None:
    if not 0.0 <= noise <= PLAYGROUND_MAX_NOISE:
        raise ValueError(
            f"noise must be in [0, {PLAYGROUND_MAX_NOISE}] (Playground's scale), got {noise!r}"
        )


def _halves(n: int) -> tuple[int, int]:
    """Sizes of the positive and negative blocks; the positive one takes the odd point."""
    return n - n // 2, n // 2


def _check_classes(classes: int) -> None:
    if isinstance(classes, bool) or not isinstance(classes, int) or not 2 <= classes <= MAX_CLASSES:
        raise ValueError(f"classes must be an integer from 2 to {MAX_CLASSES}, got {classes!r}")


def _shares(n: int, k: int) -> list[int]:
    """Sizes of k class blocks of n points, as equal as can be; the first ones take the extra
    points (for k = 2, ``_halves``)."""
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


def _classes(blocks: list[torch.Tensor], labels: list[int], gen: torch.Generator) -> Dataset:
    """Stack blocks of points, block i labelled ``labels[i]``, in shuffled order.

    Playground generates the classes one after the other and shuffles before use; shuffling here
    keeps any prefix of the dataset representative of every class.
    """
    x = torch.cat(blocks)
    sizes = torch.tensor([len(b) for b in blocks])
    y = torch.repeat_interleave(torch.tensor(labels, dtype=torch.int64), sizes)
    perm = torch.randperm(len(x), generator=gen)
    return x[perm].contiguous(), y[perm].contiguous()


# ---------------------------------------------------------------------------------------------
# The course's seed dataset
# ---------------------------------------------------------------------------------------------


def disk(n: int, *, seed: int | None = None, noise: float = 0.0) -> Dataset:
    """The course's seed dataset: points in the unit square, labelled 1 inside a central disk.

    ``x`` is uniform on [0, 1]^2. ``y`` is 1 when the point lies strictly inside the disk of
    centre (0.5, 0.5) and radius 1/sqrt(2*pi), 0 otherwise; the disk's area is 1/2, so about
    half the labels are 1.

    ``noise`` in [0, 1) is *label* noise: exactly ``round(noise * n)`` labels, chosen uniformly
    at random without replacement, are flipped. Positions are never perturbed. ``noise=0`` gives
    the exact labels.
    """
    _check_n(n)
    if not 0.0 <= noise < 1.0:
        raise ValueError(f"noise must be in [0, 1) (the fraction of labels flipped), got {noise!r}")
    gen = _generator(seed)
    x = torch.rand(n, 2, generator=gen)
    centre = torch.tensor(DISK_CENTRE, dtype=x.dtype)
    inside = (x - centre).pow(2).sum(dim=1) < DISK_RADIUS**2
    y = inside.to(torch.int64)
    n_flipped = round(noise * n)
    if n_flipped:
        flipped = torch.randperm(n, generator=gen)[:n_flipped]
        y[flipped] = 1 - y[flipped]
    return x, y


# ---------------------------------------------------------------------------------------------
# TensorFlow Playground's classification datasets (src/dataset.ts)
# ---------------------------------------------------------------------------------------------


def circle(n: int, *, seed: int | None = None, noise: float = 0.0) -> Dataset:
    """Playground's "circle": a central blob (class 1) inside a ring (class 0).

    Half the points have radius uniform in [0, 2.5], half in [3.5, 5] (Playground's radius 5 times
    0.5 and 0.7), at a uniform angle. The label is 1 when the point is within 2.5 of the origin.

    ``noise`` in [0, 0.5], as in Playground: each point keeps its position, but its label is
    computed at the point shifted by ``noise * U[-5, 5]`` in each coordinate, so points near the
    boundary get the other side's label. ``noise=0`` means label 1 exactly for radius < 2.5.
    """
    _check_n(n)
    _check_playground_noise(noise)
    gen = _generator(seed)
    radius = 5.0

    def ring(count: int, r_min: float, r_max: float) -> torch.Tensor:
        r = _uniform(count, r_min, r_max, gen)
        angle = _uniform(count, 0.0, 2.0 * math.pi, gen)
        return torch.stack([r * torch.sin(angle), r * torch.cos(angle)], dim=1)

    n_pos, n_neg = _halves(n)
    blob, outer = ring(n_pos, 0.0, radius * 0.5), ring(n_neg, radius * 0.7, radius)
    x, _ = _classes([blob, outer], [1, 0], gen)
    shifted = x + _uniform(2 * n, -radius, radius, gen).reshape(n, 2) * noise
    y = (shifted.norm(dim=1) < radius * 0.5).to(torch.int64)
    return x, y


def xor(n: int, *, seed: int | None = None, noise: float = 0.0) -> Dataset:
    """Playground's "exclusive or": four quadrants, class 1 where x1 and x2 have the same sign.

    Each coordinate is uniform in [-5, 5] and then pushed 0.3 away from zero (Playground's
    padding), so points lie in [-5.3, -0.3] or [0.3, 5.3] on each axis. The label is 1 when
    ``x1 * x2 >= 0``.

    ``noise`` in [0, 0.5], as in Playground: each point keeps its position, but its label is
    computed at the point shifted by ``noise * U[-5, 5]`` in each coordinate. ``noise=0`` means
    the label is exactly the sign rule.
    """
    _check_n(n)
    _check_playground_noise(noise)
    gen = _generator(seed)
    padding = 0.3
    x = _uniform(2 * n, -5.0, 5.0, gen).reshape(n, 2)
    x = x + torch.where(x > 0, padding, -padding)
    shifted = x + _uniform(2 * n, -5.0, 5.0, gen).reshape(n, 2) * noise
    y = (shifted[:, 0] * shifted[:, 1] >= 0).to(torch.int64)
    return x, y


def gaussians(n: int, *, seed: int | None = None, noise: float = 0.0) -> Dataset:
    """Playground's "two gaussians": class 1 around (2, 2), class 0 around (-2, -2).

    Each class is an isotropic normal whose per-coordinate variance grows linearly with
    ``noise`` in [0, 0.5], as in Playground: variance 0.5 at noise 0 up to 4 at noise 0.5
    (``0.5 + 7 * noise``). Labels are never flipped; noise makes the clouds overlap. The
    coordinates are unbounded (normal tails), though almost all points fall in [-6, 6]^2.
    """
    _check_n(n)
    _check_playground_noise(noise)
    gen = _generator(seed)
    variance = 0.5 + (4.0 - 0.5) * noise / PLAYGROUND_MAX_NOISE
    std = math.sqrt(variance)

    def cloud(count: int, centre: float) -> torch.Tensor:
        return centre + std * torch.randn(count, 2, generator=gen)

    n_pos, n_neg = _halves(n)
    return _classes([cloud(n_pos, 2.0), cloud(n_neg, -2.0)], [1, 0], gen)


def spiral(n: int, *, classes: int = 2, seed: int | None = None, noise: float = 0.0) -> Dataset:
    """Playground's "spiral": ``classes`` interleaved arms (two in Playground), one per class.

    Point i of an arm of m points sits at radius ``5 * i / m`` and angle ``3.5 * pi * i / m +
    delta``, written as ``(r * sin(t), r * cos(t))`` as Playground does. Arm k (drawn k-th, k = 0
    … K-1) is turned by ``delta = 2 * pi * k / K`` and labelled K-1-k: for K = 2 that is
    Playground's class 1 at delta 0 and class 0 at delta pi. The first arms take the points that
    do not divide evenly.

    ``noise`` in [0, 0.5], as in Playground: each coordinate is shifted by ``noise * U[-1, 1]``;
    labels are never flipped. Points stay within radius 5 + noise * sqrt(2).
    """
    _check_n(n)
    _check_classes(classes)
    _check_playground_noise(noise)
    gen = _generator(seed)

    def arm(count: int, delta_t: float) -> torch.Tensor:
        fraction = torch.arange(count, dtype=torch.float32) / count
        r = fraction * 5.0
        t = 1.75 * fraction * 2.0 * math.pi + delta_t
        points = torch.stack([r * torch.sin(t), r * torch.cos(t)], dim=1)
        return points + _uniform(2 * count, -1.0, 1.0, gen).reshape(count, 2) * noise

    # for K = 2 the turns are 0 and (2π · 1) / 2 = π exactly (scaling by 2 is exact): Playground's
    arms = [arm(count, 2.0 * math.pi * k / classes) for k, count in enumerate(_shares(n, classes))]
    return _classes(arms, [classes - 1 - k for k in range(classes)], gen)


# ---------------------------------------------------------------------------------------------
# TensorFlow Playground's regression datasets (src/dataset.ts)
# ---------------------------------------------------------------------------------------------


def _regression_points(
    n: int, noise: float, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Playground's regression inputs: points uniform in [-6, 6]^2, and the points each one's
    target is read at, shifted by ``noise * U[-6, 6]`` per coordinate."""
    radius = 6.0
    x = _uniform(2 * n, -radius, radius, gen).reshape(n, 2)
    shifted = x + _uniform(2 * n, -radius, radius, gen).reshape(n, 2) * noise
    return x, shifted


def plane(n: int, *, seed: int | None = None, noise: float = 0.0) -> Dataset:
    """Playground's "plane" regression: the target rises linearly along the diagonal.

    ``x`` is uniform on [-6, 6]^2; the target is ``(x1 + x2) / 10`` (Playground's linear scale
    from [-10, 10] to [-1, 1], not clamped), float32. So |target| <= 1 wherever |x1 + x2| <= 10:
    everywhere but the two far corners, where it reaches ±1.2 (Playground's data does the same).

    ``noise`` in [0, 0.5], as in Playground: each point keeps its position, but its target is
    computed at the point shifted by ``noise * U[-6, 6]`` in each coordinate (then up to ±1.8).
    """
    _check_n(n)
    _check_playground_noise(noise)
    x, at = _regression_points(n, noise, _generator(seed))
    return x, (at[:, 0] + at[:, 1]) / 10.0


# Playground's six gaussians: centre (x, y) and the sign of the target there
MULTIGAUSS_CENTRES = ((-4.0, 2.5, 1.0), (0.0, 2.5, -1.0), (4.0, 2.5, 1.0),
                      (-4.0, -2.5, -1.0), (0.0, -2.5, 1.0), (4.0, -2.5, -1.0))


def multigauss(n: int, *, seed: int | None = None, noise: float = 0.0) -> Dataset:
    """Playground's "multi-gaussian" regression: six bumps of alternating sign in a 3×2 grid.

    ``x`` is uniform on [-6, 6]^2. Each centre c (at x1 in {-4, 0, 4}, x2 in {2.5, -2.5}, signs
    +, -, + over -, +, -) gives ``sign_c * max(0, 1 - d_c / 2)`` where d_c is the distance to
    it (Playground's clamped scale from [0, 2] to [1, 0]); the target is the value largest in
    absolute value (the first centre's on a tie, zero far from all), float32 in [-1, 1].

    ``noise`` in [0, 0.5], as in Playground: the target is computed at the point shifted by
    ``noise * U[-6, 6]`` in each coordinate; the point keeps its position.
    """
    _check_n(n)
    _check_playground_noise(noise)
    x, at = _regression_points(n, noise, _generator(seed))
    centres = torch.tensor([c[:2] for c in MULTIGAUSS_CENTRES])
    signs = torch.tensor([c[2] for c in MULTIGAUSS_CENTRES])
    distances = torch.cdist(at.double(), centres.double()).float()  # (n, 6)
    values = signs * torch.clamp(1.0 - distances / 2.0, 0.0, 1.0)
    strongest = values.abs().argmax(dim=1, keepdim=True)  # the first maximum, as Playground's >
    return x, values.gather(1, strongest)[:, 0]


# ---------------------------------------------------------------------------------------------
# More classification datasets, on Playground's coordinates and noise scale
# ---------------------------------------------------------------------------------------------


def blobs(n: int, *, classes: int = 3, seed: int | None = None, noise: float = 0.0) -> Dataset:
    """``classes`` gaussian clusters, one per class, evenly spaced on a circle of radius 3.

    Class k's centre is at angle ``2 * pi * k / K`` from the x2 axis: ``(3 sin a, 3 cos a)``.
    Each cluster is an isotropic normal with Playground's "two gaussians" variance, 0.5 at
    noise 0 up to 4 at noise 0.5 (``0.5 + 7 * noise``), so noise makes the clusters overlap;
    labels are never flipped. The first classes take the points that do not divide evenly.
    """
    _check_n(n)
    _check_classes(classes)
    _check_playground_noise(noise)
    gen = _generator(seed)
    std = math.sqrt(0.5 + (4.0 - 0.5) * noise / PLAYGROUND_MAX_NOISE)
    clusters = []
    for k, count in enumerate(_shares(n, classes)):
        angle = 2.0 * math.pi * k / classes
        centre = torch.tensor([3.0 * math.sin(angle), 3.0 * math.cos(angle)])
        clusters.append(centre + std * torch.randn(count, 2, generator=gen))
    return _classes(clusters, list(range(classes)), gen)


MOONS_SCALE = 3.0  # scikit-learn's moons, from their 3 × 1.5 box to 9 × 4.5, centred


def moons(n: int, *, seed: int | None = None, noise: float = 0.0) -> Dataset:
    """Two interleaving half circles (scikit-learn's ``make_moons``), scaled by 3 and centred.

    Class 0 is the upper half of the unit circle, ``(cos t, sin t)``, class 1 the lower half
    circle ``(1 - cos t, 0.5 - sin t)``, t uniform in [0, pi]; both are shifted by (-0.5, -0.25)
    so the pair is centred on the origin, then scaled by 3: x1 in [-4.5, 4.5], x2 in [-2.25,
    2.25]. Class 1 takes the odd point.

    ``noise`` in [0, 0.5]: gaussian noise of standard deviation ``noise`` (in the moons' own
    unit, scikit-learn's meaning) is added to each coordinate before scaling; labels never flip.
    """
    _check_n(n)
    _check_playground_noise(noise)
    gen = _generator(seed)
    n_lower, n_upper = _halves(n)
    t_upper = _uniform(n_upper, 0.0, math.pi, gen)
    t_lower = _uniform(n_lower, 0.0, math.pi, gen)
    upper = torch.stack([torch.cos(t_upper), torch.sin(t_upper)], dim=1)
    lower = torch.stack([1.0 - torch.cos(t_lower), 0.5 - torch.sin(t_lower)], dim=1)
    x, y = _classes([lower, upper], [1, 0], gen)
    x = x + noise * torch.randn(n, 2, generator=gen)
    return (x - torch.tensor([0.5, 0.25])) * MOONS_SCALE, y


CHECKERBOARD_CELL = 3.0  # a 4 × 4 board on [-6, 6]^2


def checkerboard(n: int, *, seed: int | None = None, noise: float = 0.0) -> Dataset:
    """A 4 × 4 checkerboard on [-6, 6]^2: class 1 on the squares where floor(x1 / 3) +
    floor(x2 / 3) is even (the square just above and right of the origin is class 1).

    ``x`` is uniform on [-6, 6]^2. ``noise`` in [0, 0.5], like Playground's xor: each point
    keeps its position, but its label is read at the point shifted by ``noise * U[-3, 3]`` in
    each coordinate (up to half a square), so points near a square's edge may take the
    neighbour's label.
    """
    _check_n(n)
    _check_playground_noise(noise)
    gen = _generator(seed)
    cell = CHECKERBOARD_CELL
    x = _uniform(2 * n, -2.0 * cell, 2.0 * cell, gen).reshape(n, 2)
    shifted = x + _uniform(2 * n, -cell, cell, gen).reshape(n, 2) * noise
    squares = torch.floor(shifted / cell).to(torch.int64)
    return x, ((squares[:, 0] + squares[:, 1]) % 2 == 0).to(torch.int64)


RINGS_RADIUS = 5.0  # as Playground's circle


def rings(n: int, *, classes: int = 3, seed: int | None = None, noise: float = 0.0) -> Dataset:
    """``classes`` concentric classes: a central disk (class 0) and K-1 rings around it.

    With band width w = 5 / K, class k's radius is uniform in [w·k + w/10, w·(k+1) - w/10] (the
    disk's from 0), at a uniform angle: bands a fifth of w apart, like Playground's circle. The
    label is the band of the radius, ``min(floor(r / w), K - 1)``. The first classes take the
    points that do not divide evenly.

    ``noise`` in [0, 0.5], as in Playground's circle: each point keeps its position, but its
    label is read at the point shifted by ``noise * U[-5, 5]`` in each coordinate.
    """
    _check_n(n)
    _check_classes(classes)
    _check_playground_noise(noise)
    gen = _generator(seed)
    width = RINGS_RADIUS / classes
    bands = []
    for k, count in enumerate(_shares(n, classes)):
        low = 0.0 if k == 0 else width * (k + 0.1)
        r = _uniform(count, low, width * (k + 0.9), gen)
        angle = _uniform(count, 0.0, 2.0 * math.pi, gen)
        bands.append(torch.stack([r * torch.sin(angle), r * torch.cos(angle)], dim=1))
    x, _ = _classes(bands, list(range(classes)), gen)
    shifted = x + _uniform(2 * n, -RINGS_RADIUS, RINGS_RADIUS, gen).reshape(n, 2) * noise
    band = torch.floor(shifted.norm(dim=1) / width).to(torch.int64)
    return x, band.clamp_max(classes - 1)


DATASETS: dict[str, Callable[..., Dataset]] = {
    "disk": disk,
    "circle": circle,
    "xor": xor,
    "gaussians": gaussians,
    "spiral": spiral,
    "plane": plane,
    "multigauss": multigauss,
    "blobs": blobs,
    "moons": moons,
    "checkerboard": checkerboard,
    "rings": rings,
}
"""Dataset name -> generator ``f(n, *, seed=None, noise=0.0) -> (x, y)`` (spiral, blobs and rings
also take ``classes``)."""

DOMAINS: dict[str, tuple[float, float, float, float]] = {
    name: (0.0, 1.0, 0.0, 1.0) if name == "disk" else (-6.0, 6.0, -6.0, 6.0) for name in DATASETS
}
"""Dataset name -> plotting domain ``(x_min, x_max, y_min, y_max)``."""

REGRESSION = ("plane", "multigauss")
"""The datasets whose targets are real values (float32), not class labels."""
MANY_CLASSES: dict[str, int] = {"spiral": 2, "blobs": 3, "rings": 3}
"""The datasets that take ``classes=K`` (2 to MAX_CLASSES), with their default K."""


@dataclass(frozen=True)
class Task:
    """What a dataset asks a model to learn: ``kind`` is "classification" (``classes`` = K,
    labels 0 … K-1, int64) or "regression" (``classes`` None, float32 targets)."""

    kind: str
    classes: int | None = None

    @property
    def is_regression(self) -> bool:
        """Whether the targets are real values."""
        return self.kind == "regression"


def task_of(name: str, classes: int | None = None) -> Task:
    """The task of dataset ``name`` made with ``classes`` (None: the dataset's default).

    Raises ValueError for an unknown dataset, or a ``classes`` the dataset does not take.
    """
    _known(name)
    if name in REGRESSION:
        if classes is not None:
            raise ValueError(f"{name} is a regression dataset: it has no classes")
        return Task("regression")
    if name in MANY_CLASSES:
        if classes is None:
            classes = MANY_CLASSES[name]
        _check_classes(classes)
        return Task("classification", classes)
    if classes not in (None, 2):
        raise ValueError(
            f"{name} has two classes; the datasets with a choice of classes are "
            f"{', '.join(MANY_CLASSES)}"
        )
    return Task("classification", 2)


def _known(name: str) -> Callable[..., Dataset]:
    try:
        return DATASETS[name]
    except KeyError:
        known = ", ".join(sorted(DATASETS))
        raise ValueError(f"unknown dataset {name!r}; known datasets: {known}") from None


def make_dataset(
    name: str, n: int, *, seed: int | None = None, noise: float = 0.0, classes: int | None = None
) -> Dataset:
    """Generate the dataset registered under ``name`` (see ``DATASETS``); ``classes`` for the
    many-class ones (None: their default; 2 or None for the two-class ones)."""
    make = _known(name)
    task = task_of(name, classes)
    if name in MANY_CLASSES:
        return make(n, classes=task.classes, seed=seed, noise=noise)
    return make(n, seed=seed, noise=noise)


# ---------------------------------------------------------------------------------------------
# Splitting and scaling
# ---------------------------------------------------------------------------------------------


def _check_same_length(x: torch.Tensor, y: torch.Tensor) -> None:
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got len(x)={len(x)}, len(y)={len(y)}")


def train_test_split(
    x: torch.Tensor, y: torch.Tensor, test_fraction: float = 0.5, *, seed: int | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Shuffle the rows of (x, y) together and cut them into a training and a test set.

    The test set gets ``round(test_fraction * n)`` rows (halves round up), the training set the
    rest; rows of x and y stay paired. Returns ``(x_train, y_train, x_test, y_test)``. Raises
    ValueError when ``test_fraction`` is not strictly between 0 and 1, when x and y differ in
    length, or when either side would be empty.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be strictly between 0 and 1, got {test_fraction!r}")
    _check_same_length(x, y)
    n = len(x)
    n_test = math.floor(test_fraction * n + 0.5)
    if n_test == 0 or n_test == n:
        raise ValueError(
            f"test_fraction={test_fraction} of {n} samples leaves an empty training or test set"
        )
    perm = torch.randperm(n, generator=_generator(seed))
    test, train = perm[:n_test], perm[n_test:]
    return x[train], y[train], x[test], y[test]


class Standardizer:
    """Per-feature scaling to zero mean and unit standard deviation.

    ``std`` is the *population* standard deviation (divide by n, like scikit-learn's
    StandardScaler); a constant column gets std 1 so it is centred but not divided by zero.
    Fit it on the training set only, then transform the training and the test set with it:
    choosing that is the caller's job. ``state()`` / ``from_state()`` turn it into plain lists for
    JSON.
    """

    def __init__(self) -> None:
        self.mean: torch.Tensor | None = None
        self.std: torch.Tensor | None = None

    def fit(self, x: torch.Tensor) -> Standardizer:
        """Learn the per-column mean and std of ``x`` (n, d); returns self."""
        if x.dim() != 2 or len(x) == 0:
            raise ValueError(f"fit needs a non-empty 2-D tensor (n, d), got shape {tuple(x.shape)}")
        if not x.is_floating_point():
            x = x.to(torch.get_default_dtype())
        self.mean = x.mean(dim=0)
        std = x.std(dim=0, correction=0)
        self.std = torch.where(std == 0, torch.ones_like(std), std)
        return self

    def _fitted(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.mean is None or self.std is None:
            raise RuntimeError("Standardizer is not fitted: call fit(x) first")
        if x.dim() != 2 or x.shape[1] != len(self.mean):
            raise ValueError(f"expected shape (n, {len(self.mean)}), got {tuple(x.shape)}")
        dtype = x.dtype if x.is_floating_point() else self.mean.dtype
        return self.mean.to(dtype), self.std.to(dtype)

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        """Scale ``x`` with the fitted statistics: ``(x - mean) / std``."""
        mean, std = self._fitted(x)
        return (x - mean) / std

    def fit_transform(self, x: torch.Tensor) -> torch.Tensor:
        """Fit on ``x`` and return ``x`` scaled."""
        return self.fit(x).transform(x)

    def inverse_transform(self, x: torch.Tensor) -> torch.Tensor:
        """Undo ``transform``: ``x * std + mean``."""
        mean, std = self._fitted(x)
        return x * std + mean

    def state(self) -> dict[str, list[float]]:
        """The fitted statistics as plain lists, ready for JSON."""
        if self.mean is None or self.std is None:
            raise RuntimeError("Standardizer is not fitted: call fit(x) first")
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_state(cls, state: dict[str, Any], dtype: torch.dtype = torch.float32) -> Standardizer:
        """Rebuild a fitted Standardizer from ``state()``'s output."""
        mean = torch.tensor(state["mean"], dtype=dtype)
        std = torch.tensor(state["std"], dtype=dtype)
        if mean.dim() != 1 or mean.shape != std.shape:
            raise ValueError(
                f"mean and std must be lists of the same length, got {len(mean)} and {len(std)}"
            )
        if bool((std <= 0).any()):
            raise ValueError("std values must be positive")
        scaler = cls()
        scaler.mean, scaler.std = mean, std
        return scaler

    def __repr__(self) -> str:
        if self.mean is None:
            return "Standardizer(unfitted)"
        return f"Standardizer(mean={self.mean.tolist()}, std={self.std.tolist()})"


# ---------------------------------------------------------------------------------------------
# Target encodings and decoding
# ---------------------------------------------------------------------------------------------


def one_hot(
    y: torch.Tensor, num_classes: int | None = None, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Turn class indices (n,) into one-hot targets (n, num_classes), e.g. 1 -> [0, 1].

    ``num_classes`` defaults to ``y.max() + 1``. Raises ValueError for a non-integer or non-1-D
    ``y``, or a label outside [0, num_classes).
    """
    if y.dim() != 1 or y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise ValueError(
            f"y must be a 1-D integer tensor of class indices, got {y.dtype} {tuple(y.shape)}"
        )
    if num_classes is None:
        num_classes = int(y.max()) + 1 if len(y) else 0
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ValueError(
            f"labels must be in [0, {num_classes}), got min {int(y.min())}, max {int(y.max())}"
        )
    out = torch.zeros(len(y), num_classes, dtype=dtype)
    out[torch.arange(len(y)), y] = 1
    return out


def plus_minus_one(
    y: torch.Tensor, num_classes: int | None = None, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """One-hot targets with -1 for "not this class", for tanh outputs: 0 -> [1, -1], 1 -> [-1, 1].

    Same arguments and checks as ``one_hot``.
    """
    return one_hot(y, num_classes, dtype) * 2 - 1


def labels_from_scores(scores: torch.Tensor, *, threshold: float = 0.5) -> torch.Tensor:
    """Turn a model's outputs into predicted class indices (int64, shape (n,)).

    Scores of shape (n, k) with k > 1: the argmax over dim 1 (ties go to the lower class).
    Scores of shape (n, 1) or (n,): one probability of class 1 per row, predicted 1 when the
    score is strictly greater than ``threshold`` (0.5; pass 0.0 for a single tanh output).
    """
    if scores.dim() == 2 and scores.shape[1] > 1:
        return scores.argmax(dim=1)
    if scores.dim() == 2 and scores.shape[1] == 1:
        scores = scores[:, 0]
    if scores.dim() != 1:
        shape = tuple(scores.shape)
        raise ValueError(f"scores must have shape (n,), (n, 1) or (n, k), got {shape}")
    return (scores > threshold).to(torch.int64)


# ---------------------------------------------------------------------------------------------
# Mini-batches
# ---------------------------------------------------------------------------------------------


def batches(
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    *,
    shuffle: bool = True,
    generator: torch.Generator | None = None,
    drop_last: bool = False,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Iterate once over (x, y) in mini-batches ``(xb, yb)``: one epoch.

    With ``shuffle``, one permutation is drawn per call from ``generator`` (torch's global RNG
    when None, as with DataLoader), both tensors are indexed once, and the batches are contiguous
    slices of that copy, so each step costs no indexing. Without it, the batches are views of
    ``x`` and ``y`` in order. Every row appears exactly once per call; the last batch is smaller
    unless ``drop_last`` drops it. Generators seeded alike give identical batches.

    Arguments are checked when called, not at the first ``next()``: ValueError for
    ``batch_size <= 0`` or x and y of different lengths.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    _check_same_length(x, y)
    n = len(x)
    if shuffle:
        perm = torch.randperm(n, generator=generator)
        x, y = x[perm], y[perm]
    stop = n - n % batch_size if drop_last else n
    return ((x[i : i + batch_size], y[i : i + batch_size]) for i in range(0, stop, batch_size))
