"""Every file the app reads and writes: read with bounds, written atomically.

A temporary file in the destination's folder is written and then renamed over the destination
(``minidl.io.atomic_write``), so a crash or a full disk mid-save leaves the old file as it was.
Reading (``read_text``) opens regular files only, never a named pipe (which would block) or a
device (``/dev/zero`` reads forever), checks the size first and reads no more than the limit;
every failure is a ``FileReadError`` naming the file and the problem.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "FileReadError",
    "decode_text",
    "read_bytes",
    "read_text",
    "save_picture",
    "write_bytes",
    "write_text",
]


class FileReadError(ValueError):
    """A file the app cannot read or use: ``path`` (None for text not from a file) and
    ``problem``, a sentence; ``str()`` is "path: problem"."""

    def __init__(self, path: str | os.PathLike | None, problem: str) -> None:
        self.path = os.fspath(path) if path is not None else None
        self.problem = problem
        super().__init__(problem if path is None else f"{self.path}: {problem}")


E = TypeVar("E", bound=FileReadError)


def read_text(path: str | os.PathLike, max_bytes: int, error: type[E] = FileReadError) -> str:
    """A regular file's text (UTF-8, a BOM allowed) of at most ``max_bytes`` bytes.

    Raises ``error(path, problem)`` for a missing file, a folder, a pipe or a device, a file
    over the limit, one that cannot be read or is not UTF-8 text. (minidl.io reads model files
    the same way; it cannot import this module.)
    """
    return decode_text(path, read_bytes(path, max_bytes, error), error)


def read_bytes(path: str | os.PathLike, max_bytes: int, error: type[E] = FileReadError) -> bytes:
    """A regular file's bytes, at most ``max_bytes`` of them; raises as ``read_text`` does."""
    kind, data, size = None, b"", 0
    try:
        kind = _kind_of(os.stat(path).st_mode)
        if kind is None:
            # O_NONBLOCK: if a pipe was swapped in after the stat, open() must not wait on it
            flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
            with open(os.open(path, flags), "rb") as f:
                info = os.fstat(f.fileno())
                kind, size = _kind_of(info.st_mode), info.st_size
                if kind is None and size <= max_bytes:
                    data = f.read(max_bytes + 1)
    except FileNotFoundError:
        raise error(path, "no such file") from None
    except (OSError, ValueError) as e:  # ValueError: a NUL in the name
        problem = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise error(path, f"cannot read the file ({problem})") from None
    if kind is not None:
        raise error(path, f"is {kind}, not a file the playground reads")
    if size > max_bytes or len(data) > max_bytes:
        raise error(path, f"the file is over {_megabytes(max_bytes)}, the limit for this file")
    return data


def decode_text(path: str | os.PathLike | None, data: bytes, error: type[E] = FileReadError) -> str:
    """``data`` as UTF-8 text (a BOM dropped); raises ``error(path, problem)`` if it is not."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise error(path, f"not a text file (byte {e.start:,} is not UTF-8)") from None


def _kind_of(mode: int) -> str | None:
    """What a file that is not a regular file is ("a folder", "a named pipe"...), or None."""
    if stat.S_ISREG(mode):
        return None
    kinds = [
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISCHR, "a device"),
        (stat.S_ISBLK, "a device"),
        (stat.S_ISSOCK, "a socket"),
    ]
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def _megabytes(n: int) -> str:
    return f"{n / 2**20:g} MB"


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically; raises OSError, the old file intact."""
    from minidl.io import atomic_write  # torch comes with minidl: load it only when saving

    with atomic_write(path, suffix=Path(path).suffix or ".tmp") as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically; raises OSError, the old file intact."""
    from minidl.io import atomic_write

    with atomic_write(path, suffix=Path(path).suffix or ".tmp") as tmp:
        tmp.write_bytes(data)


def save_picture(picture: Any, path: str | os.PathLike) -> None:
    """Save a QPixmap or QImage as PNG at ``path`` atomically; raises OSError on failure."""
    from minidl.io import atomic_write

    with atomic_write(path, suffix=".png") as tmp:
        if not picture.save(str(tmp), "PNG"):
            raise OSError(f"could not write a PNG image to {path}")
