"""Model files: one ``.safetensors`` file, torch's state_dict names, architecture as JSON.

The weights are stored under the same keys ``state_dict()`` gives (``0.weight`` is (out, in)),
so ``torch.nn.Sequential(...).load_state_dict(safetensors.torch.load_file(path))`` loads them.
The metadata holds ``format = "minidl"``, a ``format_version`` and the architecture. No pickle is
ever read or written. Writes are atomic: a temporary file in the same folder, then a rename.

Reading trusts nothing in the file: only a regular file is opened (never a pipe or a device),
its size is checked before it is read and the read is bounded; the header is parsed and the
architecture checked against limits (layers, nesting, every integer setting) and built on
torch's ``meta`` device, which allocates nothing, so its parameters' names, shapes and dtype
are compared with the tensors actually in the file before any weight is allocated. Every
failure is a ``ModelFileError`` naming the file and the problem.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import re
import stat
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from . import nn
from .nn.module import Module

__all__ = [
    "MAX_FILE_BYTES",
    "ModelFileError",
    "architecture",
    "atomic_write",
    "build",
    "load",
    "read_metadata",
    "save",
]

FORMAT = "minidl"
FORMAT_VERSION = 1

MAX_FILE_BYTES = 256 * 2**20
"""Model files larger than this are refused before they are read (64 M float32 weights)."""
MAX_HEADER_BYTES = 16 * 2**20
"""A safetensors header (tensor table and metadata) larger than this is refused."""
MAX_LAYERS = 1024
"""Modules (Sequential containers included) one architecture may describe."""
MAX_DEPTH = 16
"""How deeply Sequentials may nest in an architecture."""
MAX_UNITS = 2**20
"""The largest integer setting a layer may have (features, channels, kernel sizes...)."""
DTYPES: dict[str, torch.dtype] = {"F32": torch.float32, "F64": torch.float64}
"""The weights' dtypes a model file may hold (safetensors' names), all tensors the same."""

LOSSES = frozenset(cls.__name__ for cls in nn.losses.LOSSES.values())
"""Loss modules: never part of a saved model (the loss is chosen when training)."""

# layer name -> class for every built-in layer a model file may name (Sequential is handled
# by structure; losses are not layers of a model)
LAYERS: dict[str, type[Module]] = {
    name: cls
    for name in nn.__all__
    if isinstance(cls := getattr(nn, name), type)
    and issubclass(cls, Module)
    and name not in ("Module", "Sequential")
    and name not in LOSSES
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
    """Rebuild a model (with fresh weights) from ``architecture()``'s description.

    Raises ValueError naming the layer and the problem: an unknown type or a loss, a setting
    the layer does not have or out of range, more than MAX_LAYERS modules, Sequentials nested
    deeper than MAX_DEPTH. Under ``with torch.device("meta")`` it allocates no weights.
    """
    return _build(arch, "", 0, [0])


_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")
_NOT_SETTINGS = ("self", "dtype", "generator")  # how a layer is made, not what it is


def _build(arch: Any, name: str, depth: int, count: list[int]) -> Module:
    where = f"layer {name}" if name else "the model"
    count[0] += 1
    if count[0] > MAX_LAYERS:
        raise ValueError(f"the model has more than {MAX_LAYERS} layers")
    if not isinstance(arch, dict) or not isinstance(arch.get("type"), str):
        raise ValueError(f"{where} must be an object with a 'type', got {_short(arch)}")
    kind = arch["type"]
    if kind == "Sequential":
        if depth >= MAX_DEPTH:
            raise ValueError(f"{where}: Sequentials nest more than {MAX_DEPTH} deep")
        layers = arch.get("layers")
        if not isinstance(layers, list):
            raise ValueError(f"{where}: a Sequential description needs a list of 'layers'")
        seq = nn.Sequential()
        for i, layer in enumerate(layers):
            child = layer.get("name", str(i)) if isinstance(layer, dict) else str(i)
            if not isinstance(child, str) or not _NAME.fullmatch(child):
                raise ValueError(
                    f"{where}: layer {i} is named {_short(child)}; a name is 1 to 64 letters, "
                    "digits or _"
                )
            if child in seq._modules:
                raise ValueError(f"{where}: two layers are named {child!r}")
            seq.add_module(
                child, _build(layer, f"{name}.{child}" if name else child, depth + 1, count)
            )
        return seq
    if kind in LOSSES:
        raise ValueError(
            f"{where} is a {kind}, a loss: a model file holds the model's layers, not the loss "
            "it was trained with"
        )
    cls = LAYERS.get(kind)
    if cls is None:
        raise ValueError(
            f"{where}: unknown layer type {_short(kind)} (known: {', '.join(sorted(LAYERS))})"
        )
    config = arch.get("config", {})
    if not isinstance(config, dict):
        raise ValueError(f"{where}: the config of a {kind} must be an object, got {_short(config)}")
    unknown = sorted(set(config) - _settings(cls))
    if unknown:
        raise ValueError(f"{where}: a {kind} has no setting {_short(unknown[0])}")
    problem = _settings_problem(config)
    if problem is None:
        try:
            module = cls(**config)
        except Exception as e:  # noqa: BLE001 - a layer's own argument checks, whatever they raise
            problem = str(e) or type(e).__name__
        else:
            problem = _settings_problem(module.config())  # e.g. float("nan") of a string
    if problem is not None:
        raise ValueError(f"{where}: bad config for {kind}: {problem}")
    return module


def _settings(cls: type[Module]) -> frozenset[str]:
    """The constructor arguments of a layer class that a model file may give."""
    params = inspect.signature(cls.__init__).parameters.values()
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return frozenset(p.name for p in params if p.kind in kinds and p.name not in _NOT_SETTINGS)


def _settings_problem(value: Any, depth: int = 0) -> str | None:
    """Why a layer's settings are out of bounds (numbers, text, short lists), or None."""
    if isinstance(value, dict) and depth == 0:
        for key, item in value.items():
            problem = _settings_problem(item, 1)
            if problem is not None:
                return f"{key} {problem}"
        return None
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return None if abs(value) <= MAX_UNITS else f"is {_short(value)}, over {MAX_UNITS:,}"
    if isinstance(value, float):
        return None if math.isfinite(value) else f"is {value}, not a finite number"
    if isinstance(value, str):
        return None if len(value) <= 64 else "is a text longer than 64 characters"
    if isinstance(value, list | tuple) and depth == 1 and len(value) <= 64:
        problems = (_settings_problem(item, 2) for item in value)
        return next((p for p in problems if p is not None), None)
    return f"is {_short(value)}, not a number, a text or a short list of them"


def _short(value: Any, limit: int = 60) -> str:
    """repr() cut to ``limit`` characters: a hostile file's values can be any size."""
    text = repr(value) if not isinstance(value, int) or abs(value) < 10**50 else "a huge integer"
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
    meta, _ = _header(path, _read_file(path))
    _architecture_of(path, meta)
    return meta


def load(path: str | os.PathLike, *, allow_nonfinite: bool = False) -> Module:
    """Read a model written by ``save``: the same architecture, the same weights.

    Anything else raises ModelFileError naming the file and the problem: not a regular file,
    over MAX_FILE_BYTES, not safetensors, not minidl's, an architecture out of limits or made
    of other than layers, tensors whose names, shapes or dtype differ from the architecture's,
    and NaN or infinite weights unless ``allow_nonfinite``.
    """
    data = _read_file(path)
    meta, table = _header(path, data)
    arch = _architecture_of(path, meta)
    try:
        with torch.device("meta"):  # the architecture's parameter shapes, nothing allocated
            skeleton = build(arch)
    except ValueError as e:
        raise ModelFileError(path, f"its architecture description is invalid ({e})") from None
    dtype = _check_tensors(path, skeleton, table, meta)
    tensors = _decode(path, data)
    del data
    if not allow_nonfinite:
        for name, tensor in tensors.items():
            bad = tensor.numel() - int(torch.isfinite(tensor).sum())
            if bad:
                raise ModelFileError(
                    path,
                    f"the weight {name} holds {bad:,} NaN or infinite value(s) (saved from a "
                    "diverged run?); minidl.load(path, allow_nonfinite=True) reads it anyway",
                )
    model = build(arch)  # the same shapes as the file's tensors: no larger than the file
    model.to(dtype)
    model.load_state_dict(tensors, strict=True)
    return model


@dataclass(frozen=True)
class _TensorEntry:
    """One tensor in a safetensors header: its dtype name ("F32") and shape."""

    dtype: str
    shape: tuple[int, ...]


_ITEM_BYTES = {
    "F64": 8,
    "F32": 4,
    "F16": 2,
    "BF16": 2,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U8": 1,
    "BOOL": 1,
}


def _read_file(path: str | os.PathLike) -> bytes:
    """The bytes of a regular file of at most MAX_FILE_BYTES, read with that bound.

    The file is looked at before it is opened (a named pipe would block open() and read(), a
    device would read forever) and again once open, in case it was swapped in between.
    playground/files.py reads text files the same way (it cannot import minidl: torch).
    """
    try:
        kind = _kind_of(os.stat(path).st_mode)
        if kind is None:
            flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
            with open(os.open(path, flags), "rb") as f:
                info = os.fstat(f.fileno())
                kind = _kind_of(info.st_mode)
                if kind is None and info.st_size <= MAX_FILE_BYTES:
                    data = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ModelFileError(path, "no such file") from None
    except (OSError, ValueError) as e:  # ValueError: a NUL in the name
        problem = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise ModelFileError(path, f"cannot read the file ({problem})") from None
    if kind is not None:
        raise ModelFileError(path, f"is {kind}, not a model file")
    if info.st_size > MAX_FILE_BYTES or len(data) > MAX_FILE_BYTES:
        raise ModelFileError(
            path,
            f"the file is over {MAX_FILE_BYTES // 2**20} MB, larger than any model minidl reads",
        )
    if not data:
        raise ModelFileError(path, "the file is empty")
    return data


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


def _corrupt(path: str | os.PathLike, detail: str, data: bytes = b"") -> ModelFileError:
    # a pickle starts with 0x80 and a torch.save() zip with PK, but so may a safetensors
    # header's length: only a file that is not safetensors is called a pickle
    if data[:1] == b"\x80" or data[:2] == b"PK":
        return ModelFileError(
            path,
            "this looks like a pickle or torch.save() file; minidl reads only .safetensors "
            "model files (pickles can run code, so they are never loaded)",
        )
    return ModelFileError(path, f"not a valid safetensors file (truncated or corrupt?): {detail}")


def _header(path: str | os.PathLike, data: bytes) -> tuple[dict[str, str], dict[str, _TensorEntry]]:
    """The metadata and the tensor table of a safetensors file's bytes, every entry checked."""
    if len(data) < 8:
        raise _corrupt(path, f"{len(data)} bytes, shorter than a safetensors header", data)
    size = int.from_bytes(data[:8], "little")
    if size > MAX_HEADER_BYTES or 8 + size > len(data):
        raise _corrupt(
            path,
            f"its header would be {size:,} bytes, the file has {len(data) - 8:,} after it",
            data,
        )
    try:
        header = json.loads(data[8 : 8 + size].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _corrupt(path, "its header is not JSON", data) from None
    if not isinstance(header, dict):
        raise _corrupt(path, "its header is not a table of tensors")
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise _corrupt(path, "its metadata is not a table of texts")
    room = len(data) - 8 - size
    table = {}
    for name, entry in header.items():
        shape = entry.get("shape") if isinstance(entry, dict) else None
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if not (
            isinstance(entry.get("dtype") if isinstance(entry, dict) else None, str)
            and isinstance(shape, list)
            and len(shape) <= 8
            and all(_is_int(d) and d >= 0 for d in shape)
            and isinstance(offsets, list)
            and len(offsets) == 2
            and all(_is_int(o) for o in offsets)
        ):
            raise _corrupt(
                path, f"the entry of tensor {_short(name)} is not a dtype, shape, offsets"
            )
        begin, end = offsets
        if not 0 <= begin <= end <= room:
            raise _corrupt(
                path, f"tensor {_short(name)} would lie at bytes {begin:,} to {end:,} of {room:,}"
            )
        item = _ITEM_BYTES.get(entry["dtype"])
        if item is not None and end - begin != math.prod(shape) * item:
            raise _corrupt(
                path, f"tensor {_short(name)} of shape {tuple(shape)} takes {end - begin:,} bytes"
            )
        table[name] = _TensorEntry(entry["dtype"], tuple(shape))
    return meta, table


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _architecture_of(path: str | os.PathLike, meta: dict[str, str]) -> Any:
    """The architecture in a minidl file's metadata, parsed (format and version checked)."""
    if meta.get("format") != FORMAT or "architecture" not in meta:
        raise ModelFileError(
            path,
            "a safetensors file, but not a minidl model (its metadata has no minidl "
            "architecture); read its tensors with safetensors.torch.load_file",
        )
    version = meta.get("format_version", "")
    if not re.fullmatch(r"[0-9]{1,9}", version) or int(version) > FORMAT_VERSION:
        raise ModelFileError(
            path,
            f"written in model-file format version {_short(version)}, not one this minidl "
            f"reads (up to version {FORMAT_VERSION}); update minidl",
        )
    try:
        return json.loads(meta["architecture"])  # NaN and inf: refused as settings
    except RecursionError:
        raise ModelFileError(path, "its architecture description is nested too deeply") from None
    except ValueError as e:  # not JSON, or an integer of thousands of digits
        raise ModelFileError(
            path, f"its architecture description is not JSON ({str(e)[:100]})"
        ) from None


def _check_tensors(
    path: str | os.PathLike,
    skeleton: Module,
    table: dict[str, _TensorEntry],
    meta: dict[str, str],
) -> torch.dtype:
    """The weights' dtype, once the file's tensors are the architecture's by name and shape."""
    expected = {name: tuple(t.shape) for name, t in skeleton.state_dict().items()}
    missing = [name for name in expected if name not in table]
    extra = [name for name in table if name not in expected]
    if missing or extra:
        parts = [
            f"missing {_names(missing)}" if missing else "",
            f"unexpected {_names(extra)}" if extra else "",
        ]
        raise ModelFileError(
            path, f"its weights do not fit its architecture ({'; '.join(p for p in parts if p)})"
        )
    for name, shape in expected.items():
        if table[name].shape != shape:
            raise ModelFileError(
                path,
                f"its weights do not fit its architecture: {name} has shape "
                f"{table[name].shape}, the architecture's is {shape}",
            )
    kinds = sorted({entry.dtype for entry in table.values()})
    if len(kinds) > 1:
        raise ModelFileError(path, f"its weights mix dtypes ({', '.join(kinds)}); a model has one")
    if kinds and kinds[0] not in DTYPES:
        raise ModelFileError(
            path, f"its weights are {_short(kinds[0])}; a model's are {' or '.join(DTYPES)}"
        )
    dtype = DTYPES[kinds[0]] if kinds else torch.get_default_dtype()
    declared = meta.get("dtype")
    if kinds and declared is not None and declared != str(dtype):
        raise ModelFileError(
            path, f"its metadata says the weights are {declared[:40]}, they are {dtype}"
        )
    return dtype


def _names(names: list[str]) -> str:
    shown = ", ".join(_short(n, 40) for n in names[:5])
    return shown + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _decode(path: str | os.PathLike, data: bytes) -> dict[str, torch.Tensor]:
    """The file's tensors (their header already checked against the architecture)."""
    from safetensors.torch import load as decode

    try:
        return decode(data)
    except Exception as e:  # noqa: BLE001 - the decoder's verdict on bytes checked above
        detail = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise _corrupt(path, detail[:200]) from None
