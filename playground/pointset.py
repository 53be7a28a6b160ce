"""Many points of your own, compactly: an immutable table of (x1, x2, label, split) rows.

A million ``DataPoint`` objects take ~200 bytes each; a ``PointSet`` keeps the same rows in
numpy arrays, 18 bytes a point: x1, x2 as float64 (what the CSV said, exactly), the label as
uint8 and the split as bool. It is what an imported CSV file becomes (``DataSpec.added``), and
it behaves as the tuple of DataPoints it replaces: ``len``, iteration, indexing, slicing, ``+``
and ``==`` (also against a tuple of DataPoints). Its rows are checked once, vectorised, when
it is made, so it is always valid. No Qt, no torch.
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

    __slots__ = ("_digest", "label", "test", "xy")

    def __init__(self, xy: np.ndarray, label: np.ndarray, test: np.ndarray) -> None:
        from .experiment import MAX_COORDINATE

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
        if not ((label == 0) | (label == 1)).all():
            raise ValueError("labels must be 0 or 1")
        self.xy = xy
        self.label = label.astype(np.uint8)
        self.test = test
        for array in (self.xy, self.label, self.test):
            array.flags.writeable = False
        self._digest: bytes | None = None

    @classmethod
    def of(cls, points: Iterable[DataPoint]) -> PointSet:
        """The PointSet of some DataPoints (each must be valid); a PointSet is itself."""
        if isinstance(points, PointSet):
            return points
        rows = [(p.x1, p.x2, p.label, p.test) for p in points]
        if not rows:
            return cls(np.zeros((0, 2)), np.zeros(0, np.uint8), np.zeros(0, bool))
        x1, x2, label, test = zip(*rows, strict=True)
        return cls(np.column_stack([x1, x2]), np.array(label), np.array(test))

    # -- the tuple it stands for -------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.label)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return PointSet(self.xy[index], self.label[index], self.test[index])
        from .experiment import DataPoint

        i = range(len(self))[index]  # IndexError as a tuple's; negative indices count back
        x1, x2 = self.xy[i].tolist()
        return DataPoint(x1, x2, int(self.label[i]), bool(self.test[i]))

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
        return PointSet(
            np.concatenate([self.xy, other.xy]),
            np.concatenate([self.label, other.label]),
            np.concatenate([self.test, other.test]),
        )

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PointSet):
            return self is other or (
                len(self) == len(other)
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
        return f"PointSet({len(self):,} points, {self.n_test:,} test)"

    def __reduce__(self) -> tuple:
        return PointSet, (self.xy, self.label, self.test)

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

    def rows(self) -> Iterator[tuple[float, float, int, bool]]:
        """Every point as (x1, x2, label, is_test), in order (for points_to_csv)."""
        return zip(
            self.xy[:, 0].tolist(),
            self.xy[:, 1].tolist(),
            self.label.tolist(),
            self.test.tolist(),
            strict=True,
        )


def point_arrays(points: Sequence[DataPoint]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(xy, label, test)`` arrays of a PointSet or of a tuple of DataPoints: xy float64
    (n, 2), label int64 (n,), test bool (n,)."""
    if not isinstance(points, PointSet):
        points = PointSet.of(points)
    return points.xy, points.label.astype(np.int64), points.test
