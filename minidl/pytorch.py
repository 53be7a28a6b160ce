"""PyTorch code export: a minidl model as a self-contained, readable ``.py`` file.

>>> minidl.pytorch.export(model, "model.py", standardize=scaler, softmax=True)

The file defines the network with ``torch.nn`` (the input features as a small ``Features``
module, the standardisation as ``Standardize``), carries the trained weights as base64 of their
raw float32 bytes (no pickle: only numbers are read back) and, run as
``python model.py X1 X2 [X1 X2 ...]``, prints one prediction per point: the probability of
class 1, each class's probability, or the value. ``from model import build_model`` gives the
trained ``torch.nn.Sequential`` to continue with in PyTorch. Nothing in it imports minidl.

Adding a layer is one entry in ``CODE``: its class and a function from the layer to the
``torch.nn`` expression that builds it.
"""

from __future__ import annotations

import base64
import json
import os
import textwrap
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from . import nn
from .export import (
    ExportError,
    Scaling,
    in_width,
    out_width,
    output_meaning,
    prepare,
    producer,
    with_scaling,
    write_file,
)
from .nn.module import Module

__all__ = ["export", "to_source", "CODE", "ExportError"]

# the torch.nn expression of each layer (``Features``, ``Standardize`` and ``Sine`` are the file's
# own)
CODE: dict[type[Module], Callable[[Any], str]] = {
    nn.Features: lambda layer: "Features()",
    nn.Linear: lambda layer: (
        f"nn.Linear({layer.in_features}, {layer.out_features}"
        + ("" if layer.bias is not None else ", bias=False")
        + ")"
    ),
    nn.ReLU: lambda layer: "nn.ReLU()",
    nn.LeakyReLU: lambda layer: f"nn.LeakyReLU(negative_slope={layer.negative_slope!r})",
    nn.Tanh: lambda layer: "nn.Tanh()",
    nn.Sigmoid: lambda layer: "nn.Sigmoid()",
    nn.ELU: lambda layer: f"nn.ELU(alpha={layer.alpha!r})",
    nn.GELU: lambda layer: "nn.GELU()",  # exact: approximate="none", torch's default
    nn.SiLU: lambda layer: "nn.SiLU()",
    nn.Softplus: lambda layer: f"nn.Softplus(beta={layer.beta!r}, threshold={layer.threshold!r})",
    nn.Sine: lambda layer: "Sine()",  # torch.nn has none: the file defines it (_SINE)
    nn.Softmax: lambda layer: f"nn.Softmax(dim={layer.dim})",
    nn.LogSoftmax: lambda layer: f"nn.LogSoftmax(dim={layer.dim})",
    nn.Dropout: lambda layer: f"nn.Dropout(p={layer.p!r})",  # off in eval mode
    nn.Identity: lambda layer: "nn.Identity()",
}

# each input feature of a point as a torch expression of its columns x1 and x2
FEATURE_CODE: dict[str, str] = {
    "x1": "x1",
    "x2": "x2",
    "x1^2": "x1 * x1",
    "x2^2": "x2 * x2",
    "x1*x2": "x1 * x2",
    "sin(x1)": "torch.sin(x1)",
    "sin(x2)": "torch.sin(x2)",
}

_HEADER = '''\
"""A neural network trained with minidl, as PyTorch code.

Input: raw points ({inputs}). Output: {meaning}.
Network:
    {summary}

Run it:     python {file} {usage}
            (prints one prediction per point, one line each)
Use it:     from {module} import build_model
            model = build_model()  # a torch.nn.Sequential, trained, in eval mode

Written by {producer}. The trained weights are at the end of this file: base64 of their
raw float32 bytes (little-endian), read back as numbers only (no pickle).
"""

from __future__ import annotations

import array
import base64
import sys

import torch
from torch import nn

ABOUT = {about}
'''

_FEATURES = '''

class Features(nn.Module):
    """The input features of a point (x1, x2): {names}."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = x[:, 0], x[:, 1]
        return torch.stack([{columns}], dim=1)
'''

_STANDARDIZE = '''

class Standardize(nn.Module):
    """(features - mean) / std, with the mean and std of the training points."""

    def __init__(self, mean: list[float], std: list[float]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean), persistent=False)
        self.register_buffer("std", torch.tensor(std), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std
'''

_SINE = '''

class Sine(nn.Module):
    """sin(x) elementwise: a periodic activation (torch.nn has no such layer)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(x)
'''

_BODY = '''

def build_model() -> nn.Sequential:
    """The trained network: raw (N, {width_in}) points in, (N, {width_out}) predictions out."""
    model = nn.Sequential(
{layers}
    )
    model.load_state_dict(trained_weights())
    return model.eval()


def trained_weights() -> dict[str, torch.Tensor]:
    """build_model's state_dict, decoded from WEIGHTS below."""
    state = {{}}
    for name, (shape, text) in WEIGHTS.items():
        values = array.array("f", base64.b64decode(text))
        if sys.byteorder == "big":
            values.byteswap()  # stored little-endian
        state[name] = torch.tensor(values.tolist(), dtype=torch.float32).reshape(shape)
    return state


def main(args: list[str]) -> int:
    """Print the prediction for each point given on the command line ({width_in} numbers each)."""
    try:
        numbers = [float(arg) for arg in args]
    except ValueError as e:
        print(f"error: {{e}}", file=sys.stderr)
        return 2
    if not numbers or len(numbers) % {width_in}:
        print(f"usage: python {{sys.argv[0]}} {usage}", file=sys.stderr)
        return 2
    points = torch.tensor(numbers, dtype=torch.float32).reshape(-1, {width_in})
    with torch.no_grad():
        predictions = build_model()(points)
    for row in predictions.tolist():
        print(" ".join(f"{{value:.9g}}" for value in row))
    return 0


# name: (shape, base64 of the float32 values, little-endian, row by row)
WEIGHTS: dict[str, tuple[tuple[int, ...], str]] = {{
{weights}
}}

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
'''


def _encoded(tensor: torch.Tensor) -> str:
    data = tensor.detach().cpu().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
    return base64.b64encode(data).decode("ascii")


def _weights_entry(name: str, tensor: torch.Tensor) -> str:
    lines = textwrap.wrap(_encoded(tensor), 84) or [""]
    text = (
        f'"{lines[0]}"'
        if len(lines) == 1
        else "(\n" + "\n".join(f'            "{line}"' for line in lines) + "\n        )"
    )
    return f'    "{name}": (\n        {tuple(tensor.shape)!r},\n        {text},\n    ),'


def to_source(
    model: Module,
    *,
    standardize: Any = None,
    softmax: bool = False,
    metadata: dict[str, str] | None = None,
    filename: str = "model.py",
) -> str:
    """The ``.py`` file's text for ``model`` (arguments as ``export``'s; ``filename`` is the
    name its docstring tells you to run)."""
    chain, scaling = prepare(model, CODE, "PyTorch code", standardize)
    width_in = in_width(chain) or 2
    expressions: list[str] = []  # the torch.nn.Sequential's entries, in order
    names: list[str] = []
    weights: list[str] = []
    for _, step in with_scaling(chain, scaling):
        if isinstance(step, Scaling):
            expressions.append(_standardize_code(step))
            names.append("Standardize")
            continue
        index = len(expressions)  # the layer's index in the torch.nn.Sequential
        weights += [_weights_entry(f"{index}.{k}", v) for k, v in step.state_dict().items()]
        expressions.append(CODE[type(step)](step))
        names.append(_summary_name(step))
    if softmax:
        expressions.append(
            "# cross-entropy's softmax, which the loss applied in training\n"
            "        nn.Softmax(dim=1)"
        )
        names.append("Softmax")
    usage = "X1 X2 [X1 X2 ...]" if width_in == 2 else f"[{width_in} numbers per point ...]"
    if not filename.isprintable() or any(c in filename for c in "\"\\"):
        filename = "model.py"  # it goes into the docstring, which it must not end
    stem = filename[:-3] if filename.endswith(".py") else filename
    source = _HEADER.format(
        inputs="x1, x2" if width_in == 2 else f"{width_in} numbers",
        meaning=output_meaning(chain, softmax),
        summary="\n    ".join(textwrap.wrap(" -> ".join(names), 88)),
        file=filename,
        module=stem if stem.isidentifier() else "model",
        usage=usage,
        producer=producer(),
        # JSON of strings is a Python literal too: the metadata cannot break out of it
        about=json.dumps(
            {str(k): str(v) for k, v in (metadata or {}).items()}, indent=4, ensure_ascii=False
        ),
    )
    features = next((layer for _, layer in chain if isinstance(layer, nn.Features)), None)
    if features is not None:
        source += _FEATURES.format(
            names=", ".join(features.features),
            columns=", ".join(FEATURE_CODE[f] for f in features.features),
        )
    if scaling is not None:
        source += _STANDARDIZE
    if any(isinstance(layer, nn.Sine) for _, layer in chain):
        source += _SINE
    source += _BODY.format(
        width_in=width_in,
        width_out=out_width(chain) or width_in,
        usage=usage,
        layers="\n".join(f"        {e}," for e in expressions),
        weights="\n".join(weights),
    )
    return source


def _standardize_code(scaling: Scaling) -> str:
    # float32's shortest decimal: the numbers read back exactly, and a learner can read them
    def floats(key: str, values: list[float]) -> str:
        text = ", ".join(str(np.float32(v)) for v in values)
        indent = " " * (12 + len(key) + 2)
        lines = textwrap.wrap(text, 96 - len(indent))
        return f"{key}=[" + f"\n{indent}".join(lines) + "]"

    return (
        f"Standardize(\n            {floats('mean', scaling.mean)},\n"
        f"            {floats('std', scaling.std)},\n        )"
    )


def _summary_name(layer: Module) -> str:
    if isinstance(layer, nn.Features):
        return f"Features({', '.join(layer.features)})"
    if isinstance(layer, nn.Linear):
        return f"Linear({layer.in_features}, {layer.out_features})"
    return type(layer).__name__


def export(
    model: Module,
    path: str | os.PathLike,
    *,
    standardize: Any = None,
    softmax: bool = False,
    metadata: dict[str, str] | None = None,
) -> None:
    """Write the model as a runnable PyTorch ``.py`` file at ``path``, atomically.

    ``standardize`` (a fitted ``minidl.data.Standardizer`` or a ``(mean, std)`` pair) scales
    the features after a leading ``nn.Features`` layer (else at the input), as in training;
    ``softmax=True`` ends the network with a softmax, for a cross-entropy model; ``metadata``
    becomes the file's ``ABOUT`` dict. Raises ExportError naming a layer it cannot write,
    ModelFileError when the file cannot be written.
    """
    source = to_source(
        model,
        standardize=standardize,
        softmax=softmax,
        metadata=metadata,
        filename=os.path.basename(os.fspath(path)),
    )
    write_file(path, source.encode("utf-8"))
