"""What the exporters (``minidl.onnx``, ``minidl.pytorch``) share: the chain of layers they
write, the input scaling, what the output means, and the one error they raise.

An exporter is a table from layer class to a small function that writes that layer (ONNX nodes,
or a line of PyTorch code). ``layer_chain`` flattens nested Sequentials into that chain and
names the first layer the table has no entry for, so an unsupported model is refused before any
file is touched.
"""

from __future__ import annotations

import os
from collections.abc import Container, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from . import nn
from .io import ModelFileError, atomic_write
from .nn.module import Module

__all__ = [
    "ExportError",
    "Scaling",
    "scaling_of",
    "layer_chain",
    "in_width",
    "feature_width",
    "out_width",
    "check_scaling",
    "with_scaling",
    "output_meaning",
    "prepare",
    "write_file",
    "producer",
]


class ExportError(ValueError):
    """A model an exporter cannot write (a layer it has no translation for, a bad scaling, a
    missing optional package); the message names the layer or the problem."""


class Scaling:
    """Standardisation of the features: ``(f - mean) / std``, per column, as plain floats."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        self.mean = [float(m) for m in mean]
        self.std = [float(s) for s in std]
        if len(self.mean) != len(self.std) or not self.mean:
            raise ExportError(
                f"standardize: mean and std need one value per feature, "
                f"got {len(self.mean)} and {len(self.std)}"
            )
        if not all(s > 0 for s in self.std):
            raise ExportError(f"standardize: every std must be positive, got {self.std}")


def scaling_of(standardize: Any) -> Scaling | None:
    """A Scaling from ``None``, a fitted ``minidl.data.Standardizer`` or a ``(mean, std)`` pair."""
    if standardize is None or isinstance(standardize, Scaling):
        return standardize
    if hasattr(standardize, "mean") and hasattr(standardize, "std"):
        mean, std = standardize.mean, standardize.std
    else:
        try:
            mean, std = standardize
        except (TypeError, ValueError):
            raise ExportError(
                f"standardize must be a Standardizer or a (mean, std) pair, got {standardize!r}"
            ) from None
    if mean is None or std is None:
        raise ExportError("standardize: the Standardizer is not fitted")

    def floats(values: Any) -> list[float]:
        if isinstance(values, torch.Tensor):
            return values.detach().double().reshape(-1).tolist()
        return [float(v) for v in values]

    return Scaling(floats(mean), floats(std))


def _flatten(model: Module, prefix: str = "") -> Iterator[tuple[str, Module]]:
    if isinstance(model, nn.Sequential):
        for name, child in model.named_children():
            yield from _flatten(child, f"{prefix}{name}.")
    else:
        yield prefix.rstrip(".") or type(model).__name__, model


def layer_chain(model: Module, supported: Container[type], target: str) -> list[tuple[str, Module]]:
    """The model's layers in order as (state_dict prefix, layer), nested Sequentials flattened.

    Raises ExportError naming the first layer whose class is not in ``supported`` (``target``
    says what the export writes, e.g. "ONNX"), and for a model that is not a minidl Module.
    """
    if not isinstance(model, Module):
        raise ExportError(f"cannot export a {type(model).__name__}: expected a minidl Module")
    if isinstance(model, nn.Stacked):
        raise ExportError(
            f"cannot export {model.models} stacked models as one {target} model: export "
            "each of model.unstack() (or the one you chose)"
        )
    chain = list(_flatten(model))
    for name, layer in chain:
        if type(layer) not in supported:
            known = ", ".join(sorted(cls.__name__ for cls in supported))  # type: ignore[attr-defined]
            raise ExportError(
                f"layer {name} ({type(layer).__name__}) cannot be exported to {target}; "
                f"the layers it writes are {known}"
            )
    return chain


def in_width(chain: Sequence[tuple[str, Module]]) -> int | None:
    """How many columns the chain's input has: 2 points for Features, else the first Linear's
    inputs (None if no layer fixes it)."""
    for _, layer in chain:
        if isinstance(layer, nn.Features):
            return 2
        if isinstance(layer, nn.Linear):
            return layer.in_features
    return None


def feature_width(chain: Sequence[tuple[str, Module]]) -> int | None:
    """How many columns the standardisation sees: the features, or the network's input."""
    if chain and isinstance(chain[0][1], nn.Features):
        return len(chain[0][1].features)
    return in_width(chain)


def out_width(chain: Sequence[tuple[str, Module]]) -> int | None:
    """How many columns the chain's output has (the last Linear's units, or the features)."""
    width = None
    for _, layer in chain:
        if isinstance(layer, nn.Linear):
            width = layer.out_features
        elif isinstance(layer, nn.Features):
            width = len(layer.features)
    return width


def check_scaling(chain: Sequence[tuple[str, Module]], scaling: Scaling | None) -> None:
    """Raise ExportError unless the scaling has one (mean, std) per column it scales."""
    width = feature_width(chain)
    if scaling is not None and width is not None and len(scaling.mean) != width:
        raise ExportError(
            f"standardize has {len(scaling.mean)} columns but the model's first layer takes {width}"
        )


def with_scaling(
    chain: Sequence[tuple[str, Module]], scaling: Scaling | None
) -> list[tuple[str, Module | Scaling]]:
    """The chain with the standardisation as a step of its own ("standardize"), after a leading
    Features layer (the features are what the network was trained on scaled), else first."""
    steps: list[tuple[str, Module | Scaling]] = list(chain)
    if scaling is not None:
        at = 1 if chain and isinstance(chain[0][1], nn.Features) else 0
        steps.insert(at, ("standardize", scaling))
    return steps


def output_meaning(chain: Sequence[tuple[str, Module]], softmax: bool) -> str:
    """What one row of the exported model's output is, in words (for docstrings and files)."""
    last = chain[-1][1] if chain else None
    if softmax or isinstance(last, nn.Softmax):
        return "the probability of each class"
    if isinstance(last, nn.Sigmoid) and out_width(chain) == 1:
        return "the probability of class 1"
    return "the model's output"


def producer() -> str:
    """Who wrote an exported file: ``minidl <version>``."""
    from . import __version__

    return f"minidl {__version__}"


def prepare(
    model: Module, supported: Container[type], target: str, standardize: Any
) -> tuple[list[tuple[str, Module]], Scaling | None]:
    """The model's layer chain and its scaling, checked: ExportError names what cannot go."""
    chain = layer_chain(model, supported, target)
    scaling = scaling_of(standardize)
    check_scaling(chain, scaling)
    return chain, scaling


def write_file(path: str | os.PathLike, data: bytes) -> None:
    """Write an exported file atomically (the old file stays on failure); ModelFileError
    naming the file when it cannot be written."""
    try:
        with atomic_write(path, suffix=Path(path).suffix or ".tmp") as tmp:
            tmp.write_bytes(data)
    except OSError as e:
        raise ModelFileError(path, f"cannot write the file ({e.strerror or e})") from None
