"""Your points as CSV: read a file of (x1, x2, label[, split]) rows, write the current points.

The label is a class, a whole number 0 to 9 (MAX_CLASSES - 1), or a real-valued target for a
regression: a header ``x1,x2,target`` says so, and without one a label that is not a whole
number 0 to 9 makes the file a regression's (``is_regression`` tells which).

No Qt, no torch. ``read_points_csv`` checks every row before it returns anything: a bad row
raises ``PointsFileError`` naming the line and the problem, so an import is all or nothing.
``read_points_file`` reads a file (a regular file of at most MAX_FILE_BYTES, never a pipe or a
device) and raises ``PointsFileError`` naming the file too, whatever is wrong.
A header line is optional; the fourth column (``train`` or ``test``) is optional too. Rows
without one are split like generated data: ``test_fraction`` of them, chosen with the data seed,
become test points (at least one training point is always kept).

Up to a million rows (MAX_ADDED_POINTS), read two ways that agree on every file: a plain file
(ASCII, one width, no quotes, no comments after the header) is parsed whole by numpy's C
reader (``numpy.loadtxt`` on the buffer) and checked with vectorised tests; anything else, and
any file those tests refuse, is read line by line with the csv module, which names the bad
lines. The points come back as a ``PointSet`` (18 bytes a point, 26 with real targets).
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import os
import warnings
from collections.abc import Iterable

import numpy as np

from .experiment import MAX_ADDED_POINTS, MAX_CLASSES, MAX_COORDINATE, MAX_TARGET, DataPoint
from .files import FileReadError, decode_text, read_bytes
from .pointset import PointSet

__all__ = [
    "HEADER",
    "PointsFileError",
    "is_regression",
    "points_to_csv",
    "read_points_bytes",
    "read_points_csv",
    "read_points_file",
]

HEADER = ("x1", "x2", "label", "split")
TARGET = "target"
"""The third column's name in a regression's file (``x1,x2,target[,split]``)."""
MAX_REPORTED = 5
"""A file with many bad rows gets this many named in the message, then a count of the rest."""
MAX_COUNTED = 1000
"""Bad rows are counted up to this many; reading stops there (the file is refused anyway)."""
MAX_LINES = MAX_ADDED_POINTS + 1000
"""A points file may have this many lines: a row per point, a header, comments, blank lines."""
MAX_FILE_BYTES = 96 * 2**20
"""Points files larger than this are refused before they are read: ~96 bytes a point at the
limit of points, room for two 17-digit numbers, a label and a split on each line (~45 bytes)."""


class PointsFileError(FileReadError):
    """A points file that cannot be imported: ``problem`` names the line(s) and what is wrong,
    ``path`` the file (None for text); nothing was imported."""


def _number(text: str, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{column} is {_shorten(text)!r}, not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{column} is {_shorten(text)}, not a finite number")
    if abs(value) > MAX_COORDINATE:
        raise ValueError(
            f"{column} = {_shorten(text)} is too large (the limit is +-{MAX_COORDINATE:g})"
        )
    return value


def _label(text: str, target: bool) -> int | float:
    """A class (int) or, with ``target``, a regression's target (float)."""
    classes = f"a class 0 to {MAX_CLASSES - 1}"
    try:
        value = float(text)
    except ValueError:
        raise ValueError(
            f"the {'target' if target else 'label'} is {_shorten(text)!r}, not "
            f"{'a number' if target else classes}"
        ) from None
    if target:
        if not math.isfinite(value) or abs(value) > MAX_TARGET:
            raise ValueError(
                f"the target is {_shorten(text)}; it must be a finite number within "
                f"+-{MAX_TARGET:g}"
            )
        return value
    if not (value.is_integer() and 0 <= value < MAX_CLASSES):
        raise ValueError(
            f"the label is {_shorten(text)}; it must be {classes} (or name the column "
            f"'{TARGET}' for a regression's real-valued targets)"
        )
    return int(value)


def _is_class(text: str) -> bool:
    try:
        value = float(text)
    except ValueError:
        return True  # not a number at all: reported as a bad label
    return value.is_integer() and 0 <= value < MAX_CLASSES


def is_regression(points: Iterable[DataPoint] | PointSet) -> bool:
    """Whether read points carry real-valued targets (floats) rather than classes (ints)."""
    if isinstance(points, PointSet):
        return points.regression
    return any(isinstance(p.label, float) for p in points)


def _is_header(fields: list[str]) -> bool:
    try:
        float(fields[0])
    except ValueError:
        return True
    return False


def read_points_file(
    path: str | os.PathLike, *, test_fraction: float = 0.5, seed: int = 0
) -> PointSet:
    """Read a points file (see ``read_points_csv``); raises PointsFileError naming the file."""
    data = read_bytes(path, MAX_FILE_BYTES, PointsFileError)
    return read_points_bytes(data, path, test_fraction=test_fraction, seed=seed)


def read_points_bytes(
    data: bytes,
    path: str | os.PathLike | None = None,
    *,
    test_fraction: float = 0.5,
    seed: int = 0,
) -> PointSet:
    """Parse a points file's bytes (see ``read_points_csv``); a PointsFileError names ``path``."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        if data.isascii():  # UTF-8 text as it is: the vectorised reader's fast path
            plain = _read_plain(data, test_fraction, seed)
            if plain is not None:
                return plain
        text = decode_text(path, data, PointsFileError)
        return read_points_csv(text, test_fraction=test_fraction, seed=seed, plain=False)
    except PointsFileError as e:
        raise PointsFileError(path, e.problem) from None


def read_points_csv(
    text: str, *, test_fraction: float = 0.5, seed: int = 0, plain: bool = True
) -> PointSet:
    """Parse a points file's text; raises PointsFileError (naming lines) unless every row is
    good. Plain files are parsed whole (see the module's docstring), others line by line
    (all of them with ``plain=False``)."""
    if plain and text.isascii():
        points = _read_plain(text.encode("ascii"), test_fraction, seed)
        if points is not None:
            return points
    lines = max(text.count("\n"), text.count("\r")) + 1
    if lines > MAX_LINES:  # the line-by-line reader's time stays bounded
        raise PointsFileError(
            None,
            f"the file has {lines:,} lines; a points file has at most {MAX_ADDED_POINTS:,} "
            "points\nNothing was imported.",
        )
    return _read_lines(text, test_fraction, seed)


def _too_many() -> PointsFileError:
    return PointsFileError(
        None,
        f"more than {MAX_ADDED_POINTS:,} points; the limit is that many\nNothing was imported.",
    )


# a split field as 8 bytes in one uint64, lower-cased by | 0x20 (which also turns the NUL
# padding into spaces: the other reader strips spaces, so "train " is train there too)
_LOWER = np.uint64(0x2020202020202020)
_TRAIN, _TEST, _BLANK = (np.frombuffer(w.ljust(8), np.uint64)[0] for w in (b"train", b"test", b""))


def _read_plain(data: bytes, test_fraction: float, seed: int) -> PointSet | None:
    """The points of a plain file, parsed whole by numpy's C reader; None when the file is
    not plain or any row is bad (the line-by-line reader then says which)."""
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
    start = 0
    while start < len(data):  # comments and blank lines before the first row or the header
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        line = data[start:end].strip()
        if line and not line.startswith(b"#"):
            break
        start = end + 1
    end = data.find(b"\n", start)
    first = data[start : len(data) if end < 0 else end]
    fields = [f.strip().decode() for f in first.split(b",")]
    body, width = start, len(fields)
    target: bool | None = None  # from the header; None: decided by the labels
    if _is_header(fields):
        names = [f.lower() for f in fields]
        target = len(names) >= 3 and names[2] == TARGET
        if target:
            names[2] = HEADER[2]
        if names not in (list(HEADER[:3]), list(HEADER)):
            return None
        body = start + len(first) + 1
    # what the line-by-line reader reads otherwise: quotes, comments, NULs, old Mac line ends
    if width not in (3, 4) or any(data.find(c, start) >= 0 for c in (b'"', b"#", b"\0", b"\r")):
        return None
    columns = [("xy", "f8", (2,)), ("label", "f8"), ("split", "S8")][: width - 1]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "input contained no data": the other reader says it
            table = np.loadtxt(
                io.BytesIO(data),
                delimiter=",",
                comments=None,  # no '#' (checked): the reader need not look for them
                quotechar=None,
                dtype=columns,
                skiprows=data.count(b"\n", 0, body),
                max_rows=MAX_ADDED_POINTS + 1,
                ndmin=1,
            )
    except ValueError:  # a row of another width, a value that is no number
        return None
    if not len(table):
        return None
    if len(table) > MAX_ADDED_POINTS:
        raise _too_many()
    label = table["label"]
    classes = (label >= 0) & (label < MAX_CLASSES) & (label % 1 == 0)  # NaN fails each
    if target is None:  # no header: any label that is no class makes them all targets
        target = not classes.all()
    good = (np.abs(label) <= MAX_TARGET).all() if target else classes.all()
    if not good:  # the line-by-line reader names the bad line
        return None
    split = np.full(len(table), -1, dtype=np.int8)
    if width == 4:
        words = table["split"].copy().view(np.uint64) | _LOWER
        train, test = words == _TRAIN, words == _TEST
        split[train], split[test] = 0, 1
        if not (train | test | (words == _BLANK)).all():
            return None
    try:
        return _with_split(table["xy"], label, split, test_fraction, seed, regression=target)
    except ValueError:  # a coordinate not finite or too large
        return None


def _with_split(
    xy: np.ndarray,
    label: np.ndarray,
    split: np.ndarray,
    test_fraction: float,
    seed: int,
    *,
    regression: bool,
) -> PointSet:
    """The PointSet of rows whose split is 1 (test), 0 (train) or -1 (drawn with the seed):
    classes, or a regression's targets with ``regression``."""
    test = split == 1
    undecided = np.flatnonzero(split == -1)
    test[_split(undecided, test_fraction, seed)] = True
    return PointSet(xy, label, test, regression=regression)


def _read_lines(text: str, test_fraction: float, seed: int) -> PointSet:
    """The line-by-line reader: every file, every message."""
    problems: list[str] = []
    rows: list[tuple[float, float, str, bool | None, int]] = []
    width: int | None = None
    target: bool | None = None  # from the header; None: decided by the labels
    seen_data = False
    reader = csv.reader(io.StringIO(text, newline=None))
    while len(problems) < MAX_COUNTED:
        number = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as e:  # a NUL byte, a field over csv's limit, an open quote
            problems.append(f"line {number}: {_csv_problem(e)}")
            break
        fields = [f.strip() for f in fields]
        if not fields or all(not f for f in fields) or fields[0].startswith("#"):
            continue
        if not seen_data and width is None and _is_header(fields):
            names = [f.lower() for f in fields]
            target = len(names) >= 3 and names[2] == TARGET
            if target:
                names[2] = HEADER[2]
            if names not in (list(HEADER[:3]), list(HEADER)):
                problems.append(
                    f"line {number}: the header {_shorten(', '.join(fields))} is not "
                    f"x1, x2, label (or {TARGET}) and optionally split"
                )
                break
            width = len(names)
            continue
        seen_data = True
        if len(fields) not in (3, 4) or (width is not None and len(fields) != width):
            expected = f"{width}" if width is not None else "3 or 4"
            problems.append(
                f"line {number}: {len(fields)} values, expected {expected} (x1, x2, label"
                f"{', split' if width != 3 else ''})"
            )
            continue
        try:
            x1 = _number(fields[0], "x1")
            x2 = _number(fields[1], "x2")
            split: bool | None = None
            if len(fields) == 4 and fields[3]:
                if fields[3].lower() not in ("train", "test"):
                    raise ValueError(
                        f"the split is {_shorten(fields[3])!r}; it must be train or test"
                    )
                split = fields[3].lower() == "test"
        except ValueError as e:
            problems.append(f"line {number}: {e}")
            continue
        rows.append((x1, x2, fields[2], split, number))
        if len(rows) > MAX_ADDED_POINTS:
            problems.append(f"more than {MAX_ADDED_POINTS:,} points; the limit is that many")
            break
    if target is None:  # no header: any label that is no class makes them all targets
        target = not all(_is_class(row[2]) for row in rows)
    labels: list[int | float] = []
    for _, _, text, _, number in rows:
        if len(problems) >= MAX_COUNTED:
            break
        try:
            labels.append(_label(text, target))
        except ValueError as e:
            problems.append(f"line {number}: {e}")
    if problems:
        shown = problems[:MAX_REPORTED]
        more = len(problems) - len(shown)
        counted = " (counting stopped there)" if len(problems) >= MAX_COUNTED else ""
        raise PointsFileError(
            None,
            "\n".join(shown)
            + (f"\n… and {more} more bad row(s){counted}" if more else "")
            + "\nNothing was imported.",
        )
    if not rows:
        raise PointsFileError(None, "the file has no points (expected rows of x1, x2, label)")
    x1, x2, _, split, _ = zip(*rows, strict=True)
    codes = np.array([-1 if s is None else int(s) for s in split], dtype=np.int8)
    xy = np.column_stack([x1, x2])
    return _with_split(xy, np.array(labels), codes, test_fraction, seed, regression=target)


def _csv_problem(error: csv.Error) -> str:
    text = str(error)
    if "field larger than field limit" in text:
        return "a value is too long to be a number"
    if "NUL" in text:
        return "the line holds a NUL byte: is this a text file?"
    return f"not CSV ({text})"


def _shorten(text: str, limit: int = 40) -> str:
    """A value for a message, cut to ``limit`` characters (a bad file's values can be huge)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _split(indices: np.ndarray, test_fraction: float, seed: int) -> np.ndarray:
    """Which of ``indices`` become test points: a seeded shuffle, halves rounding up."""
    n = len(indices)
    n_test = min(math.floor(test_fraction * n + 0.5), n - 1) if n else 0
    return indices[np.random.default_rng(seed).permutation(n)[:n_test]]


def points_to_csv(
    rows: Iterable[tuple[float, float, int | float, bool]], *, regression: bool = False
) -> str:
    """CSV text with a header and one (x1, x2, label, split) row per point; a regression's
    file has a ``target`` column of real values instead of the label."""
    # numbers and the two split words never need csv's quoting: a join is csv's output, faster
    lines = [",".join((*HEADER[:2], TARGET if regression else HEADER[2], HEADER[3]))]
    value = _text if regression else int
    lines += [
        f"{_text(x1)},{_text(x2)},{value(label)},{'test' if test else 'train'}"
        for x1, x2, label, test in rows
    ]
    return "\n".join(lines) + "\n"


def _text(value: float) -> str:
    # numpy scalars print their shortest round-trip form (float32 0.3 as "0.3", not
    # "0.30000001192092896"); plain floats need repr for that
    return repr(value) if type(value) is float else str(value)
