"""The model files the app exports, by suffix: minidl's .safetensors, ONNX, PyTorch code.

File > Export Model… offers them as the dialog's filters and ``--export`` accepts their
suffixes; ``Session.save_model`` writes the format a path's suffix names. No Qt, no torch here:
the command line checks ``--export`` before either is loaded.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["MODEL_FORMATS", "model_filter", "model_path"]

MODEL_FORMATS: dict[str, str] = {
    ".safetensors": "minidl model",
    ".onnx": "ONNX model",
    ".py": "PyTorch code",
}


def _filters() -> list[str]:
    return [f"{name} (*{suffix})" for suffix, name in MODEL_FORMATS.items()]


def model_filter() -> str:
    """The file-dialog filter of the model formats, one entry each, in MODEL_FORMATS' order."""
    return ";;".join(_filters())


def model_path(path: str, chosen_filter: str = "") -> str:
    """The file a model export writes: ``path`` if it names a model format, else ``path`` with
    the suffix of the dialog's chosen filter (minidl's .safetensors if none)."""
    if Path(path).suffix.lower() in MODEL_FORMATS:
        return path
    suffixes = dict(zip(_filters(), MODEL_FORMATS, strict=True))
    return path + suffixes.get(chosen_filter, ".safetensors")
