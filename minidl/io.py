"""Model files: one ``.safetensors`` file, torch's state_dict names, architecture as JSON.

The weights are stored under the same keys ``state_dict()`` gives (``0.weight`` is (out, in)),
so ``torch.nn.Sequential(...).load_state_dict(safetensors.torch.load_file(path))`` loads them.
The metadata holds ``format = "minidl"``, a ``format_version`` and the architecture. No pickle is
ever read or written. Writes are atomic: a temporary file in the same folder, then a rename.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from . import nn
from .nn.module import Module

__all__ = ["save", "load", "ModelFileError", "atomic_write", "architecture", "build"]

FORMAT = "minidl"
FORMAT_VERSION = 1

# layer name -> class for every built-in layer (Sequential is handled by structure)
LAYERS: dict[str, type[Module]] = {
    name: cls
    for name in nn.__all__
    if isinstance(cls := getattr(nn, name), type)
    and issubclass(cls, Module)
    and name not in ("Module", "Sequential")
}


class ModelFileError(Exception):
    """A model file that cannot be read or written; the message names the file and the problem."""

    def __init__(self, path: str | os.PathLike, problem: str):
        super().__init__(f"{os.fspath(path)}: {problem}")
        self.path = os.fspath(path)
        self.problem = problem


_umask_lock = threading.Lock()


def _umask() -> int:
    """The process's umask (reading it means setting it: under a lock, put straight back)."""
    with _umask_lock:
        mask = os.umask(0o22)
        os.umask(mask)
    return mask


@contextmanager
def atomic_write(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``.

    If the body raises, the temporary file is removed and ``path`` is untouched, so a crash
    mid-save never leaves a half-written file. The file gets the permissions a plain ``open()``
    would give it (0666 less the umask), or keeps those of the file it replaces (mkstemp's
    temporary file is 0600, readable by its owner alone).
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=folder)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        try:
            mode = stat.S_IMODE(os.stat(target).st_mode)
        except OSError:  # a new file
            mode = 0o666 & ~_umask()
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def architecture(model: Module) -> dict[str, Any]:
    """The JSON-able description of a model built from minidl's layers."""
    if isinstance(model, nn.Sequential):
        return {
            "type": "Sequential",
            "layers": [{"name": name, **architecture(m)} for name, m in model.named_children()],
        }
    name = type(model).__name__
    if LAYERS.get(name) is not type(model):
        raise TypeError(
            f"cannot describe a {name} in a model file: only minidl's built-in layers inside "
            f"nn.Sequential can be saved (save model.state_dict() with safetensors instead)"
        )
    return {"type": name, "config": model.config()}


def build(arch: dict[str, Any]) -> Module:
    """Rebuild a model (with fresh weights) from ``architecture()``'s description."""
    if not isinstance(arch, dict) or "type" not in arch:
        raise ValueError(f"a layer description must be an object with a 'type', got {arch!r}")
    kind = arch["type"]
    if kind == "Sequential":
        layers = arch.get("layers")
        if not isinstance(layers, list):
            raise ValueError("a Sequential description needs a list of 'layers'")
        seq = nn.Sequential()
        for i, layer in enumerate(layers):
            name = layer.get("name", str(i)) if isinstance(layer, dict) else str(i)
            seq.add_module(str(name), build(layer))
        return seq
    cls = LAYERS.get(kind)
    if cls is None:
        raise ValueError(f"unknown layer type {kind!r} (known: {', '.join(sorted(LAYERS))})")
    config = arch.get("config", {})
    if not isinstance(config, dict):
        raise ValueError(f"the config of a {kind} must be an object, got {config!r}")
    try:
        return cls(**config)
    except TypeError as e:
        raise ValueError(f"bad config for {kind}: {e}") from None


def save(model: Module, path: str | os.PathLike, metadata: dict[str, str] | None = None) -> None:
    """Write the model's weights and architecture to one ``.safetensors`` file, atomically.

    ``metadata`` adds string entries (e.g. what the inputs mean) to the file's metadata.
    """
    from safetensors.torch import save_file

    arch = architecture(model)
    tensors = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    meta = {
        **(metadata or {}),
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "architecture": json.dumps(arch),
        "dtype": str(next(iter(tensors.values())).dtype) if tensors else "none",
    }
    try:
        with atomic_write(path) as tmp:
            save_file(tensors, str(tmp), metadata=meta)
    except OSError as e:
        raise ModelFileError(path, f"cannot write the file ({e.strerror or e})") from None


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The metadata of a minidl model file (checked as ``load`` checks it)."""
    return _open(path)[0]


def load(path: str | os.PathLike) -> Module:
    """Read a model written by ``save``: the same architecture, the same weights."""
    meta, tensors = _open(path)
    try:
        arch = json.loads(meta["architecture"])
        model = build(arch)
    except (ValueError, KeyError, TypeError) as e:
        raise ModelFileError(path, f"its architecture description is invalid ({e})") from None
    if tensors:
        dtype = next(iter(tensors.values())).dtype
        if dtype.is_floating_point:
            model.to(dtype)
    try:
        model.load_state_dict(tensors, strict=True)
    except KeyError as e:
        raise ModelFileError(
            path, f"its weights do not fit its architecture ({e.args[0]})"
        ) from None
    return model


def _open(path: str | os.PathLike) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    from safetensors import SafetensorError, safe_open

    p = Path(path)
    if not p.exists():
        raise ModelFileError(path, "no such file")
    if p.is_dir():
        raise ModelFileError(path, "is a folder, not a model file")
    try:
        size = p.stat().st_size
        with open(p, "rb") as f:
            head = f.read(8)
    except OSError as e:
        raise ModelFileError(path, f"cannot read the file ({e.strerror or e})") from None
    if size == 0:
        raise ModelFileError(path, "the file is empty")
    if head[:1] == b"\x80" or head[:2] == b"PK":
        raise ModelFileError(
            path,
            "this looks like a pickle or torch.save() file; minidl reads only .safetensors "
            "model files (pickles can run code, so they are never loaded)",
        )
    try:
        with safe_open(str(p), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open API
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        detail = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ModelFileError(
            path, f"not a valid safetensors file (truncated or corrupt?): {detail}"
        ) from None
    if meta.get("format") != FORMAT or "architecture" not in meta:
        raise ModelFileError(
            path,
            "a safetensors file, but not a minidl model (its metadata has no minidl "
            "architecture); read its tensors with safetensors.torch.load_file",
        )
    version = meta.get("format_version", "")
    if not version.isdigit() or int(version) > FORMAT_VERSION:
        raise ModelFileError(
            path,
            f"written in model-file format version {version!r}, newer than this minidl "
            f"reads (version {FORMAT_VERSION}); update minidl",
        )
    return meta, tensors
