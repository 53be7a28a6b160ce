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

Up to a million rows (MAX_ADDED_POINTS), read in ways that agree on every file: a plain file
(ASCII, one width, no quotes, no comments after the header) is parsed whole, vectorised: as
decimals (``_read_decimal``: each number an integer over a power of ten, exactly rounded; rows
that all look alike the quickest), else by numpy's C reader (``numpy.loadtxt`` on the buffer),
and checked with vectorised tests; anything else, and any file those tests refuse, is read
line by line with the csv module, which names the bad lines. The points come back as a
``PointSet`` (18 bytes a point, 26 with real targets).
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import os
import sys
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
    numbers = _read_decimal(data, body, width) or _read_loadtxt(data, body, width)
    if numbers is None:
        return None
    xy, label, split = numbers
    if len(label) > MAX_ADDED_POINTS:
        raise _too_many()
    classes = (label >= 0) & (label < MAX_CLASSES) & (np.trunc(label) == label)  # NaN fails
    if target is None:  # no header: any label that is no class makes them all targets
        target = not classes.all()
    good = (np.abs(label) <= MAX_TARGET).all() if target else classes.all()
    if not good:  # the line-by-line reader names the bad line
        return None
    try:
        return _with_split(xy, label, split, test_fraction, seed, regression=target)
    except ValueError:  # a coordinate not finite or too large
        return None


_Numbers = tuple[np.ndarray, np.ndarray, np.ndarray]
"""What a whole-buffer reader returns: xy (n, 2) and label (n,) float64, the split as int8
codes (1 test, 0 train, -1 none given)."""


def _read_loadtxt(data: bytes, body: int, width: int) -> _Numbers | None:
    """The rows from ``body`` on, parsed by ``numpy.loadtxt``; None if it refuses a row."""
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
    split = np.full(len(table), -1, dtype=np.int8)
    if width == 4:
        words = table["split"].copy().view(np.uint64) | _LOWER
        train, test = words == _TRAIN, words == _TEST
        split[train], split[test] = 0, 1
        if not (train | test | (words == _BLANK)).all():
            return None
    return table["xy"], table["label"], split


# -- the decimal reader: numbers as integers, then one exact division each ------------------------
#
# A decimal field such as -12.0625 is the integer -120625 (the field without its point) over
# 10**k (k = digits after the point). numpy parses integers fast (no float rounding to get
# right); the quotient in 80-bit long double (64-bit significand: the integer and 10**k, k <= 27,
# are exact) is rounded once to 64 bits and then to float64, which is the correctly rounded
# value (what float() gives) unless the 64-bit quotient lies exactly halfway between two
# float64s. Those rare fields, numbers with an exponent, and integers too long for int64 are
# read with float() itself.

_EXACT = (  # x86's 80-bit long double, 16 bytes: the significand in the first 8
    np.finfo(np.longdouble).nmant == 63
    and np.dtype(np.longdouble).itemsize == 16
    and sys.byteorder == "little"
)
_MAX_K = 27  # 10**27 = 5**27 * 2**27 with 5**27 < 2**63: exact in long double
_POW10 = np.ldexp(
    np.array([5**k for k in range(_MAX_K + 1)], dtype=np.uint64).astype(np.longdouble),
    np.arange(_MAX_K + 1),
)
_CHUNK = 1 << 20  # bytes parsed at a time: the temporaries stay a few MB
_TRAI, _TEST4 = (int(np.frombuffer(w, "<u4")[0]) for w in (b"trai", b"test"))
_WORDS = b"trainse"  # the letters of the split words (deleted before the integers are read)
_INT64_MAX = np.iinfo(np.int64).max


def _read_decimal(data: bytes, body: int, width: int) -> _Numbers | None:
    """The rows from ``body`` on, parsed as decimals (see above) chunk by chunk; None for
    anything but one row a line of plain decimals (and train/test), which numpy.loadtxt (or
    the line-by-line reader) reads instead."""
    if not _EXACT or body >= len(data):
        return None
    # the numbers go straight into arrays for the most rows there can be (a row has 6 bytes
    # at least): the pages never written take no memory, and no parts are joined at the end
    room = min(MAX_ADDED_POINTS, (len(data) - body) // 6 + 1)
    xy, label, split = np.empty((room, 2)), np.empty(room), np.empty(room, np.int8)
    rows = 0
    position = len(data) - 1 if data.endswith(b"\n") else len(data)
    end = position  # the last row's end (its newline or the end of the file)
    position = body
    while position < end:
        cut = end if end - position <= _CHUNK else data.rfind(b"\n", position, position + _CHUNK)
        if cut <= position:
            return None  # a line longer than a chunk (no number is that long)
        chunk = data[position : cut + 1] if cut < len(data) else data[position:] + b"\n"
        part = _regular_chunk(chunk, width) or _decimal_chunk(chunk, width)
        if part is None:
            return None
        n = len(part[1])
        if rows + n > room:
            return None  # more than MAX_ADDED_POINTS: the other reader says so
        xy[rows : rows + n], label[rows : rows + n], split[rows : rows + n] = part
        rows += n
        position = cut + 1
    if not rows:
        return None
    return xy[:rows], label[:rows], split[:rows]


def _regular_chunk(chunk: bytes, width: int) -> _Numbers | None:
    """A chunk whose rows all look alike (the same commas and points in the same order: a
    file a program wrote) as numbers; None otherwise (``_decimal_chunk`` then reads it)."""
    # numbers with an exponent (repr writes 1e-05): read with float(), their field made 0.0…0
    a = np.frombuffer(chunk, np.uint8)
    marks = np.flatnonzero(np.frombuffer(chunk.translate(_MARKS), bool))
    kinds = a[marks]
    e = (kinds == 101) | (kinds == 69)
    word = e & (a[marks - 1] == 116)  # the e of "test" (letters elsewhere are checked below)
    fixes: list[tuple[int, int, float]] = []  # (first byte, last byte + 1, value)
    exponents = marks[e & ~word].tolist()
    if exponents:
        copy = bytearray(chunk)
        for at in exponents:
            lo = max(chunk.rfind(b",", 0, at), chunk.rfind(b"\n", 0, at)) + 1
            hi = min(i for i in (chunk.find(b",", at), chunk.find(b"\n", at)) if i >= 0)
            if (fixes and fixes[-1][0] == lo) or hi - lo < 3:
                return None  # two e's in a field; "e5"
            try:
                fixes.append((lo, hi, float(chunk[lo:hi])))
            except ValueError:
                return None
            copy[lo:hi] = b"0." + b"0" * (hi - lo - 2)
        chunk = bytes(copy)
        a = np.frombuffer(chunk, np.uint8)
    marks = marks[~e]
    for lo, hi, _ in fixes:  # the field's marks are now its point alone
        i, j = np.searchsorted(marks, [lo, hi])
        marks = np.concatenate([marks[:i], [lo + 1], marks[j:]])
    kinds = a[marks]
    period = int(np.argmax(kinds == 10)) + 1  # the first row's marks, its newline last
    rows = len(marks) // period
    pattern = kinds[:period]
    if rows * period != len(marks) or np.count_nonzero(pattern == 44) != width - 1:
        return None
    if np.count_nonzero(pattern <= 32) != 1 or not (kinds.reshape(rows, period) == pattern).all():
        return None  # a space, a tab; a row unlike the first
    marks = marks.reshape(rows, period)
    ends = np.flatnonzero(pattern != 46)  # the commas and the newline: where fields end
    field_of_dot = np.searchsorted(ends, np.flatnonzero(pattern == 46))
    if len(set(field_of_dot.tolist())) != len(field_of_dot) or (field_of_dot > 2).any():
        return None  # two points in a field, a point in the split
    newlines = marks[:, -1]
    begin = np.empty((3, rows), np.int64)
    begin[0, 0], begin[0, 1:] = 0, newlines[:-1] + 1
    begin[1:] = marks[:, ends[:2]].T + 1
    end = marks[:, ends[:3]].T
    places = np.zeros((3, rows), np.int64)
    dots = np.flatnonzero(pattern == 46).tolist()
    for j, column in zip(field_of_dot.tolist(), dots, strict=True):
        places[j] = end[j] - marks[:, column] - 1
    lead = a[begin]
    length = end - begin
    # a digit in every field ("-", "+", ".", "-.", "" are none; fromstring reads "-" as 0):
    # the first or the last byte of those of 1 or 2 bytes (longer ones fail in fromstring)
    digit = ((lead >= 48) & (lead <= 57)) | (length > 2)
    last = a[end - 1]
    if not (digit | ((length == 2) & (last >= 48) & (last <= 57))).all():
        return None
    split, letters = np.full(rows, -1, dtype=np.int8), 0
    if width == 4:  # the split: train, test or nothing
        words = _split_words(a, end[2] + 1, newlines)
        if words is None:
            return None
        split, letters = words
    integers = _integers(chunk, width, rows, rows * len(field_of_dot), letters)
    if integers is None:
        return None
    numbers = _quotients(chunk, integers.T, places, begin, end, lead)
    if numbers is None:
        return None
    for lo, hi, value in fixes:
        row = int(np.searchsorted(newlines, lo))
        column = int(np.searchsorted(begin[:, row], lo, side="right")) - 1
        if column > 2 or end[column, row] != hi:
            return None  # an exponent in the split
        numbers[0 if column < 2 else 1][(row, column) if column < 2 else row] = value
    return (*numbers, split)


def _integers(chunk: bytes, width: int, rows: int, dots: int, letters: int) -> np.ndarray | None:
    """The (rows, 3) integers of x1, x2 and the label: the chunk without its ``dots`` points
    (and, with a split, the split words' ``letters`` and the newlines) read by numpy; None if
    any other byte was deleted (an exponent's e, nan) or numpy refuses the text."""
    if width == 4:
        text = chunk.translate(None, b"." + _WORDS + b"\n")
        gone = dots + rows + letters
    else:
        text = chunk.translate(_NEWLINE_COMMA, b".")
        gone = dots
    if len(chunk) - len(text) != gone:
        return None  # letters outside the split words
    try:
        integers = np.fromstring(text, dtype=np.int64, sep=",")
    except ValueError:
        return None
    return integers.reshape(rows, 3) if len(integers) == rows * 3 else None


def _split_words(
    a: np.ndarray, first: np.ndarray, end: np.ndarray
) -> tuple[np.ndarray, int] | None:
    """The split codes of the fields ``a[first:end]`` (train 0, test 1, empty -1) and how many
    letters they hold; None if one is anything else (TEST, " train": loadtxt's to read)."""
    # the four bytes from every offset as one little-endian uint32 (a view, no copy)
    quads = np.ndarray((max(0, len(a) - 3),), "<u4", a, strides=(1,))
    length = end - first
    start = np.minimum(first, len(quads) - 1)  # an empty split at the very end: not read
    word = quads[start]
    train = (length == 5) & (word == _TRAI) & (a[np.minimum(first + 4, len(a) - 1)] == 110)
    test = (length == 4) & (word == _TEST4)
    if not (train | test | (length == 0)).all():
        return None
    split = np.full(len(first), -1, dtype=np.int8)
    split[train], split[test] = 0, 1
    return split, 5 * int(np.count_nonzero(train)) + 4 * int(np.count_nonzero(test))


def _quotients(
    chunk: bytes,
    integers: np.ndarray,
    places: np.ndarray,
    begin: np.ndarray,
    end: np.ndarray,
    lead: np.ndarray,
) -> tuple[np.ndarray, np.ndarray] | None:
    """x1, x2 and the labels of (3, rows) integers over 10**places, correctly rounded, as
    ((rows, 2), (rows,)); fields the quotient cannot do are read with float()."""
    odd = (places > _MAX_K) | (integers == _INT64_MAX) | (integers == -_INT64_MAX - 1)
    n = 3  # the rows of integers that need the division
    if not places[2].any() and (np.abs(integers[2]) < 2**53).all():
        n = 2  # whole-number labels: float64 holds them as they are
    quotient = integers[:n].astype(np.longdouble) / _POW10[np.minimum(places[:n], _MAX_K)]
    values = np.empty(integers.shape)
    values[:n], values[n:] = quotient, integers[n:]
    # halfway between two float64s: the 11 bits of the 64-bit significand that float64 drops
    # are 10000000000 (x86's long double keeps the significand in its first 8 bytes)
    halfway = np.zeros(integers.shape, bool)
    halfway[:n] = _significand(quotient) & 0x7FF == 0x400
    values[(integers == 0) & (lead == 45)] = -0.0  # "-0.0" is -0.0, as float() says
    for j, row in zip(*np.nonzero(odd | halfway), strict=True):
        try:
            values[j, row] = float(chunk[begin[j, row] : end[j, row]])
        except ValueError:
            return None
    return values[:2].T, values[2]


def _decimal_chunk(chunk: bytes, width: int) -> _Numbers | None:
    """One chunk of whole lines (ending in a newline) as numbers; None if it is not plain."""
    a = np.frombuffer(chunk, np.uint8)
    # one pass finds what matters: newlines, commas, points, e's; and spaces (not plain)
    marks = np.flatnonzero(np.frombuffer(chunk.translate(_MARKS), bool))
    kinds = a[marks]
    if np.count_nonzero(kinds <= 32) != np.count_nonzero(kinds == 10):
        return None  # spaces, tabs, control characters
    newlines = marks[kinds == 10]
    rows = len(newlines)
    commas = marks[kinds == 44]
    if len(commas) != rows * (width - 1):
        return None
    commas = commas.reshape(rows, width - 1)
    starts = np.empty(rows, np.int64)
    starts[0], starts[1:] = 0, newlines[:-1] + 1
    if not ((commas[:, 0] >= starts) & (commas[:, -1] < newlines)).all():
        return None  # a row with more or fewer fields than the others
    # the fields of x1, x2, label: [begin, end)
    begin = np.column_stack([starts, commas[:, :2] + 1])
    end = np.column_stack([commas[:, :2], commas[:, 2] if width == 4 else newlines])
    split, letters = np.full(rows, -1, dtype=np.int8), 0
    if width == 4:  # the split: train, test or nothing
        words = _split_words(a, commas[:, 2] + 1, newlines)
        if words is None:
            return None
        split, letters = words
    # numbers with an exponent: read with float(); their field becomes 0.0…0 of its length
    exponents = marks[(kinds == 101) | (kinds == 69)]  # e, E
    if width == 4:  # not the e of a split word "test" (checked above: its e follows a t)
        exponents = exponents[a[exponents - 1] != 116]
    fixes: list[tuple[int, int, float]] = []
    if len(exponents):
        copy = bytearray(chunk)
        for at in exponents.tolist():
            row = int(np.searchsorted(newlines, at))
            column = int(np.searchsorted(commas[row], at))
            if column > 2 or (fixes and fixes[-1][:2] == (row, column)):
                return None  # two e's in a field, an e in the split (letters checked below)
            lo, hi = int(begin[row, column]), int(end[row, column])
            try:
                value = float(chunk[lo:hi])
            except ValueError:
                return None
            if hi - lo < 3:
                return None
            copy[lo:hi] = b"0." + b"0" * (hi - lo - 2)
            fixes.append((row, column, value))
        chunk = bytes(copy)
        a = np.frombuffer(chunk, np.uint8)
    dots = marks[kinds == 46]
    if fixes:  # a fixed field's points: the one of its 0.0…0
        fixed = [(int(begin[r, c]), int(end[r, c])) for r, c, _ in fixes]
        keep = np.ones(len(dots), bool)
        for lo, hi in fixed:
            keep[np.searchsorted(dots, lo) : np.searchsorted(dots, hi)] = False
        dots = np.sort(np.concatenate([dots[keep], [lo + 1 for lo, _ in fixed]]))
    # the points: the field each is in (fields are numbered row by row), one at most a field
    field = np.searchsorted(marks[(kinds == 44) | (kinds == 10)], dots)
    row, column = np.divmod(field, width)
    if (column > 2).any() or (np.bincount(field, minlength=1) > 1).any():
        return None
    places = np.zeros((rows, 3), np.int64)  # k: digits after the point
    places[row, column] = end[row, column] - dots - 1
    dotted = np.zeros((rows, 3), np.int64)
    dotted[row, column] = 1
    lead = a[begin]
    signed = (lead == 45) | (lead == 43)
    digits = end - begin - signed - dotted
    if not (digits >= 1).all():
        return None  # "-", ".", "": no number
    integers = _integers(chunk, width, rows, len(dots), letters)
    if integers is None:
        return None
    numbers = _quotients(chunk, integers.T, places.T, begin.T, end.T, lead.T)
    if numbers is None:
        return None
    xy, label = numbers
    for row, column, value in fixes:
        if column < 2:
            xy[row, column] = value
        else:
            label[row] = value
    return xy, label, split


_NEWLINE_COMMA = bytes.maketrans(b"\n", b",")
_MARKS = bytes(int(c <= 32 or c in b",.eE") for c in range(256))
_ROW_MARKS = bytes(int(c <= 32 or c in b",.") for c in range(256))
"""The same for _regular_chunk, without e and E (split words have e's)."""
"""A table for bytes.translate: 1 (True) for newlines, commas, points, e and E, and the bytes
that make a file not plain (spaces, control characters); 0 for all else."""


def _significand(values: np.ndarray) -> np.ndarray:
    """The 64-bit significands of an array of x86 long doubles (with their integer bit)."""
    return values.reshape(-1).view(np.uint64)[::2].reshape(values.shape)


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
