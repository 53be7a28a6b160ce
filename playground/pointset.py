"""Many points of your own, compactly: an immutable table of (x1, x2, label, split) rows.

A million ``DataPoint`` objects take ~200 bytes each; a ``PointSet`` keeps the same rows in
numpy arrays, 18 bytes a point: x1, x2 as float64 (what the CSV said, exactly), the label as
uint8 (a class 0 to 9) and the split as bool; a regression's real-valued targets are float64
(26 bytes a point, ``regression`` is True). It is what an imported CSV file becomes
(``DataSpec.added``), and it behaves as the tuple of DataPoints it replaces: ``len``,
iteration, indexing, slicing, ``+`` and ``==`` (also against a tuple of DataPoints). Its rows
are checked once, vectorised, when it is made, so it is always valid. No Qt, no torch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .experiment import DataPoint

__all__ = ["PointSet", "point_arrays"]


class PointSet(Sequence):
    """Rows of (x1, x2, label, test) in read-only arrays; see the module's docstring."""

    __slots__ = ("_digest", "label", "regression", "test", "xy")

    def __init__(
        self, xy: np.ndarray, label: np.ndarray, test: np.ndarray, *, regression: bool = False
    ) -> None:
        from .experiment import MAX_CLASSES, MAX_COORDINATE, MAX_TARGET

        xy = np.array(xy, dtype=np.float64).reshape(-1, 2)
        label = np.asarray(label)
        test = np.array(test, dtype=bool).reshape(-1)  # copies: the caller's stay writeable
        if not (len(label) == len(test) == len(xy)) or label.ndim != 1:
            raise ValueError(
                f"{len(xy)} positions, {len(label)} labels and {len(test)} splits: one each"
            )
        # NaN fails both comparisons: min and max check finiteness too, without temporaries
        if len(xy) and not (xy.min() >= -MAX_COORDINATE and xy.max() <= MAX_COORDINATE):
            raise ValueError(f"coordinates must be finite and within +-{MAX_COORDINATE:g}")
        if regression:
            label = label.astype(np.float64)
            if len(label) and not (label.min() >= -MAX_TARGET and label.max() <= MAX_TARGET):
                raise ValueError(f"targets must be finite and within +-{MAX_TARGET:g}")
        else:
            if len(label) and not (
                label.min() >= 0 and label.max() < MAX_CLASSES and (np.trunc(label) == label).all()
            ):
                raise ValueError(f"labels must be classes 0 to {MAX_CLASSES - 1}")
            label = label.astype(np.uint8)
        self.xy = xy
        self.label = label
        self.regression = bool(regression)
        self.test = test
        for array in (self.xy, self.label, self.test):
            array.flags.writeable = False
        self._digest: bytes | None = None

    @classmethod
    def of(cls, points: Iterable[DataPoint], *, regression: bool | None = None) -> PointSet:
        """The PointSet of some DataPoints (each must be valid); a PointSet is itself.
        ``regression`` None: the points are a regression's if any label is a float."""
        if isinstance(points, PointSet):
            return points
        rows = [(p.x1, p.x2, p.label, p.test) for p in points]
        if regression is None:
            regression = any(isinstance(row[2], float) for row in rows)
        if not rows:
            return cls(np.zeros((0, 2)), np.zeros(0), np.zeros(0, bool), regression=regression)
        x1, x2, label, test = zip(*rows, strict=True)
        return cls(
            np.column_stack([x1, x2]), np.array(label), np.array(test), regression=regression
        )

    # -- the tuple it stands for -------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.label)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return PointSet(
                self.xy[index], self.label[index], self.test[index], regression=self.regression
            )
        from .experiment import DataPoint

        i = range(len(self))[index]  # IndexError as a tuple's; negative indices count back
        x1, x2 = self.xy[i].tolist()
        return DataPoint(x1, x2, self.label[i].item(), bool(self.test[i]))

    def __iter__(self) -> Iterator[DataPoint]:
        from .experiment import DataPoint

        rows = zip(self.xy.tolist(), self.label.tolist(), self.test.tolist(), strict=True)
        for (x1, x2), label, test in rows:
            yield DataPoint(x1, x2, label, test)

    def __add__(self, other: Any) -> PointSet:
        if not isinstance(other, PointSet):
            if not isinstance(other, tuple | list):
                return NotImplemented
            other = PointSet.of(other)
        regression = self.regression or other.regression
        return PointSet(
            np.concatenate([self.xy, other.xy]),
            np.concatenate([self.label, other.label]),
            np.concatenate([self.test, other.test]),
            regression=regression,
        )

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PointSet):
            return self is other or (
                len(self) == len(other)
                and self.regression == other.regression
                and np.array_equal(self.label, other.label)
                and np.array_equal(self.test, other.test)
                and np.array_equal(self.xy, other.xy)
            )
        if isinstance(other, tuple | list):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.digest())

    def __repr__(self) -> str:
        kind = ", real-valued targets" if self.regression else ""
        return f"PointSet({len(self):,} points, {self.n_test:,} test{kind})"

    def __reduce__(self) -> tuple:
        return _rebuild, (self.xy, self.label, self.test, self.regression)

    # -- what a table knows at once ---------------------------------------------------------

    @property
    def n_test(self) -> int:
        """How many of the points are test points."""
        return int(np.count_nonzero(self.test))

    def digest(self) -> bytes:
        """A sha256 of the rows (which two PointSets share exactly when they are equal)."""
        if self._digest is None:
            h = hashlib.sha256()
            for array in (self.xy, self.label, self.test):
                h.update(np.ascontiguousarray(array).tobytes())
            self._digest = h.digest()
        return self._digest

    def rows(self) -> Iterator[tuple[float, float, int | float, bool]]:
        """Every point as (x1, x2, label, is_test), in order (for points_to_csv)."""
        return zip(
            self.xy[:, 0].tolist(),
            self.xy[:, 1].tolist(),
            self.label.tolist(),
            self.test.tolist(),
            strict=True,
        )


def _rebuild(xy: np.ndarray, label: np.ndarray, test: np.ndarray, regression: bool) -> PointSet:
    """Unpickle a PointSet (pickle passes positional arguments only)."""
    return PointSet(xy, label, test, regression=regression)


def point_arrays(
    points: Sequence[DataPoint], *, regression: bool | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(xy, label, test)`` arrays of a PointSet or of a tuple of DataPoints: xy float64
    (n, 2), label int64 (n,) (float64 for a regression's targets), test bool (n,).
    ``regression`` says what DataPoints' labels are (None: floats make them targets)."""
    if not isinstance(points, PointSet):
        points = PointSet.of(points, regression=regression)
    label = points.label if points.regression else points.label.astype(np.int64)
    return points.xy, label, points.test
