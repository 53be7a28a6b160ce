"""Every file the app writes goes through here: text and pictures, written atomically.

A temporary file in the destination's folder is written and then renamed over the destination
(``minidl.io.atomic_write``), so a crash or a full disk mid-save leaves the old file as it was.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["save_picture", "write_text"]


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically; raises OSError, the old file intact."""
    from minidl.io import atomic_write  # torch comes with minidl: load it only when saving

    with atomic_write(path, suffix=Path(path).suffix or ".tmp") as tmp:
        tmp.write_text(text, encoding="utf-8")


def save_picture(picture: Any, path: str | os.PathLike) -> None:
    """Save a QPixmap or QImage as PNG at ``path`` atomically; raises OSError on failure."""
    from minidl.io import atomic_write

    with atomic_write(path, suffix=".png") as tmp:
        if not picture.save(str(tmp), "PNG"):
            raise OSError(f"could not write a PNG image to {path}")
