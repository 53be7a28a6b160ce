"""Your points as CSV: read a file of (x1, x2, label[, split]) rows, write the current points.

No Qt, no torch. ``read_points_csv`` checks every row before it returns anything: a bad row
raises ``PointsFileError`` naming the line and the problem, so an import is all or nothing.
``read_points_file`` reads a file (a regular file of at most MAX_FILE_BYTES, never a pipe or a
device) and raises ``PointsFileError`` naming the file too, whatever is wrong.
A header line is optional; the fourth column (``train`` or ``test``) is optional too. Rows
without one are split like generated data: ``test_fraction`` of them, chosen with the data seed,
become test points (at least one training point is always kept).
"""

from __future__ import annotations

import csv
import io
import math
import os
import random
from collections.abc import Iterable

from .experiment import MAX_ADDED_POINTS, MAX_COORDINATE, DataPoint
from .files import FileReadError, read_text

__all__ = ["HEADER", "PointsFileError", "points_to_csv", "read_points_csv", "read_points_file"]

HEADER = ("x1", "x2", "label", "split")
MAX_REPORTED = 5
"""A file with many bad rows gets this many named in the message, then a count of the rest."""
MAX_COUNTED = 1000
"""Bad rows are counted up to this many; reading stops there (the file is refused anyway)."""
MAX_LINES = MAX_ADDED_POINTS + 1000
"""A points file may have this many lines: a row per point, a header, comments, blank lines."""
MAX_FILE_BYTES = 16 * 2**20
"""Points files larger than this are refused before they are read (800 bytes a point)."""


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


def _label(text: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"the label is {_shorten(text)!r}, not 0 or 1") from None
    if value not in (0.0, 1.0):
        raise ValueError(f"the label is {_shorten(text)}; it must be 0 or 1")
    return int(value)


def _is_header(fields: list[str]) -> bool:
    try:
        float(fields[0])
    except ValueError:
        return True
    return False


def read_points_file(
    path: str | os.PathLike, *, test_fraction: float = 0.5, seed: int = 0
) -> list[DataPoint]:
    """Read a points file (see ``read_points_csv``); raises PointsFileError naming the file."""
    text = read_text(path, MAX_FILE_BYTES, PointsFileError)
    try:
        return read_points_csv(text, test_fraction=test_fraction, seed=seed)
    except PointsFileError as e:
        raise PointsFileError(path, e.problem) from None


def read_points_csv(text: str, *, test_fraction: float = 0.5, seed: int = 0) -> list[DataPoint]:
    """Parse a points file; raises PointsFileError (naming lines) unless every row is good."""
    lines = max(text.count("\n"), text.count("\r")) + 1
    if lines > MAX_LINES:
        raise PointsFileError(
            None,
            f"the file has {lines:,} lines; a points file has at most {MAX_ADDED_POINTS:,} "
            "points\nNothing was imported.",
        )
    problems: list[str] = []
    rows: list[tuple[float, float, int, bool | None]] = []
    width: int | None = None
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
            if names not in (list(HEADER[:3]), list(HEADER)):
                problems.append(
                    f"line {number}: the header {_shorten(', '.join(fields))} is not "
                    "x1, x2, label (and optionally split)"
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
            label = _label(fields[2])
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
        rows.append((x1, x2, label, split))
        if len(rows) > MAX_ADDED_POINTS:
            problems.append(f"more than {MAX_ADDED_POINTS:,} points; the limit is that many")
            break
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
    undecided = [i for i, row in enumerate(rows) if row[3] is None]
    test = set(_split(undecided, test_fraction, seed))
    return [
        DataPoint(x1, x2, label, split if split is not None else i in test)
        for i, (x1, x2, label, split) in enumerate(rows)
    ]


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


def _split(indices: list[int], test_fraction: float, seed: int) -> list[int]:
    """Which of ``indices`` become test points: a seeded shuffle, halves rounding up."""
    n = len(indices)
    n_test = min(math.floor(test_fraction * n + 0.5), n - 1) if n else 0
    shuffled = list(indices)
    random.Random(seed).shuffle(shuffled)
    return shuffled[:n_test]


def points_to_csv(rows: Iterable[tuple[float, float, int, bool]]) -> str:
    """CSV text with a header and one (x1, x2, label, split) row per point."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for x1, x2, label, test in rows:
        writer.writerow([_text(x1), _text(x2), int(label), "test" if test else "train"])
    return out.getvalue()


def _text(value: float) -> str:
    # numpy scalars print their shortest round-trip form (float32 0.3 as "0.3", not
    # "0.30000001192092896"); plain floats need repr for that
    return repr(value) if type(value) is float else str(value)
