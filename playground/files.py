"""Every file the app writes goes through here: text and pictures, written atomically.

A temporary file in the destination's folder is written and then renamed over the destination
(``minidl.io.atomic_write``), so a crash or a full disk mid-save leaves the old file as it was.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["MODEL_FORMATS", "model_filter", "model_path", "save_picture", "write_text"]

# the model files File > Export Model… and --export write, by suffix (Session.save_model)
MODEL_FORMATS: dict[str, str] = {
    ".safetensors": "minidl model",
    ".onnx": "ONNX model",
    ".py": "PyTorch code",
}


def model_filter() -> str:
    """The file-dialog filter of the model formats, one entry each, in MODEL_FORMATS' order."""
    return ";;".join(_filters())


def _filters() -> list[str]:
    return [f"{name} (*{suffix})" for suffix, name in MODEL_FORMATS.items()]


def model_path(path: str, chosen_filter: str = "") -> str:
    """The file a model export writes: ``path`` if it names a model format, else ``path`` with
    the suffix of the dialog's chosen filter (minidl's .safetensors if none)."""
    if Path(path).suffix.lower() in MODEL_FORMATS:
        return path
    suffixes = dict(zip(_filters(), MODEL_FORMATS, strict=True))
    return path + suffixes.get(chosen_filter, ".safetensors")


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
